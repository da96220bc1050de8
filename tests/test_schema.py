"""Tests of the shipped JSON Schemas and of pytest_dockerimages._files.schema.

Everything here runs from the repository alone. The two tests that compare against the swagger files
or real daemon captures look for them in ../shared beside the repository and skip when it is absent.
"""
from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from requires import require_module

from pytest_dockerimages._files import schema
from pytest_dockerimages._files.resources import data_dir

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"
SWAGGER_DIR = SHARED / "docker-api"
SAMPLES_DIR = SHARED / "reference" / "daemon-samples"

SCHEMA_DIR = data_dir("schemas")
VERSIONS = [f"1.{minor}" for minor in range(24, 57)]
KINDS = ["images-json", "image-inspect"]
BOTH = pytest.mark.parametrize("strict", [False, True], ids=["open", "strict"])

ID_A = "sha256:48864f46a27e1d2b6f7a4d5c9ba9ef6fd6f8f4f0a5cb9e4b0e3a7a1f9e9c2b10"
ID_B = "sha256:2eb5098f1a0e5d3b7c9e8f6a4b2c0d1e3f5a7b9c8d6e4f2a0b1c3d5e7f9a8b6c"
DIGEST = "sha256:afcc7f1ac1b49db317a7196c902e61c6c3c4607d63599ee1a82d702d249a0ccb"


def summary_1_41() -> list[dict[str, Any]]:
    """What Docker 20.10 (API 1.41) sends: null Labels and RepoDigests, <none> placeholders."""
    return [
        {"Containers": -1, "Created": 0, "Id": ID_A, "Labels": None, "ParentId": "",
         "RepoDigests": None, "RepoTags": ["example/epoch:0", "localhost:5000/epoch:v1"],
         "SharedSize": -1, "Size": 2, "VirtualSize": 2},
        {"Containers": -1, "Created": 1704164645, "Id": ID_B, "Labels": {"a": "b", "tier": "app"},
         "ParentId": ID_A, "RepoDigests": ["<none>@<none>"], "RepoTags": ["<none>:<none>"],
         "SharedSize": -1, "Size": 4096, "VirtualSize": 4096},
        {"Containers": -1, "Created": 1700000000, "Id": ID_B, "Labels": {}, "ParentId": "",
         "RepoDigests": [f"localhost:5000/example/epoch@{DIGEST}"], "RepoTags": None,
         "SharedSize": -1, "Size": 2, "VirtualSize": 2},
    ]


def summary_1_45() -> list[dict[str, Any]]:
    """What Docker 26.1 (API 1.45) sends: empty lists instead of null, no VirtualSize."""
    return [
        {"Containers": -1, "Created": 1700000000, "Id": ID_A, "Labels": None, "ParentId": "",
         "RepoDigests": [], "RepoTags": ["example/loaded:base"], "SharedSize": -1, "Size": 2},
        {"Containers": -1, "Created": 1704164645, "Id": ID_B, "Labels": {"org.example.kind": "loaded"},
         "ParentId": ID_A, "RepoDigests": [f"localhost:5000/example/loaded@{DIGEST}"], "RepoTags": [],
         "SharedSize": 0, "Size": 4096},
    ]


def descriptor(platform: bool) -> dict[str, Any]:
    """An OCI descriptor; `platform` is only defined from API 1.48 on."""
    value: dict[str, Any] = {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": DIGEST,
                             "size": 1609}
    if platform:
        value["platform"] = {"architecture": "amd64", "os": "linux"}
    return value


def manifest(platform: bool) -> dict[str, Any]:
    """One ImageManifestSummary as the containerd store sends it with manifests=1."""
    return {"ID": DIGEST, "Descriptor": descriptor(platform), "Available": True,
            "Size": {"Content": 1024, "Total": 4096}, "Kind": "image",
            "ImageData": {"Platform": {"architecture": "amd64", "os": "linux"}, "Containers": None,
                          "Size": {"Unpacked": 3072}}}


def summary_containerd(platform: bool = True) -> list[dict[str, Any]]:
    """A containerd-store summary with Descriptor and Manifests (API >= 1.48 shape)."""
    item = summary_1_45()[1]
    item["Descriptor"] = descriptor(platform)
    item["Manifests"] = [manifest(platform)]
    return [item]


def inspect_1_41() -> dict[str, Any]:
    """Image inspect from Docker 20.10 on vfs: Go nil slices and maps arrive as null."""
    config = {"Hostname": "", "Domainname": "", "User": "", "AttachStdin": False, "AttachStdout": False,
              "AttachStderr": False, "Tty": False, "OpenStdin": False, "StdinOnce": False, "Env": None,
              "Cmd": None, "Image": "", "Volumes": None, "WorkingDir": "", "Entrypoint": None,
              "OnBuild": None, "Labels": None}
    return {"Id": ID_A, "RepoTags": ["example/epoch:0"], "RepoDigests": [], "Parent": "", "Comment": "",
            "Created": "1970-01-01T00:00:00Z", "Container": "", "ContainerConfig": dict(config),
            "DockerVersion": "", "Author": "", "Config": dict(config), "Architecture": "amd64",
            "Os": "linux", "Size": 2, "VirtualSize": 2, "GraphDriver": {"Data": None, "Name": "vfs"},
            "RootFS": {"Type": "layers", "Layers": [DIGEST]},
            "Metadata": {"LastTagTime": "0001-01-01T00:00:00Z"}}


def inspect_1_56() -> dict[str, Any]:
    """Image inspect at API 1.56 from the containerd store (no GraphDriver, a Descriptor)."""
    return {"Id": ID_A, "RepoTags": ["example/tiny:1.0"], "RepoDigests": [f"example/tiny@{DIGEST}"],
            "Comment": "", "Created": "2024-01-02T03:04:05Z",
            "Config": {"Env": ["PATH=/usr/bin"], "Cmd": ["/bin/sh"], "Labels": {"a": "b"},
                       "Entrypoint": None, "WorkingDir": "", "User": "", "Volumes": None, "OnBuild": None},
            "Architecture": "amd64", "Os": "linux", "Size": 4096, "GraphDriver": None,
            "RootFS": {"Type": "layers", "Layers": [DIGEST]}, "Metadata": {"LastTagTime": None},
            "Descriptor": descriptor(True)}


# --- the shipped files --------------------------------------------------------------------------------

def test_index_lists_every_version_with_all_files() -> None:
    index = json.loads((SCHEMA_DIR / "index.json").read_text(encoding="utf-8"))
    assert [entry["version"] for entry in index["versions"]] == VERSIONS
    assert schema.supported_versions() == tuple(VERSIONS)
    for entry in index["versions"]:
        assert entry["shape"] == max(entry["version"], "1.41", key=lambda v: int(v.split(".")[1]))
        assert sorted(entry["files"]) == ["image-inspect", "image-inspect.strict",
                                          "images-json", "images-json.strict"]
        for name in entry["files"].values():
            assert (SCHEMA_DIR / name).is_file(), name


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("kind", KINDS)
@BOTH
def test_every_shipped_file_is_a_valid_self_contained_schema(kind: str, version: str, strict: bool) -> None:
    from jsonschema import Draft7Validator

    suffix = ".strict" if strict else ""
    document = json.loads((SCHEMA_DIR / f"{kind}-{version}{suffix}.json").read_text(encoding="utf-8"))
    Draft7Validator.check_schema(document)
    assert version in document["$id"] and version in document["title"]
    assert ("strict" in document["$id"]) is strict
    text = json.dumps(document)
    assert "#/definitions/" not in text  # every swagger $ref was rewritten into $defs
    for ref in {part.split('"')[0] for part in text.split('"$ref": "#/$defs/')[1:]}:
        assert ref in document["$defs"], ref
    if int(version.split(".")[1]) < 41:
        assert "1.41 shape" in document["$comment"]


@pytest.mark.parametrize("version", ["1.24", "1.41", "1.42", "1.43", "1.44", "1.56"])
def test_labels_nullability_override_is_explained(version: str) -> None:
    items = schema.schema_for("images-json", version)["$defs"]["ImageSummary"]["properties"]
    assert "null" in items["Labels"]["type"]
    assert "nullable" in items["Labels"]["$comment"]
    repo_tags_nullable = "null" in items["RepoTags"]["type"]
    assert repo_tags_nullable is (int(version.split(".")[1]) < 43)


# --- validation: table of (kind, version, document, strict) -> valid? -------------------------------

def _with(document: Any, index: int | None = None, **changes: Any) -> Any:
    """A deep copy of `document` with some fields of one item (or of the object) changed;
    a value of `...` deletes the field."""
    copied = copy.deepcopy(document)
    target = copied if index is None else copied[index]
    for key, value in changes.items():
        if value is ...:
            target.pop(key, None)
        else:
            target[key] = value
    return copied


VALIDITY = [
    # id, kind, version, document, valid when open, valid when strict
    ("1.41 with nulls", "images-json", "1.41", summary_1_41(), True, True),
    ("1.24 uses the 1.41 shape", "images-json", "1.24", summary_1_41(), True, True),
    ("1.12 maps to 1.24", "images-json", "1.12", summary_1_41(), True, True),
    ("1.45", "images-json", "1.45", summary_1_45(), True, True),
    ("empty list", "images-json", "1.56", [], True, True),
    ("extra key", "images-json", "1.45", _with(summary_1_45(), 0, Extra=1), True, False),
    ("missing Id", "images-json", "1.45", _with(summary_1_45(), 1, Id=...), False, False),
    ("Size as string", "images-json", "1.41", _with(summary_1_41(), 0, Size="2"), False, False),
    ("Created as RFC 3339", "images-json", "1.45", _with(summary_1_45(), 0, Created="2024-01-02T00:00:00Z"),
     False, False),
    ("Containers as bool", "images-json", "1.45", _with(summary_1_45(), 0, Containers=True), False, False),
    ("RepoTags null at 1.42", "images-json", "1.42", _with(summary_1_41(), 1, RepoTags=None), True, True),
    ("RepoTags null at 1.43", "images-json", "1.43", _with(summary_1_45(), 1, RepoTags=None), False, False),
    ("RepoDigests null at 1.44", "images-json", "1.44", _with(summary_1_45(), 0, RepoDigests=None),
     False, False),
    ("Labels null at 1.56", "images-json", "1.56", summary_1_45(), True, True),
    ("label value not a string", "images-json", "1.45", _with(summary_1_45(), 1, Labels={"a": 1}),
     False, False),
    ("VirtualSize missing at 1.41 (Size 0 on 25.0+)", "images-json", "1.41",
     _with(summary_1_41(), 0, VirtualSize=..., Size=0), True, True),
    ("VirtualSize at 1.43", "images-json", "1.43", _with(summary_1_45(), 0, VirtualSize=2), True, True),
    ("VirtualSize at 1.44", "images-json", "1.44", _with(summary_1_45(), 0, VirtualSize=2), True, False),
    ("VirtualSize at 1.56", "images-json", "1.56", _with(summary_1_45(), 0, VirtualSize=2), True, False),
    ("Manifests at 1.46", "images-json", "1.46", _with(summary_1_45(), 0, Manifests=[manifest(False)]),
     True, False),
    ("Manifests at 1.47", "images-json", "1.47", _with(summary_1_45(), 0, Manifests=[manifest(False)]),
     True, True),
    ("Descriptor at 1.47", "images-json", "1.47", _with(summary_1_45(), 0, Descriptor=descriptor(False)),
     True, False),
    ("Descriptor at 1.48", "images-json", "1.48", summary_containerd(), True, True),
    ("Descriptor null at 1.48", "images-json", "1.48", _with(summary_1_45(), 0, Descriptor=None), True, True),
    ("platform in a 1.47 descriptor", "images-json", "1.47",
     _with(summary_1_45(), 0, Manifests=[manifest(True)]), True, False),
    ("unknown key in Descriptor", "images-json", "1.56",
     _with(summary_containerd(), 0, Descriptor={**descriptor(True), "foo": 1}), True, False),
    ("Manifest Kind outside the enum", "images-json", "1.50",
     _with(summary_containerd(), 0, Manifests=[{**manifest(True), "Kind": "sbom"}]), False, False),
    ("not a list", "images-json", "1.45", summary_1_45()[0], False, False),
    ("inspect 1.41 (vfs, nulls)", "image-inspect", "1.41", inspect_1_41(), True, True),
    ("inspect 1.56 (containerd)", "image-inspect", "1.56", inspect_1_56(), True, True),
    ("inspect ContainerConfig at 1.45", "image-inspect", "1.45", inspect_1_41(), True, False),
    ("inspect extra key", "image-inspect", "1.56", _with(inspect_1_56(), Extra=True), True, False),
    ("inspect Size as string", "image-inspect", "1.56", _with(inspect_1_56(), Size="4096"), False, False),
    ("inspect RootFS without Type", "image-inspect", "1.41",
     _with(inspect_1_41(), RootFS={"Layers": []}), False, False),
]


@pytest.mark.parametrize(("kind", "version", "document", "valid_open", "valid_strict"),
                         [row[1:] for row in VALIDITY], ids=[row[0] for row in VALIDITY])
@BOTH
def test_validity_table(kind: str, version: str, document: Any, valid_open: bool, valid_strict: bool,
                        strict: bool) -> None:
    errors = schema.validate(kind, version, document, strict=strict)
    expected_valid = valid_strict if strict else valid_open
    assert (errors == []) is expected_valid, errors
    assert all(error.startswith("$") and ": " in error for error in errors)


@pytest.mark.parametrize(("kind", "version", "document", "valid_open", "valid_strict"),
                         [row[1:] for row in VALIDITY], ids=[row[0] for row in VALIDITY])
@BOTH
def test_fast_path_and_jsonschema_agree(kind: str, version: str, document: Any, valid_open: bool,
                                        valid_strict: bool, strict: bool,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever fastjsonschema decides, jsonschema alone must reach the same verdict and messages."""
    require_module("fastjsonschema")
    with_fast = schema.validate(kind, version, document, strict=strict)
    monkeypatch.setattr(schema, "_fast_check", lambda file_name: None)
    assert schema.validate(kind, version, document, strict=strict) == with_fast


# --- messages -----------------------------------------------------------------------------------------

MESSAGES = [
    ("images-json", "1.41", _with(summary_1_41(), 2, RepoTags="example/epoch:0"), False,
     "$[2].RepoTags: expected array or null, got string"),
    ("images-json", "1.45", _with(summary_1_45(), 1, Id=...), False, "$[1].Id: required field is missing"),
    ("images-json", "1.45", _with(summary_1_45(), 0, Extra=1), True, "$[0].Extra: unknown field"),
    ("images-json", "1.56", _with(summary_containerd(), 0, Descriptor={**descriptor(True), "size": "x"}),
     False, "$[0].Descriptor.size: expected integer, got string"),
    ("images-json", "1.56", [_with(summary_containerd()[0], Manifests=[
        _with(manifest(True), ImageData={"Platform": {"os": "linux", "os.features": "x"}, "Containers": [],
                                         "Size": {"Unpacked": 1}})])], False,
     "$[0].Manifests[0].ImageData.Platform['os.features']: expected array or null"),
    ("images-json", "1.56", _with(summary_containerd(), 0, Manifests=[_with(manifest(True), Junk=1)]), True,
     "$[0].Manifests[0].Junk: unknown field"),
    ("image-inspect", "1.41", _with(inspect_1_41(), GraphDriver={"Name": "vfs"}), False,
     "$.GraphDriver.Data: required field is missing"),
]


@pytest.mark.parametrize(("kind", "version", "document", "strict", "expected"), MESSAGES,
                         ids=[row[4].split(":")[0] for row in MESSAGES])
def test_messages_name_the_json_path(kind: str, version: str, document: Any, strict: bool,
                                     expected: str) -> None:
    errors = schema.validate(kind, version, document, strict=strict)
    assert any(error.startswith(expected) for error in errors), errors


def test_all_problems_are_listed_in_document_order() -> None:
    document = [item for _ in range(6) for item in summary_1_45()]
    document = _with(document, 10, Size="big")
    document = _with(document, 2, Id=...)
    document = _with(document, 3, Created=None)
    errors = schema.validate("images-json", "1.45", document)
    assert [error.split(":")[0] for error in errors] == ["$[2].Id", "$[3].Created", "$[10].Size"]


def test_check_raises_schema_error_with_every_message() -> None:
    document = _with(summary_1_45(), 0, Size="2", Extra=1)
    with pytest.raises(schema.SchemaError) as caught:
        schema.check("images-json", "1.45", document, strict=True)
    error = caught.value
    assert isinstance(error, ValueError)
    assert error.errors == schema.validate("images-json", "1.45", document, strict=True)
    assert len(error.errors) == 2
    assert "$[0].Size" in str(error) and "strict" in str(error)
    schema.check("images-json", "1.45", summary_1_45(), strict=True)  # valid: no exception


# --- bodies -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("body", [
    json.dumps(summary_1_41()).encode() + b"\n",
    json.dumps(summary_1_41()),
    bytearray(json.dumps(summary_1_41()).encode()),
    summary_1_41(),
], ids=["bytes", "str", "bytearray", "parsed"])
def test_validate_body_accepts_raw_and_parsed_bodies(body: Any) -> None:
    assert schema.validate_body("images-json", "1.41", body) == []


@pytest.mark.parametrize(("body", "expected"), [
    (b"[{", "$: body is not valid JSON"),
    (b"", "$: body is not valid JSON"),
    ("null", "$: expected array, got null"),
    (b"\xff[]", "$: body is not UTF-8"),
])
def test_validate_body_reports_unparseable_bodies(body: Any, expected: str) -> None:
    errors = schema.validate_body("images-json", "1.45", body)
    assert len(errors) == 1 and errors[0].startswith(expected), errors


# --- versions and kinds -------------------------------------------------------------------------------

@pytest.mark.parametrize(("asked", "served"), [
    ("1.11", "1.24"), ("1.12", "1.24"), ("1.23", "1.24"), ("1.24", "1.24"), ("1.40", "1.40"),
    ("v1.41", "1.41"), ("1.9", "1.24"), ("1.56", "1.56"),
])
def test_version_mapping(asked: str, served: str) -> None:
    assert schema.schema_for("images-json", asked)["$id"].endswith(f":{served}")


@pytest.mark.parametrize("version", ["1.99", "1.57", "2.0"])
def test_versions_newer_than_the_newest_schema_raise(version: str) -> None:
    with pytest.raises(ValueError, match=r"1\.24 to 1\.56"):
        schema.schema_for("images-json", version)
    with pytest.raises(ValueError):
        schema.validate("images-json", version, [])


@pytest.mark.parametrize("version", ["", "latest", "1", "1.x", "1.41.0"])
def test_malformed_versions_raise(version: str) -> None:
    with pytest.raises(ValueError, match="not a Docker API version"):
        schema.schema_for("images-json", version)


def test_unknown_kind_raises() -> None:
    with pytest.raises(ValueError, match="unknown schema kind"):
        schema.schema_for("containers-json", "1.41")


def test_schema_for_returns_a_copy() -> None:
    first = schema.schema_for("images-json", "1.45", strict=True)
    first["$defs"]["ImageSummary"]["required"].clear()
    assert schema.schema_for("images-json", "1.45", strict=True)["$defs"]["ImageSummary"]["required"]
    assert schema.validate("images-json", "1.45", [{}]) != []


def test_importing_the_module_loads_no_validator_library() -> None:
    code = ("import sys, pytest_dockerimages._files.schema; "
            "print(sorted(m for m in ('jsonschema', 'fastjsonschema') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "[]"


# --- against ../shared, when it is there ----------------------------------------------------------------

@pytest.mark.skipif(not SWAGGER_DIR.is_dir(), reason="swagger files (../shared/docker-api) not present")
def test_regenerating_gives_the_committed_files(tmp_path: Path) -> None:
    require_module("yaml")
    subprocess.run([sys.executable, str(REPO_ROOT / "scripts" / "gen_schemas.py"), str(SWAGGER_DIR),
                    "--out", str(tmp_path)], check=True, capture_output=True)
    generated = sorted(path.name for path in tmp_path.iterdir())
    hand_written = {"seed.schema.json"}
    committed = sorted(path.name for path in SCHEMA_DIR.glob("*.json") if path.name not in hand_written)
    assert generated == committed
    different = [name for name in generated
                 if (tmp_path / name).read_bytes() != (SCHEMA_DIR / name).read_bytes()]
    assert different == [], "schemas/ is stale: run scripts/gen_schemas.py"


def _docker_samples() -> list[tuple[str, str, Any]]:
    """(id, api version, body) of every JSON list a real Docker daemon answered in the captures."""
    samples: list[tuple[str, str, Any]] = []
    if not SAMPLES_DIR.is_dir():
        return samples
    for folder in sorted(SAMPLES_DIR.glob("docker-*")):
        for entry in json.loads((folder / "index.json").read_text(encoding="utf-8")):
            body_path = folder / entry["file"]
            if entry["status"] != 200 or body_path.suffix != ".json":
                continue
            body = json.loads(body_path.read_text(encoding="utf-8"))
            path = entry["path"]
            version = path.split("/")[1][1:] if path.startswith("/v1.") else entry["headers"]["Api-Version"]
            if isinstance(body, list):
                samples.append((f"{folder.name}/{entry['file']}", version, body))
    return samples


@pytest.mark.skipif(not SAMPLES_DIR.is_dir(), reason="daemon captures (../shared/reference) not present")
@BOTH
def test_real_docker_responses_validate(strict: bool) -> None:
    failures = {name: errors for name, version, body in _docker_samples()
                if (errors := schema.validate("images-json", version, body, strict=strict))}
    assert failures == {}
