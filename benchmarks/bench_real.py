"""1. The fake against the real dockerd it stands in for, on the same image set and requests.

A private `docker-26.1` daemon (`dockerimages_real_daemon_factory`) gets the project's seeded
image set plus generated `docker load` archives (fixed ids, tags, labels, parent chains,
untagged and dangling images) until it holds about 1,000 images; `take_snapshot` turns it into a
seed, which a `FakeDaemon` serves with the detected profile. One keep-alive http.client client
per daemon, over its unix socket, then asks both the same requests (plain, all=1, each filter
kind) in interleaved rounds.
"""
from __future__ import annotations

import json
import os
import time
from datetime import datetime, timezone

from common import Check, KeepAliveClient, Result, fmt_s, inner_for, interleaved

from pytest_dockerimages._fake.fakedaemon import FakeDaemon
from pytest_dockerimages._http.unixhttp import connection_for
from pytest_dockerimages._real import imagetar
from pytest_dockerimages._real.harness import MissingDaemonError, dockerimages_real_daemon_factory
from pytest_dockerimages._real.snapshot import take_snapshot

VARIANT = "docker-26.1"
EPOCH = 1_577_836_800  # 2020-01-01T00:00:00Z


def _rfc3339(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def image_specs(n: int) -> list[imagetar.ImageSpec]:
    """`n` images for `docker load`: per 10, 6 tagged (some twice), 2 tagged children of the
    previous tagged image, 1 untagged child (an intermediate: all=1 only), 1 dangling."""
    specs: list[imagetar.ImageSpec] = []
    last_tag = None
    for i in range(n):
        kind = i % 10
        repo = f"bench/svc{i % 97}"
        labels = None if i % 13 == 0 else {"org.example.team": f"team{i % 5}", "tier": ("app", "base")[i % 2]}
        tags: tuple[str, ...] = (f"{repo}:v{i}",)
        if kind in (0, 3):
            tags += (f"{repo}:v{i}-extra",)
        parent = None
        if kind in (6, 7, 8):
            parent = last_tag
            if kind == 8:
                tags = ()
        elif kind == 9:
            tags = ()
        specs.append(imagetar.ImageSpec(tags=tags, files=((f"file{i}", f"{i}\n".encode()),),
                                        created=_rfc3339(EPOCH + i * 37), created_by=f"bench: add /file{i}",
                                        labels=labels, parent=parent))
        if tags and parent is None:
            last_tag = tags[0]
    return specs


def docker_load(docker_host: str, api: str, archive: bytes) -> None:
    """POST /images/load over the daemon's socket (no CLI needed); raise on an error message."""
    conn = connection_for(docker_host, timeout=600)
    try:
        conn.request("POST", f"/v{api}/images/load?quiet=1", body=archive,
                     headers={"Content-Type": "application/x-tar"})
        response = conn.getresponse()
        text = response.read().decode("utf-8", "replace")
    finally:
        conn.close()
    if response.status != 200 or '"error' in text:
        raise RuntimeError(f"docker load answered {response.status}: {text[:500]}")


def requests_for(api: str, images: list) -> dict[str, str]:
    """The same requests for both daemons: plain, all=1 and one per filter kind."""
    tagged = sorted((i for i in images if i.tags and i.created_ns), key=lambda i: i.created_ns)
    middle, late = tagged[len(tagged) // 2].tags[0].familiar, tagged[(len(tagged) * 3) // 4].tags[0].familiar

    def filters(**values: list[str]) -> str:
        return "filters=" + json.dumps({k: {v: True for v in vs} for k, vs in values.items()},
                                       separators=(",", ":")).replace('"', "%22").replace("{", "%7B") \
            .replace("}", "%7D").replace(":", "%3A").replace(",", "%2C").replace("=", "%3D").replace("*", "%2A")
    base = f"/v{api}/images/json"
    return {
        "plain": base,
        "all=1": f"{base}?all=1",
        "dangling=true": f"{base}?{filters(dangling=['true'])}",
        "label=tier=app": f"{base}?{filters(label=['tier=app'])}",
        "reference=bench/svc1*": f"{base}?{filters(reference=['bench/svc1*'])}",
        f"before={middle}": f"{base}?{filters(before=[middle])}",
        f"since={late}": f"{base}?{filters(since=[late])}",
        "until=2020-01-05": f"{base}?{filters(until=['2020-01-05T00:00:00Z'])}",
    }


def run(quick: bool) -> Result:
    title = "1. Fake vs real dockerd (docker-26.1): same images, same requests, keep-alive unix socket"
    generated = 20 if quick else 990
    rounds = 3 if quick else 9
    result = Result(title, ["request", "images listed", "real dockerd", "fake", "fake / real", "same body"])
    t0 = time.perf_counter()
    try:
        # quick: no registry or CLI seeding, only the generated archive (a few seconds)
        factory = dockerimages_real_daemon_factory(VARIANT, seed=not quick)
        daemon = factory.__enter__()
    except MissingDaemonError as exc:
        if os.environ.get("CI"):
            raise
        return Result(title, [], skipped=str(exc))
    try:
        api = daemon.version.get("ApiVersion", "1.45")
        docker_load(daemon.docker_host, api, imagetar.build_archive(image_specs(generated)))
        setup = time.perf_counter() - t0
        snapshot = take_snapshot(daemon.docker_host)
        images = list(snapshot.seed.images)
        with FakeDaemon(images=images, profile=snapshot.seed.profile) as fake, \
                KeepAliveClient(daemon.docker_host) as real_client, KeepAliveClient(fake.docker_host) as fake_client:
            worst = 0.0
            for name, path in requests_for(snapshot.api_version, images).items():
                real_status, real_body = real_client.get(path)
                fake_status, fake_body = fake_client.get(path)
                assert real_status == fake_status == 200, (name, real_status, fake_status, real_body[:200])
                listed = len(json.loads(fake_body))
                inner = inner_for(lambda: real_client.fetch(path), budget=0.1, cap=100)
                times = interleaved({"real": lambda: real_client.fetch(path), "fake": lambda: fake_client.fetch(path)},
                                    rounds=rounds, inner=inner)
                ratio = times["fake"] / times["real"]
                worst = max(worst, ratio)
                real_doc, fake_doc = json.loads(real_body), json.loads(fake_body)
                same = "yes" if real_doc == fake_doc else (
                    "same summaries, order differs" if sorted(real_doc, key=lambda d: d["Id"]) ==
                    sorted(fake_doc, key=lambda d: d["Id"]) else "no")
                result.rows.append([name, f"{listed:,}", fmt_s(times["real"]), fmt_s(times["fake"]),
                                    f"{ratio:.2f}x", same])
        result.notes.append(f"{len(images):,} images in the daemon ({generated} generated + the seeded set), "
                            f"profile detected: {snapshot.seed.profile}, API {snapshot.api_version}; "
                            f"start, seed and load took {setup:.1f} s")
        result.notes.append("same body: the parsed bodies are equal. Images created in the same second may come in "
                            "another order: dockerd sorts by Created seconds with Go's unstable sort, the fake "
                            "breaks such ties by id")
        if not quick:
            result.checks.append(Check("fake / real median latency, worst request", worst, 0.5))
    finally:
        factory.__exit__(None, None, None)
    return result
