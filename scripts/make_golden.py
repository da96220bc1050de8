"""Turn captured real-daemon responses into the golden files the test suite replays through the model.

    python scripts/make_golden.py SAMPLES_DIR tests/golden

SAMPLES_DIR holds one folder per daemon with `index.json` (request path, status, headers) and the raw
bodies. For each daemon this writes `<profile>.json`: a seed (the image set, rebuilt from the daemon's
own all=1 listing with shared sizes) and every interaction (request, status, headers, body).
Run once per new capture; the output is committed, so the tests never need the capture folder.
The captures of Docker 28.1, 28.5 and 29.7 came from the project's own real daemons, seeded with
`seed_image_set` (pytest_dockerimages/_real/harness.py); the registry's random port becomes 5000.
"""
from __future__ import annotations

import argparse
import email.utils
import json
import re
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from pytest_dockerimages._core.listed import manifest_entry  # noqa: E402

DAEMONS = {
    "docker-20.10-graphdriver": "docker-20.10",
    "docker-26.1-graphdriver": "docker-26.1",
    "docker-26.1-containerd-store": "docker-26.1-containerd",
    "docker-28.1-graphdriver": "docker-28.1",
    "docker-28.1-containerd-store": "docker-28.1-containerd",
    "docker-28.5-graphdriver": "docker-28.5",
    "docker-28.5-containerd-store": "docker-28.5-containerd",
    "docker-29.7-graphdriver": "docker-29.7",
    "docker-29.7-containerd-store": "docker-29.7-containerd",
}
KEPT_HEADERS = ("Api-Version", "Content-Type", "Docker-Experimental", "Ostype", "Server", "X-Content-Type-Options",
                "Transfer-Encoding")


def _layer_digest(image_id: str, n: int) -> str:
    return "sha256:" + image_id[7 + 8:] + f"{n:08x}"


def _listing(folder: Path, index: list[dict[str, Any]], query: dict[str, list[str]]) -> list[dict[str, Any]]:
    for entry in index:
        if entry["decoded_query"] == query and entry["path"].startswith("/images/json"):
            return json.loads((folder / entry["file"]).read_text())
    raise SystemExit(f"{folder}: no capture of /images/json with {query}")


def build_seed(folder: Path, index: list[dict[str, Any]], containerd: bool) -> list[dict[str, Any]]:
    listing = _listing(folder, index, {"all": ["1"], "shared-size": ["1"]})
    by_id = {s["Id"]: s for s in listing}
    layers: dict[str, list[dict[str, Any]]] = {}

    def layers_of(image_id: str) -> list[dict[str, Any]]:
        if image_id in layers:
            return layers[image_id]
        s = by_id[image_id]
        parent = s["ParentId"] if s["ParentId"] in by_id else ""
        if containerd:
            # containerd Size is content + snapshot, unrelated to layers: rebuild the snapshot chain from
            # SharedSize (a build step that adds no layer keeps its parent's shared size).
            own = {"digest": _layer_digest(image_id, 1), "size": 4096}
            if parent:
                base = layers_of(parent)
                grow = s["SharedSize"] - by_id[parent]["SharedSize"]
                result = base + ([{"digest": _layer_digest(image_id, 1), "size": grow}] if grow > 0 else [])
            elif "example/loaded:app" in (s["RepoTags"] or []):
                # `docker load` ignores the Parent on this store, but the layer is still shared with base
                base_id = next(i for i, o in by_id.items() if "example/loaded:base" in (o["RepoTags"] or []))
                result = layers_of(base_id) + [own]
            else:
                result = [{"digest": _layer_digest(image_id, 1), "size": s["SharedSize"] or 4096}]
        else:
            if parent:
                base = layers_of(parent)
                grow = s["Size"] - by_id[parent]["Size"]
                result = base + ([{"digest": _layer_digest(image_id, 1), "size": grow}] if grow > 0 else [])
            else:
                result = [{"digest": _layer_digest(image_id, 1), "size": s["Size"]}]
        layers[image_id] = result
        return result

    manifests: dict[str, list[dict[str, Any]]] = {}
    if containerd:  # what a manifests=1 listing shows of each image, as a snapshot keeps it
        with_manifests = _listing(folder, index, {"manifests": ["1"]})
        manifests = {s["Id"]: [manifest_entry(m) for m in s.get("Manifests") or ()] for s in with_manifests}
    seed = []
    for s in listing:
        tags = [t for t in (s["RepoTags"] or []) if t != "<none>:<none>" and "@" not in t]
        if containerd:
            digests = [t for t in (s["RepoTags"] or []) if "@" in t]
        else:
            digests = [d for d in (s["RepoDigests"] or []) if d != "<none>@<none>"]
        image: dict[str, Any] = {"id": s["Id"], "created": s["Created"], "labels": s["Labels"]}
        if tags:
            image["tags"] = tags
        if digests:
            image["digests"] = digests
        if s["ParentId"]:
            image["parent"] = s["ParentId"]
        image["size"] = s["Size"]
        image["layers"] = layers_of(s["Id"])
        if containerd and "Descriptor" in s:  # API 1.48+: the daemon's own (a loaded image's is Docker v2)
            image["descriptor"] = s["Descriptor"]
        if manifests.get(s["Id"]):
            image["manifests"] = manifests[s["Id"]]
        seed.append(image)
    return seed


def build(folder: Path, profile: str) -> dict[str, Any]:
    index = json.loads((folder / "index.json").read_text())
    interactions = []
    for entry in index:
        body = (folder / entry["file"]).read_bytes().decode()
        date = email.utils.parsedate_to_datetime(entry["headers"]["Date"])
        headers = {k: v for k, v in entry["headers"].items() if k in KEPT_HEADERS}
        interactions.append({"name": entry["file"], "method": entry["method"], "path": entry["path"],
                             "status": entry["status"], "headers": headers, "body": body,
                             "now": int(date.timestamp())})
    return {"profile": profile, "source": folder.name,
            "seed": {"version": 1, "profile": profile, "images": build_seed(folder, index, "containerd" in profile)},
            "interactions": interactions}


def _fixed_registry_port(text: str) -> str:
    """The seed's registry listens on a random loopback port; the golden files name port 5000.

    Only the port changes, so tags keep the order the daemon sorted them in."""
    return re.sub(r"127\.0\.0\.1(:|%3A)[0-9]+", lambda m: f"127.0.0.1{m.group(1)}5000", text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("samples", type=Path)
    parser.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for folder_name, profile in DAEMONS.items():
        folder = args.samples / folder_name
        if not (folder / "index.json").exists():
            print(f"skipping {folder}: no index.json", file=sys.stderr)
            continue
        document = build(folder, profile)
        text = _fixed_registry_port(json.dumps(document, indent=1) + "\n")
        (args.out / f"{profile}.json").write_text(text)
        print(f"{profile}: {len(document['seed']['images'])} images, {len(document['interactions'])} interactions")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
