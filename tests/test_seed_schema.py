"""schemas/seed.schema.json describes the seed files the fake loads: what dump_seed writes validates,
and what the model refuses, the schema refuses too."""
from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from golden_replay import PROFILES, load

from pytest_dockerimages._core.defaults import default_images
from pytest_dockerimages._files.resources import data_dir
from pytest_dockerimages._files.seed import dump_seed

SCHEMA = json.loads((data_dir("schemas") / "seed.schema.json").read_text())


def test_the_schema_is_valid() -> None:
    jsonschema.Draft7Validator.check_schema(SCHEMA)


def test_dumped_seeds_validate(tmp_path: Path) -> None:
    path = dump_seed(default_images(), tmp_path / "seed.yaml", profile="docker-26.1")
    jsonschema.validate(yaml.safe_load(path.read_text()), SCHEMA)


@pytest.mark.parametrize("profile", PROFILES)
def test_golden_seeds_validate(profile: str) -> None:
    jsonschema.validate(load(profile)["seed"], SCHEMA)


@pytest.mark.parametrize("document", [
    {"images": [{"tagz": []}]},
    {"images": [{"id": "abc"}]},
    {"images": [{"size": -1}]},
    {"images": [{"labels": {"a": 1}}]},
    {"images": [{"manifests": [{"kind": "weird"}]}]},
    {"images": [{"history": [{"size": -1}]}]},
    {"images": [{"history": [{"created_by": "x", "when": 1}]}]},
    {"images": [{"manifests": [{"presence": "gone"}]}]},
    {"images": [{"manifests": [{"history": [{"size": -1}]}]}]},
    {"images": [{"manifests": [{"diff_ids": ["abc"]}]}]},
    {"version": 2, "images": []},
    {"imagez": []},
])
def test_invalid_seeds_are_refused(document: dict[str, object]) -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, SCHEMA)


def test_a_seed_with_history_validates(tmp_path: Path) -> None:
    from pytest_dockerimages._core.model import Image

    image = Image(tags=["x:1"], history=[{"created": 1700000000, "created_by": "RUN x", "comment": "c", "size": 3}])
    path = dump_seed([image], tmp_path / "seed.yaml")
    jsonschema.validate(yaml.safe_load(path.read_text()), SCHEMA)
    assert yaml.safe_load(path.read_text())["images"][0]["history"][0]["created_by"] == "RUN x"


def test_a_seed_with_a_platforms_history_validates(tmp_path: Path) -> None:
    from pytest_dockerimages._core.model import Image

    arm64 = {"platform": {"architecture": "arm64", "os": "linux"}, "presence": "config",
             "history": [{"created": 1714979289, "created_by": "add /arch", "size": 0}], "diff_ids": ["sha256:" + "f" * 64]}
    path = dump_seed([Image(tags=["x:1"], manifests=[{}, arm64])], tmp_path / "seed.yaml")
    jsonschema.validate(yaml.safe_load(path.read_text()), SCHEMA)
    assert yaml.safe_load(path.read_text())["images"][0]["manifests"][1]["presence"] == "config"
