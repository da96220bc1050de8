"""What a user who installed the wheel reads: how to install it with its extras, every seed field
with a real example, and the seed schema from the installed package (`dockerimages schema seed`)."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import jsonschema
import pytest
import yaml

from pytest_dockerimages import FakeDaemon, assert_valid_images_json
from pytest_dockerimages._core.wire import Request
from pytest_dockerimages._files.resources import data_dir
from pytest_dockerimages._files.seed import parse_seed

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
SCHEMA = json.loads((data_dir("schemas") / "seed.schema.json").read_text())


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest_dockerimages", *args], capture_output=True, text=True,
                          timeout=60)


def seed_example() -> str:
    found = re.search(r"^### Seed files\n.*?^```yaml\n(.*?)^```", README, re.M | re.S)
    assert found, "README has no yaml example under 'Seed files'"
    return found.group(1)


def properties(schema: dict[str, Any]) -> Iterator[tuple[str, set[str]]]:
    """(where, property names) of every object the seed schema defines."""
    yield "seed", set(schema["properties"])
    image = schema["definitions"]["image"]
    yield "image", set(image["properties"])
    yield "layer", set(image["properties"]["layers"]["items"]["properties"])
    yield "manifest", set(schema["definitions"]["manifest"]["properties"])


def used(document: dict[str, Any]) -> dict[str, set[str]]:
    images = document["images"]
    return {"seed": set(document), "image": {k for image in images for k in image},
            "layer": {k for image in images for layer in image.get("layers", []) for k in layer},
            "manifest": {k for image in images for m in image.get("manifests", []) for k in m}}


def test_the_seed_example_shows_every_field_unabbreviated() -> None:
    text = seed_example()
    assert "..." not in text and "<" not in text, "the example must be real values, not an outline"
    document = yaml.safe_load(text)
    jsonschema.validate(document, SCHEMA)
    parse_seed(document, "README.md")  # the model takes it, too
    shown = used(document)
    for where, names in properties(SCHEMA):
        assert names <= shown[where], f"README's seed example lacks {where} field(s) {sorted(names - shown[where])}"
    for digest in re.findall(r"sha256:([0-9a-f]+)", text):
        assert len(digest) == 64, digest


def test_the_fake_serves_the_seed_example(tmp_path: Path) -> None:
    seed = tmp_path / "seed.yaml"
    seed.write_text(seed_example())
    with FakeDaemon(seed=seed, profile="docker-29.7-containerd") as fake:
        listing = fake.server.backend.handle(Request("GET", "/v1.54/images/json?manifests=1&identity=1"))
    assert listing.status == 200, listing.body
    assert_valid_images_json(listing.body, "1.54", query="manifests=1&identity=1", profile="docker-29.7-containerd")
    built = next(doc for doc in json.loads(listing.body) if "example/built:1" in doc["RepoTags"])
    assert built["Manifests"][0]["ImageData"]["Identity"] == {
        "Pull": [{"Repository": "registry.example:5000/example/built"}]}


def test_dockerimages_schema_seed_prints_the_shipped_schema() -> None:
    done = cli("schema", "seed")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == SCHEMA
    assert "dockerimages schema seed" in README


@pytest.mark.parametrize(("args", "code", "text"), [
    (("schema", "images-json", "--api", "1.45"), 0, '"RepoTags"'),
    (("schema", "image-inspect", "--api", "1.49", "--strict"), 0, '"RootFS"'),
    (("schema", "images-json"), 2, "--api"),
    (("schema", "images-json", "--api", "1.99"), 2, "1.24 to"),
    (("schema", "nonsense"), 2, "invalid choice"),
])
def test_dockerimages_schema_of_bodies(args: tuple[str, ...], code: int, text: str) -> None:
    done = cli(*args)
    assert done.returncode == code, done.stderr
    assert text in (done.stdout if code == 0 else done.stderr) and "Traceback" not in done.stderr


def test_readme_shows_a_downstream_install_with_every_extra() -> None:
    tomllib = pytest.importorskip("tomllib", reason="needs Python 3.11+ to read pyproject.toml")
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    install = re.search(r"^## Install it in your project\n(.*?)^## ", README, re.M | re.S)
    assert install, "README has no 'Install it in your project' section"
    section = install.group(1)
    assert re.search(r'pip install "pytest-dockerimages\[\w+\]"', section) and "pip install -e" not in section
    for extra in set(extras) - {"test", "lint"}:
        assert f"pytest-dockerimages[{extra}]" in section, f"README does not say what the {extra} extra is for"
