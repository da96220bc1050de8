"""Cassettes: canonical matching, file format (vcrpy-compatible), safe saving, scrubbing, errors,
and the pytest marker/fixture in replay and record modes (against a fake upstream daemon)."""
from __future__ import annotations

import importlib.util
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import time
import urllib.parse
from pathlib import Path

import pytest

from pytest_dockerimages._cassettes.cassette import Cassette, load
from pytest_dockerimages._cassettes.format import CassetteError, Interaction
from pytest_dockerimages._cassettes.keys import canonical_key
from pytest_dockerimages._cassettes.record import RecordingBackend
from pytest_dockerimages._cassettes.replay import ReplayBackend, images_from_cassette
from pytest_dockerimages._core.model import Image, ImageStore
from pytest_dockerimages._core.profiles import PROFILES
from pytest_dockerimages._core.wire import Request, Response
from pytest_dockerimages._fake.backend import FakeBackend
from pytest_dockerimages._files.resources import data_dir
from pytest_dockerimages._http.server import Server
from pytest_dockerimages._http.unixhttp import request as http_request
from pytest_dockerimages._real.fixture import skip_or_fail

SHIPPED = sorted(data_dir("cassettes").glob("*.yaml"))
SHIPPED_NAMES = ("docker-20.10", "docker-26.1", "docker-26.1-containerd", "docker-28.1", "docker-28.1-containerd",
                 "docker-28.5", "docker-28.5-containerd", "docker-29.7", "docker-29.7-containerd")


def q(path: str, **params: object) -> str:
    """A target with params encoded as Go's url.Values.Encode (filters given as Python data)."""
    pairs = []
    for k, v in params.items():
        k = {"shared_size": "shared-size"}.get(k, k)
        pairs.append((k, v if isinstance(v, str) else json.dumps(v, separators=(",", ":"))))
    return path + ("?" + urllib.parse.urlencode(pairs) if pairs else "")


# --------------------------------------------------------------------------- canonical matching

SAME = [
    # the docker CLI's map form vs docker-py's slice form with its extra only_ids/all params
    (q("/v1.45/images/json", filters={"dangling": {"true": True}}),
     "/v1.45/images/json?only_ids=0&all=0&filters=" + urllib.parse.quote('{"dangling": ["true"]}')),
    (q("/v1.45/images/json", filters={"reference": {"example/loaded": True}}),
     q("/v1.45/images/json", only_ids="0", all="0", filters={"reference": ["example/loaded"]})),
    # key and value order
    (q("/images/json", filters={"label": {"a=b": True, "c": True}, "dangling": {"false": True}}),
     q("/images/json", filters={"dangling": ["false"], "label": ["c", "a=b"]})),
    # booleans as the daemon parses them
    ("/images/json?all=1", "/images/json?all=true"),
    ("/images/json?all=1", "/images/json?all=True"),
    ("/images/json?all=1", "/images/json?all=yes"),
    ("/images/json?all=1", "/images/json?all=%20on%20"),
    ("/images/json", "/images/json?all=0"),
    ("/images/json", "/images/json?all=false"),
    ("/images/json", "/images/json?all=no"),
    ("/images/json", "/images/json?all=None"),
    ("/images/json", "/images/json?all="),
    # parameters the daemon ignores
    ("/images/json", "/images/json?digests=1"),
    ("/images/json", "/images/json?only_ids=1"),
    ("/images/json", "/images/json?whatever=x"),
    ("/v1.41/images/json", "/v1.41/images/json?shared-size=1"),  # shared-size from 1.42
    ("/v1.46/images/json", "/v1.46/images/json?manifests=1"),  # manifests from 1.47
    ("/v1.45/_ping", "/v1.45/_ping?x=1"),
    # empty filters in every spelling
    ("/images/json", "/images/json?filters="),
    ("/images/json", "/images/json?filters=%7B%7D"),
    ("/images/json", "/images/json?filters=null"),
    # percent-encoding and + for space are the same characters
    ("/images/json?filters=%7B%22label%22%3A%7B%22a+b%22%3Atrue%7D%7D",
     '/images/json?filters={"label":{"a%20b":true}}'),
    ("/v1.45/images/sha256:abc/json", "/v1.45/images/sha256%3Aabc/json"),
]

DIFFERENT = [
    ("/images/json", "/images/json?all=1"),
    ("/images/json", "/v1.45/images/json"),  # the version prefix is part of the path
    ("/v1.41/images/json", "/v1.42/images/json"),
    ("/v1.42/images/json", "/v1.42/images/json?shared-size=1"),
    ("/v1.47/images/json", "/v1.47/images/json?manifests=1"),
    (q("/images/json", filters={"dangling": ["true"]}), q("/images/json", filters={"dangling": ["false"]})),
    (q("/images/json", filters={"label": ["a"]}), q("/images/json", filters={"label": ["a", "b"]})),
    ("/images/json?filters=%7Bbad", "/images/json?filters=%7Bworse"),  # bad JSON: only the same text
    ("/images/json?filters=%7Bbad", "/images/json"),
    ("/images/json?filter=x", "/images/json"),  # without a profile the legacy parameter counts
]


@pytest.mark.parametrize(("a", "b"), SAME)
def test_same_request_same_key(a: str, b: str) -> None:
    assert canonical_key("GET", a) == canonical_key("GET", b)


@pytest.mark.parametrize(("a", "b"), DIFFERENT)
def test_different_requests_different_keys(a: str, b: str) -> None:
    assert canonical_key("GET", a) != canonical_key("GET", b)


def test_method_counts() -> None:
    assert canonical_key("HEAD", "/_ping") != canonical_key("GET", "/_ping")
    assert canonical_key("get", "/_ping") == canonical_key("GET", "/_ping")


def test_profile_gates_parameters() -> None:
    p26 = PROFILES["docker-26.1"]
    # docker 26.1 has no manifests parameter at all; unversioned requests are at its API 1.45
    assert canonical_key("GET", "/images/json?manifests=1", profile=p26) == canonical_key("GET", "/images/json", profile=p26)
    assert canonical_key("GET", "/images/json?shared-size=1", profile=p26) != canonical_key("GET", "/images/json", profile=p26)
    # the legacy `filter` parameter is a reference filter below 1.41 and ignored from 1.41 on
    p20 = PROFILES["docker-20.10"]
    assert canonical_key("GET", "/v1.40/images/json?filter=ex", profile=p20) == canonical_key(
        "GET", q("/v1.40/images/json", filters={"reference": ["ex"]}), profile=p20)
    assert canonical_key("GET", "/v1.41/images/json?filter=ex", profile=p20) == canonical_key(
        "GET", "/v1.41/images/json", profile=p20)


def test_body_counts_for_writes_only() -> None:
    assert canonical_key("POST", "/images/load", b"a") != canonical_key("POST", "/images/load", b"b")
    assert canonical_key("GET", "/images/json", b"a") == canonical_key("GET", "/images/json", b"b")


def _interaction(target: str, body: bytes = b"[]\n", status: int = 200, method: str = "GET") -> Interaction:
    return Interaction(method, target, (("Host", "localhost"),), b"", status, "OK",
                       (("Content-Type", "application/json"), ("Api-Version", "1.45")), body)


def test_lookup_is_a_dict_lookup(monkeypatch: pytest.MonkeyPatch) -> None:
    """Replay computes one key per request and never walks the interactions."""
    interactions = [_interaction("/v1.45/images/json?filters=" + urllib.parse.quote(
        json.dumps({"label": {f"n={i}": True}}))) for i in range(20000)]
    backend = ReplayBackend(Cassette(None, interactions, {"profile": "docker-26.1"}))
    calls = []
    monkeypatch.setattr(Interaction, "key", lambda self, *a, **k: calls.append(1))
    target = q("/v1.45/images/json", only_ids="0", all="0", filters={"label": ["n=19999"]})
    t0 = time.perf_counter()
    for _ in range(500):
        assert backend.handle(Request("GET", target)).status == 200
    assert calls == []
    assert time.perf_counter() - t0 < 2.0


def test_same_key_plays_in_order_then_repeats_last() -> None:
    c = Cassette(None, [_interaction("/images/json", b"[1]"), _interaction("/images/json?all=0", b"[2]")], {})
    backend = ReplayBackend(c)
    bodies = [backend.handle(Request("GET", "/images/json")).body for _ in range(3)]
    assert bodies == [b"[1]", b"[2]", b"[2]"]


def test_repeated_requests_get_fresh_responses_with_the_recorded_headers() -> None:
    """Keys and filtered headers are kept between requests; the responses handed out are not shared."""
    recorded = Interaction("GET", "/v1.45/images/json", (), b"", 200, "OK",
                           (("Content-Type", "application/json"), ("Content-Length", "3"), ("Date", "x")), b"[]\n")
    ping = Interaction("HEAD", "/_ping", (), b"", 200, "OK", (("Content-Length", "0"), ("Date", "x")), b"")
    backend = ReplayBackend(Cassette(None, [recorded, ping], {"profile": "docker-26.1"}))
    first = backend.handle(Request("GET", "/v1.45/images/json"))
    assert first.headers == [("Content-Type", "application/json")]  # framing and Date are the server's
    first.headers.append(("X-Changed", "by the caller"))
    again = backend.handle(Request("GET", "/v1.45/images/json"))
    assert again.headers == [("Content-Type", "application/json")] and again is not first
    for _ in range(2):  # a HEAD answer keeps its Content-Length
        assert backend.handle(Request("HEAD", "/_ping")).headers == [("Content-Length", "0")]


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_cassettes_replay_every_interaction(path: Path) -> None:
    cassette = load(path)
    assert cassette.metadata["profile"] == path.stem
    backend = ReplayBackend(cassette)
    first: dict = {}
    for interaction in cassette.interactions:
        first.setdefault(interaction.key(cassette.profile, cassette.api_version), interaction)
    assert len(first) > 60
    for interaction in first.values():
        response = backend.handle(Request(interaction.method, interaction.target))
        assert (response.status, response.body) == (interaction.status, interaction.body), interaction.label()
    assert backend.misses == []


def _normalised(body: bytes) -> object:
    """A document with the order of its images dropped (a listing, system df's Images and Items):
    daemons order images of the same Created second randomly."""
    try:
        doc = json.loads(body)
    except ValueError:
        return body
    return _order_free(doc)


def _order_free(doc: object) -> object:
    if isinstance(doc, dict):
        return {key: _order_free(value) for key, value in doc.items()}
    if isinstance(doc, list) and all(isinstance(e, dict) and "Id" in e for e in doc):
        return sorted(doc, key=lambda e: e["Id"])
    return doc


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_real_daemons_agree_with_the_canonical_key(path: Path) -> None:
    """Requests that share a key got the same answer from the real daemon (checked on real data), as
    long as no state change (the prunes at the end) came between them."""
    cassette = load(path)
    groups: dict = {}
    for key, entries in cassette.timeline().items():
        for epoch, interaction in entries:
            groups.setdefault((key, epoch), []).append(interaction)
    collapsed = 0
    for members in groups.values():
        answers = [(m.status, _normalised(m.body)) for m in members]
        assert all(a == answers[0] for a in answers), [m.label() for m in members]
        collapsed += len({m.target for m in members}) > 1
    assert collapsed >= 3  # e.g. all=1/all=true, CLI vs SDK forms, ignored params


def test_shipped_cassette_names() -> None:
    assert sorted(p.stem for p in SHIPPED) == sorted(SHIPPED_NAMES)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_cassettes_metadata_and_no_machine_paths(path: Path) -> None:
    text = path.read_text()
    meta = load(path).metadata
    assert set(meta["daemon"]) >= {"Version", "ApiVersion", "MinAPIVersion", "Os", "image_store"}
    assert meta["daemon"]["image_store"] == ("containerd" if "containerd" in path.stem else "graphdriver")
    assert meta["tool"].startswith("pytest-dockerimages ")
    assert "recorded_at" in meta
    for needle in ("/tmp/", "127.0.0.1", "dkimg-", "/root/", "/home/"):
        assert needle not in text, needle


# --------------------------------------------------------------------------- vcrpy compatibility


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_plain_vcrpy_loads_the_cassettes(path: Path) -> None:
    from vcr.cassette import Cassette as VcrCassette
    from vcr.record_mode import RecordMode
    from vcr.serialize import deserialize
    from vcr.serializers import yamlserializer

    loaded = deserialize(path.read_text(), yamlserializer)
    requests, responses = loaded[0], loaded[1]
    ours = load(path)
    assert len(requests) == len(responses) == len(ours.interactions)
    assert requests[0].method == ours.interactions[0].method
    assert responses[5]["body"]["string"] == ours.interactions[5].body
    vcr_cassette = VcrCassette.load(path=str(path), record_mode=RecordMode.NONE)
    assert len(vcr_cassette) == len(ours.interactions)


def test_roundtrip_through_our_writer_and_vcrpy(tmp_path: Path) -> None:
    from vcr.serialize import deserialize
    from vcr.serializers import yamlserializer

    original = Cassette(tmp_path / "c.yaml", [_interaction("/images/json"), _interaction("/x", b"\xff\xfe", 404)],
                        {"format": 1, "profile": "docker-26.1"})
    original.save()
    again = Cassette.load(tmp_path / "c.yaml")
    assert again.interactions == original.interactions
    assert again.metadata == original.metadata
    requests, responses, *_ = deserialize((tmp_path / "c.yaml").read_text(), yamlserializer)
    assert responses[1]["body"]["string"] == b"\xff\xfe"


# --------------------------------------------------------------------------- errors


@pytest.fixture
def good_text() -> str:
    return (data_dir("cassettes") / "docker-26.1.yaml").read_text()


def test_truncated_cassette_names_file(tmp_path: Path, good_text: str) -> None:
    for cut in (len(good_text) // 2, len(good_text) // 3, 2000):
        path = tmp_path / "cut.yaml"
        path.write_text(good_text[:cut])
        with pytest.raises(CassetteError) as info:
            Cassette.load(path)
        assert str(path) in str(info.value)


def test_unknown_versions(tmp_path: Path, good_text: str) -> None:
    path = tmp_path / "v.yaml"
    path.write_text(good_text.replace("\nversion: 1", "\nversion: 7"))
    with pytest.raises(CassetteError, match=r"v\.yaml: unknown cassette format version 7"):
        Cassette.load(path)
    path.write_text(good_text.replace("    format: 1", "    format: 99"))
    with pytest.raises(CassetteError, match=r"v\.yaml: unknown dockerimages cassette format 99"):
        Cassette.load(path)


def test_schema_invalid_body_names_interaction(tmp_path: Path) -> None:
    bad = [_interaction("/v1.41/images/json"), _interaction("/v1.41/images/json?all=1", b'[{"Id": 5}]\n')]
    path = tmp_path / "bad.yaml"
    Cassette(path, bad, {"format": 1}).save()
    with pytest.raises(CassetteError) as info:
        Cassette.load(path)
    message = str(info.value)
    assert "bad.yaml: interaction 1 (GET /v1.41/images/json?all=1)" in message
    assert "1.41 schema" in message


def test_truncated_json_body_names_interaction(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    Cassette(path, [_interaction("/v1.45/images/json", b'[{"Id": "sha')], {"format": 1}).save()
    with pytest.raises(CassetteError, match=r"t\.yaml: interaction 0 \(GET /v1\.45/images/json\): response body is not valid JSON"):
        Cassette.load(path)


def test_missing_response_names_interaction(tmp_path: Path, good_text: str) -> None:
    path = tmp_path / "m.yaml"
    doc = Cassette.loads(good_text).to_document()
    del doc["interactions"][3]["response"]
    import yaml

    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(CassetteError, match=r"m\.yaml: interaction 3: needs both 'request' and 'response'"):
        Cassette.load(path)


def test_yaml_is_loaded_safely(tmp_path: Path) -> None:
    path = tmp_path / "evil.yaml"
    path.write_text("!!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(CassetteError, match="evil.yaml"):
        Cassette.load(path)


# --------------------------------------------------------------------------- saving


def test_atomic_save_keeps_old_file_on_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "deep" / "er" / "c.yaml"  # folders are created
    Cassette(path, [_interaction("/images/json")], {"format": 1}).save()
    before = path.read_bytes()

    def boom(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        Cassette(path, [_interaction("/images/json?all=1")], {"format": 1}).save(mode="overwrite")
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []


_KILL_WRITER = """
import sys
from pytest_dockerimages._cassettes.cassette import Cassette
from pytest_dockerimages._cassettes.format import Interaction
path = sys.argv[1]
body = b'[' + b','.join(b'{"n": %d}' % i for i in range(3000)) + b']'
n = 0
while True:
    n += 1
    its = [Interaction("GET", f"/x{n}-{i}", (), b"", 200, "OK", (), body) for i in range(20)]
    Cassette(None, its, {"format": 1}).save(path, mode="overwrite")
"""


def test_never_half_written_even_if_killed(tmp_path: Path) -> None:
    path = tmp_path / "k.yaml"
    Cassette(path, [_interaction("/images/json")], {"format": 1}).save()
    for delay in (0.3, 0.45, 0.6, 0.75):
        proc = subprocess.Popen([sys.executable, "-c", _KILL_WRITER, str(path)])
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        loaded = Cassette.load(path, validate=False)  # the old file or a whole new one
        assert len(loaded.interactions) in (1, 20)


def _worker(path: str, worker: int, count: int) -> None:
    for i in range(count):
        it = Interaction("GET", f"/v1.45/images/w{worker}-{i}/json", (), b"", 200, "OK", (), b"{}")
        Cassette(None, [it], {"format": 1, "profile": "docker-26.1"}).save(path)


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "shared" / "c.yaml"
    ctx = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    procs = [ctx.Process(target=_worker, args=(str(path), w, 12)) for w in range(6)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    targets = {it.target for it in Cassette.load(path).interactions}
    assert targets == {f"/v1.45/images/w{w}-{i}/json" for w in range(6) for i in range(12)}


def test_merge_modes(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    Cassette(path, [_interaction("/a", b"old"), _interaction("/b", b"old")], {"format": 1}).save()
    Cassette(path, [_interaction("/a", b"new"), _interaction("/c", b"new")], {"format": 1}).save()
    assert {i.target: i.body for i in Cassette.load(path).interactions} == {"/a": b"old", "/b": b"old", "/c": b"new"}
    Cassette(path, [_interaction("/a", b"new")], {"format": 1}).save(mode="replace_keys")
    assert {i.target: i.body for i in Cassette.load(path).interactions} == {"/a": b"new", "/b": b"old", "/c": b"new"}


# --------------------------------------------------------------------------- recording and scrubbing

SECRETS = ("Bearer s3cr3t-token", "eyJzZWNyZXQiOiJyZWdpc3RyeSJ9", "session=hunter2", "sid=topsecret")


class _Upstream:
    """A fake daemon with /info and a cookie-setting habit, standing in for a real one."""

    def __init__(self) -> None:
        images = [Image(tags=["registry.corp:5000/team/app:1", "plain:latest"], created=1_700_000_000,
                        digests=["registry.corp:5000/team/app@sha256:" + "a" * 64]),
                  Image(tags=["other:2"], created=1_600_000_000)]
        self.fake = FakeBackend(ImageStore(images), PROFILES["docker-26.1"])
        self.requests: list[Request] = []

    def handle(self, request: Request) -> Response:
        self.requests.append(request)
        if request.path.endswith("/info"):
            return Response(200, [("Content-Type", "application/json")],
                            b'{"Driver":"overlay2","DriverStatus":[["Backing Filesystem","extfs"]]}\n')
        response = self.fake.handle(request)
        response.headers.append(("Set-Cookie", SECRETS[3]))
        return response


@pytest.fixture
def upstream() -> object:
    backend = _Upstream()
    with Server(backend) as server:
        server.fake_backend = backend  # type: ignore[attr-defined]
        yield server


def test_recording_scrubs_secrets_and_pseudonymises(upstream: Server, tmp_path: Path) -> None:
    cassette = Cassette(tmp_path / "rec.yaml")
    backend = RecordingBackend(upstream.docker_host, cassette, pseudonyms={"registry.corp:5000": "registry.example"})
    assert cassette.metadata["daemon"]["image_store"] == "graphdriver"
    assert cassette.metadata["profile"] == "docker-26.1"
    headers = (("Authorization", SECRETS[0]), ("X-Registry-Auth", SECRETS[1]), ("Cookie", SECRETS[2]))
    target = q("/v1.45/images/json", filters={"reference": {"registry.corp:5000/team/app": True}})
    with Server(backend) as proxy:
        status, resp_headers, body = http_request(proxy.docker_host, "GET", target, headers=headers)
        assert status == 200 and b"registry.corp:5000/team/app:1" in body  # the client sees the real data
        http_request(proxy.docker_host, "GET", "/v1.45/images/json?all=1")
    # the daemon got the credentials (recording must not break auth)...
    forwarded = upstream.fake_backend.requests[-2]  # type: ignore[attr-defined]
    assert forwarded.header("Authorization") == SECRETS[0]
    cassette.save()
    text = (tmp_path / "rec.yaml").read_text()
    # ...but the cassette never holds them
    for secret in SECRETS:
        assert secret not in text
    assert "<redacted>" in text
    assert "registry.corp" not in text
    assert "registry.example/team/app:1" in text
    # and a replay of the pseudonymised cassette matches the pseudonymised request
    replay = ReplayBackend.from_file(tmp_path / "rec.yaml")
    pseudo = q("/v1.45/images/json", filters={"reference": ["registry.example/team/app"]})
    answer = replay.handle(Request("GET", pseudo))
    assert answer.status == 200 and json.loads(answer.body)[0]["RepoTags"] == ["registry.example/team/app:1"]


def test_fallback_seeded_from_recorded_images() -> None:
    path = data_dir("cassettes") / "docker-26.1.yaml"
    recorded = load(path)
    images = images_from_cassette(recorded)
    listing = next(json.loads(i.body) for i in recorded.interactions if i.target == "/images/json?all=1")
    assert {i.id for i in images} == {e["Id"] for e in listing}
    backend = ReplayBackend.from_file(path, fallback=True)
    # never recorded: a label filter on the "since" results, answered by the fake
    target = q("/v1.45/images/json", all="1", filters={"label": {"org.example.kind=built": True},
                                                      "since": {"example/loaded:base": True}})
    answer = backend.handle(Request("GET", target))
    assert answer.status == 200 and backend.misses == [] and len(backend.fallback_hits) == 1
    built = [e for e in listing if (e.get("Labels") or {}).get("org.example.kind") == "built"]
    assert {e["Id"] for e in json.loads(answer.body)} == {e["Id"] for e in built}


def _references(listing: list[dict[str, object]], containerd: bool) -> set[tuple[object, ...]]:
    """Id, RepoTags and (graphdriver store) RepoDigests of each entry. On the containerd store
    RepoDigests is derived from the name of the image's last record in name order, which the
    cassettes' registry pseudonym changes; the records themselves are RepoTags."""
    return {(e["Id"], tuple(sorted(e.get("RepoTags") or ())),
             () if containerd else tuple(sorted(e.get("RepoDigests") or ()))) for e in listing}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_fallback_lists_every_recorded_image_with_its_references(path: Path) -> None:
    """The fallback fake holds every image of the recorded all=1 listing, digest-only ones included
    (on the containerd store their digest record is shown in RepoTags), and lists them as recorded."""
    recorded = load(path)
    target = f"/v{recorded.api_version}/images/json?all=1"
    listing = json.loads(next(i.body for i in recorded.interactions if i.target == target))
    backend = ReplayBackend(recorded, fallback=True)
    assert backend.fake is not None and recorded.profile is not None
    answer = backend.fake.handle(Request("GET", target))
    assert answer.status == 200
    containerd = recorded.profile.is_containerd
    assert _references(json.loads(answer.body), containerd) == _references(listing, containerd)


# --------------------------------------------------------------------------- the pytest surface

def _write_test(pytester: pytest.Pytester, body: str, name: str = "test_casmod.py") -> Path:
    path = pytester.path / name
    path.write_text(textwrap.dedent(body))
    return path


REPLAY_TEST = """
import json, pytest
from pytest_dockerimages._http.unixhttp import request

@pytest.mark.dockerimages_cassette("docker-20.10")
def test_builtin(dockerimages_cassette):
    status, _, body = request(dockerimages_cassette.docker_host, "GET", "/v1.41/images/json?only_ids=0&all=1")
    assert status == 200 and len(json.loads(body)) > 5
    assert dockerimages_cassette.path.name == "docker-20.10.yaml"
    assert len(dockerimages_cassette.interactions) > 100

@pytest.mark.dockerimages_cassette("docker-26.1")
def test_miss(dockerimages_cassette):
    status, _, body = request(dockerimages_cassette.docker_host, "GET", "/v1.45/images/json?filters=%7B%22label%22%3A%5B%22zzz%22%5D%7D")
    assert status == 500 and b"no recorded interaction" in body
"""


def test_marker_builtin_replay_and_miss_message(pytester: pytest.Pytester) -> None:
    _write_test(pytester, REPLAY_TEST)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    assert "test_miss" in out and "not found in cassette" in out
    assert 'GET /v1.45/images/json?filters=%7B%22label%22%3A%5B%22zzz%22%5D%7D' in out
    assert "nearest recorded:" in out and 'filters={"label":["org.example.kind=built"]}' in out
    assert "To record: pytest test_casmod.py::test_miss --dockerimages-record-mode=once" in out
    assert "instead of the built-in 'docker-26.1'" in out and "scripts/" not in out
    assert "@pytest.mark.dockerimages_cassette(..., fallback=True)" in out


def test_marker_errors(pytester: pytest.Pytester) -> None:
    _write_test(pytester, """
        import pytest

        @pytest.mark.dockerimages_cassette("a", colour="red")
        def test_unknown_kwarg(dockerimages_cassette):
            pass

        @pytest.mark.dockerimages_cassette("a", record_mode="sometimes")
        def test_bad_mode(dockerimages_cassette):
            pass

        @pytest.mark.dockerimages_cassette("nope")
        def test_missing(dockerimages_cassette):
            pass
    """)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(errors=3)
    out = result.stdout.str()
    assert "got unknown keyword(s) colour; known: name, record_mode, fallback" in out
    assert "record mode 'sometimes' from @pytest.mark.dockerimages_cassette(record_mode=...) is not one of" in out
    assert "nope.yaml does not exist" in out and "--dockerimages-record-mode=once" in out
    assert "or name a built-in cassette: docker-20.10, docker-26.1, docker-26.1-containerd" in out
    assert not (pytester.path / "cassettes").exists()


def test_record_mode_none_never_writes_never_connects(pytester: pytest.Pytester, upstream: Server) -> None:
    folder = pytester.path / "cassettes"
    folder.mkdir()
    (folder / "kept.yaml").write_bytes((data_dir("cassettes") / "docker-26.1.yaml").read_bytes())
    before = {p.name: p.stat().st_mtime_ns for p in folder.rglob("*")}
    _write_test(pytester, """
        import pytest
        from pytest_dockerimages._http.unixhttp import request

        @pytest.mark.dockerimages_cassette("kept")
        def test_hit(dockerimages_cassette):
            assert request(dockerimages_cassette.docker_host, "GET", "/v1.45/images/json")[0] == 200

        @pytest.mark.dockerimages_cassette("kept")
        def test_miss(dockerimages_cassette):
            request(dockerimages_cassette.docker_host, "GET", "/v1.45/images/json?all=1&filters=%7B%22label%22%3A%5B%22q%22%5D%7D")

        def test_default_name(dockerimages_cassette):
            pass
    """)
    upstream.fake_backend.requests.clear()  # type: ignore[attr-defined]
    result = pytester.runpytest("-p", "no:cacheprovider", f"--dockerimages-docker-host={upstream.docker_host}")
    result.assert_outcomes(passed=1, failed=1, errors=1)
    assert upstream.fake_backend.requests == []  # type: ignore[attr-defined]
    assert {p.name: p.stat().st_mtime_ns for p in folder.rglob("*")} == before


def test_record_once_then_replay(pytester: pytest.Pytester, upstream: Server) -> None:
    _write_test(pytester, """
        import json, pytest
        from pytest_dockerimages._http.unixhttp import request

        @pytest.mark.parametrize("flag", ["0", "1"])
        def test_list(dockerimages_cassette, flag):
            status, _, body = request(dockerimages_cassette.docker_host, "GET", f"/v1.45/images/json?all={flag}")
            assert status == 200 and len(json.loads(body)) == 2

        @pytest.mark.dockerimages_cassette("shared/one")
        def test_named(dockerimages_cassette):
            assert request(dockerimages_cassette.docker_host, "GET", "/_ping")[2] == b"OK"

        @pytest.mark.dockerimages_cassette(record_mode="once")
        def test_fails_while_recording(dockerimages_cassette):
            request(dockerimages_cassette.docker_host, "GET", "/_ping")
            assert False
    """)
    host = f"--dockerimages-docker-host={upstream.docker_host}"
    result = pytester.runpytest("-p", "no:cacheprovider", host, "--dockerimages-record-mode=once")
    result.assert_outcomes(passed=3, failed=1)
    folder = pytester.path / "cassettes"
    assert (folder / "test_casmod" / "test_list[0].yaml").is_file()
    assert (folder / "test_casmod" / "test_list[1].yaml").is_file()
    assert (folder / "shared" / "one.yaml").is_file()
    assert not (folder / "test_casmod" / "test_fails_while_recording.yaml").exists()
    recorded = Cassette.load(folder / "test_casmod" / "test_list[1].yaml")
    assert [i.target for i in recorded.interactions] == ["/v1.45/images/json?all=1"]
    assert recorded.metadata["profile"] == "docker-26.1"
    # now with nothing to record from: replay only (record mode none is the default)
    result = pytester.runpytest("-p", "no:cacheprovider", "--dockerimages-docker-host=unix:///nonexistent/docker.sock",
                                "-k", "not fails")
    result.assert_outcomes(passed=3)
    # --dockerimages-save-failed keeps the failing test's cassette
    result = pytester.runpytest("-p", "no:cacheprovider", host, "--dockerimages-record-mode=once",
                                "--dockerimages-save-failed", "-k", "fails")
    result.assert_outcomes(failed=1)
    assert (folder / "test_casmod" / "test_fails_while_recording.yaml").is_file()


def test_record_mode_precedence_and_folder(pytester: pytest.Pytester, upstream: Server) -> None:
    pytester.makeini("""
        [pytest]
        dockerimages_record_mode = all
        dockerimages_cassette_dir = recorded
    """)
    _write_test(pytester, """
        import pytest

        @pytest.mark.dockerimages_cassette(record_mode="none")
        def test_marker_beats_ini(dockerimages_cassette):
            assert dockerimages_cassette.mode == "none"

        def test_ini(dockerimages_cassette):
            assert dockerimages_cassette.mode == "all"
            assert dockerimages_cassette.path.parent.parent.name == "recorded"
    """)
    result = pytester.runpytest("-p", "no:cacheprovider", f"--dockerimages-docker-host={upstream.docker_host}")
    result.assert_outcomes(passed=1, errors=1)  # the marker's mode none finds no cassette
    assert "test_marker_beats_ini.yaml does not exist" in result.stdout.str()
    result = pytester.runpytest("-p", "no:cacheprovider", f"--dockerimages-docker-host={upstream.docker_host}",
                                "--dockerimages-record-mode=all", "-k", "marker")
    result.assert_outcomes(failed=1)  # the command line beats the marker: mode is "all"


def test_new_episodes_adds_only_unmatched(pytester: pytest.Pytester, upstream: Server) -> None:
    folder = pytester.path / "cassettes"
    Cassette(folder / "ep.yaml", [_interaction("/v1.45/images/json", b"[]\n")],
             {"format": 1, "profile": "docker-26.1"}).save()
    _write_test(pytester, """
        import pytest
        from pytest_dockerimages._http.unixhttp import request

        @pytest.mark.dockerimages_cassette("ep", record_mode="new_episodes")
        def test_it(dockerimages_cassette):
            assert request(dockerimages_cassette.docker_host, "GET", "/v1.45/images/json?all=0")[2] == b"[]\\n"
            assert request(dockerimages_cassette.docker_host, "GET", "/v1.45/images/json?all=1")[0] == 200
    """)
    upstream.fake_backend.requests.clear()  # type: ignore[attr-defined]
    result = pytester.runpytest("-p", "no:cacheprovider", f"--dockerimages-docker-host={upstream.docker_host}")
    result.assert_outcomes(passed=1)
    forwarded = [r.target for r in upstream.fake_backend.requests]  # type: ignore[attr-defined]
    assert "/v1.45/images/json?all=1" in forwarded and "/v1.45/images/json?all=0" not in forwarded
    assert [i.target for i in Cassette.load(folder / "ep.yaml").interactions] == [
        "/v1.45/images/json", "/v1.45/images/json?all=1"]


def test_fallback_marker(pytester: pytest.Pytester) -> None:
    _write_test(pytester, """
        import json, pytest
        from pytest_dockerimages._http.unixhttp import request

        @pytest.mark.dockerimages_cassette("docker-26.1-containerd", fallback=True)
        def test_it(dockerimages_cassette):
            status, _, body = request(dockerimages_cassette.docker_host, "GET",
                                      "/v1.45/images/json?filters=%7B%22label%22%3A%5B%22a%3Db%22%5D%7D")
            assert status == 200
            assert [e["RepoTags"] for e in json.loads(body)] != []
    """)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_long_and_parametrized_names_are_valid_files(pytester: pytest.Pytester, upstream: Server) -> None:
    _write_test(pytester, """
        import pytest

        @pytest.mark.parametrize("x", ["a/b:c", "x" * 300, "sp ace"])
        def test_p(dockerimages_cassette, x):
            from pytest_dockerimages._http.unixhttp import request
            request(dockerimages_cassette.docker_host, "GET", "/_ping")
    """)
    pytester.runpytest("-p", "no:cacheprovider", f"--dockerimages-docker-host={upstream.docker_host}",
                       "--dockerimages-record-mode=all").assert_outcomes(passed=3)
    names = sorted(p.name for p in (pytester.path / "cassettes" / "test_casmod").glob("*.yaml"))
    assert len(names) == 3
    assert "test_p[a_b_c].yaml" in names and "test_p[sp_ace].yaml" in names
    assert all(len(n) <= 125 for n in names)
    from pytest_dockerimages._cassettes.fixtures import safe_file_name

    long = safe_file_name("test_p[" + "x" * 300 + "]")
    assert len(long) <= 120 and long != safe_file_name("test_p[" + "x" * 299 + "]")


def test_xdist_workers_share_one_cassette(pytester: pytest.Pytester, upstream: Server) -> None:
    if importlib.util.find_spec("xdist") is None:
        skip_or_fail("pytest-xdist is not installed (pip install -e .[test])")
    _write_test(pytester, """
        import pytest
        from pytest_dockerimages._http.unixhttp import request

        @pytest.mark.parametrize("n", range(12))
        @pytest.mark.dockerimages_cassette("shared", record_mode="all")
        def test_p(dockerimages_cassette, n):
            target = f"/v1.45/images/json?filters=%7B%22label%22%3A%5B%22n%3D{n}%22%5D%7D"
            assert request(dockerimages_cassette.docker_host, "GET", target)[0] == 200
    """)
    result = pytester.runpytest("-p", "no:cacheprovider", "-n", "4", "-p", "xdist",
                                f"--dockerimages-docker-host={upstream.docker_host}")
    result.assert_outcomes(passed=12)
    recorded = Cassette.load(pytester.path / "cassettes" / "shared.yaml")
    assert sorted(json.loads(urllib.parse.unquote(i.target.split("filters=")[1]))["label"][0]
                  for i in recorded.interactions) == sorted(f"n={n}" for n in range(12))


def test_module_alone_as_a_plugin_registers_its_options(pytester: pytest.Pytester) -> None:
    """Loading the cassette fixtures module with -p next to the plugin must not register the options twice."""
    result = pytester.runpytest("-p", "pytest_dockerimages._cassettes.fixtures", "--help")
    assert result.ret == 0
    assert result.stdout.str().count("--dockerimages-record-mode") == 1


def test_fallback_keeps_what_a_containerd_listing_shows() -> None:
    """A containerd-store cassette: a digest-only image (its reference sits in RepoTags), the daemon's
    Descriptor and Manifests, and the Containers count all reach the fallback fake, by the snapshot's rules."""
    index, manifest = "sha256:" + "a" * 64, "sha256:" + "b" * 64
    summary = {
        "Containers": 2, "Created": 1714979289, "Id": index, "Labels": {}, "ParentId": "",
        "Descriptor": {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": index, "size": 491,
                       "annotations": {"io.containerd.image.name": "docker.io/example/multi:1"}},
        "Manifests": [{"ID": manifest, "Descriptor": {"mediaType": "application/vnd.oci.image.manifest.v1+json",
                                                      "digest": manifest, "size": 398},
                       "Available": True, "Size": {"Content": 10877, "Total": 19069}, "Kind": "image",
                       "ImageData": {"Platform": {"architecture": "amd64", "os": "linux"},
                                     "Size": {"Unpacked": 8192}, "Containers": ["c1", "c2"]}}],
        "RepoDigests": [f"example/multi@{index}"], "RepoTags": [f"127.0.0.1/example/multi@{index}"],
        "SharedSize": -1, "Size": 19069}
    body = (json.dumps([summary], separators=(",", ":")) + "\n").encode()
    recorded = Cassette(Path("x.yaml"), [Interaction("GET", "/v1.51/images/json?all=1&manifests=1", (), b"", 200,
                                                     "OK", (("Content-Type", "application/json"),), body)],
                        {"profile": "docker-28.5-containerd"})
    (image,) = images_from_cassette(recorded)
    assert ([str(d) for d in image.digests], image.tags, image.descriptor) == (
        [f"127.0.0.1/example/multi@{index}"], (), summary["Descriptor"])
    assert (len(image.containers), [m.descriptor for m in image.manifests]) == (
        2, [summary["Manifests"][0]["Descriptor"]])  # type: ignore[index]
