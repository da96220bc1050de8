"""Real daemons: start each variant, seed it, check /version and /images/json, check stop().

Also unit tests for `imagetar` (deterministic archives) and for the fixture's skip/fail logic.
The real-daemon tests are marked `realdaemon`; they skip when the binaries are missing (install
them with `scripts/install-daemons.sh`, or point DOCKERIMAGES_DOCKERD_<ENGINE> at a dockerd) but FAIL when DOCKERIMAGES_STRICT=1 is set.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any, Iterator

import pytest

from pytest_dockerimages._http.unixhttp import UnixHTTPConnection
from pytest_dockerimages._real import imagetar
from pytest_dockerimages._real.fixture import STRICT_ENV, skip_or_fail
from pytest_dockerimages._real.harness import (
    ENGINES,
    RUNTIMES,
    VARIANTS,
    RealDaemon,
    RealRegistry,
    dockerimages_real_daemon_factory,
    find_dockerd,
    install_hint,
    missing_requirements,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
# What each variant's /version must say: (release, ApiVersion, MinAPIVersion, containerd it runs).
# Written out here, not derived from realdaemon.ENGINES, so a wrong row there fails a test.
EXPECTED = {
    "20.10": ("20.10.24", "1.41", "1.12", "1.6."),
    "26.1": ("26.1.5", "1.45", "1.24", "1.7."),
    "28.1": ("28.1.1", "1.49", "1.24", "2.1."),
    "28.5": ("28.5.2", "1.51", "1.24", "2.1."),
    "29.7": ("29.7.2", "1.55", "1.40", "2.1."),
}
EXPECTED_API = {name: EXPECTED[v.engine][1] for name, v in VARIANTS.items()}
ALL_NINE = (
    "docker-20.10", "docker-26.1", "docker-26.1-containerd", "docker-28.1", "docker-28.1-containerd",
    "docker-28.5", "docker-28.5-containerd", "docker-29.7", "docker-29.7-containerd",
)
# The IDs `docker load` gives the default archive on the graphdriver store (sha256 of the config).
LOADED_IDS = {
    "example/loaded:base": "sha256:48c0e36ae721d14296263d16492b319cc676c208cfbb9a524f3568e43f0c2aec",
    "example/loaded:latest": "sha256:48c0e36ae721d14296263d16492b319cc676c208cfbb9a524f3568e43f0c2aec",
    "example/loaded:app": "sha256:2eb5098fdcd083c7978fe1e4345d267dd14d2360675f887f1da8a3254e29aa76",
    "example/epoch:0": "sha256:48864f46a27a10ae1c098b55f148c38346521b34d7adc14253de1a88c971b577",
}
# Registry manifest digests of pushed *loaded* images: fixed too, but they differ per store.
PUSHED_DIGESTS = {
    "graphdriver": {
        "example/loaded": "sha256:c694206b9d1d455d2ee9642223fb3a1c16ad11227f3863a8356a7aeb375c3eb7",
        "example/epoch": "sha256:9c882f22643fd2d2abbd70beccb81a8f53f772c01ded1e219985ffe0ac8270e0",
    },
    "containerd": {
        "example/epoch": "sha256:008cd88738eee3b6bae3104da99562eef091c57389454896c656b77784b6a6ae",
    },
}
# The graphdriver store gzips layers itself when it pushes, so the digests follow the Go release
# dockerd was built with: Debian sid's 28.5.2 is built with Go 1.27 and gets other (fixed) digests.
PUSHED_DIGESTS_BY_VARIANT = {
    "docker-28.5": {
        "example/loaded": "sha256:b4ff9e2c91f598333595a675f00c221596d268bc8eb2e40a2f7b97810bb9aa91",
        "example/epoch": "sha256:7e5c4b23a06ef7b5bfb10a6493f4c65443b6176211ed5664401865ceb750a168",
    },
}
# Variants that list an image without labels with "Labels": {} instead of null.
LABELS_EMPTY_NOT_NULL = {"docker-29.7-containerd"}
PLACEHOLDERS = {"<none>:<none>", "<none>@<none>"}


# --------------------------------------------------------------------------- imagetar unit tests


def test_archive_bytes_are_identical_on_every_call() -> None:
    assert imagetar.build_archive() == imagetar.build_archive()


def test_ids_are_the_same_in_separate_processes() -> None:
    """Across interpreter runs (different hash seeds): same archive bytes, same config digests."""
    code = (
        "import hashlib, json; from pytest_dockerimages._real import imagetar as t; "
        "print(json.dumps([hashlib.sha256(t.build_archive()).hexdigest(), t.expected_ids()]))"
    )
    outputs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(REPO_ROOT)}
        outputs.append(subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True,
                                      text=True).stdout)
    assert outputs[0] == outputs[1]
    archive_sha, ids = json.loads(outputs[0])
    assert archive_sha == hashlib.sha256(imagetar.build_archive()).hexdigest()
    assert ids == LOADED_IDS


def _members(archive: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]


def test_archive_is_valid_docker_save_format() -> None:
    """Config file names are their own sha256, layers match diff_ids, Parent and history line up."""
    files = _members(imagetar.build_archive())
    manifest = json.loads(files["manifest.json"])
    repositories = json.loads(files["repositories"])
    configs = {}
    for item in manifest:
        config = files[item["Config"]]
        assert hashlib.sha256(config).hexdigest() + ".json" == item["Config"]
        cfg = json.loads(config)
        assert cfg["rootfs"]["diff_ids"] == ["sha256:" + hashlib.sha256(files[p]).hexdigest() for p in item["Layers"]]
        for tag in item["RepoTags"]:
            repo, _, name = tag.rpartition(":")
            assert repositories[repo][name] + ".json" == item["Config"]
        configs[item["RepoTags"][0]] = (item, cfg)
    app_item, app = configs["example/loaded:app"]
    _, base = configs["example/loaded:base"]
    assert app_item["Parent"] == LOADED_IDS["example/loaded:base"]
    assert app["history"][:-1] == base["history"] and len(app["history"]) == len(base["history"]) + 1
    assert app["rootfs"]["diff_ids"][:-1] == base["rootfs"]["diff_ids"]
    _, epoch = configs["example/epoch:0"]
    assert epoch["created"] == "1970-01-01T00:00:00Z" and "Labels" not in epoch["config"]


def test_write_archive_returns_ids(tmp_path: Path) -> None:
    ids = imagetar.write_archive(tmp_path / "a.tar")
    assert ids == LOADED_IDS
    assert (tmp_path / "a.tar").read_bytes() == imagetar.build_archive()


def test_parent_must_be_an_earlier_image() -> None:
    orphan = imagetar.ImageSpec(tags=("x/y:1",), files=(("f", b"x"),), created="2024-01-01T00:00:00Z",
                                created_by="t", parent="x/base:1")
    with pytest.raises(ValueError, match="earlier image"):
        imagetar.build_images([orphan])


# --------------------------------------------------------------------------- helpers


def require(variant: str, seed: bool = True) -> None:
    """Skip (or, under CI or DOCKERIMAGES_STRICT, fail) when the variant's binaries are not installed."""
    missing = missing_requirements(variant, seed=seed)
    if missing:
        skip_or_fail(f"{variant}: missing {', '.join(missing)}; {install_hint(variant)}")


def real_tags(image: dict[str, Any]) -> list[str]:
    """RepoTags without placeholders and without the digest references the containerd store lists."""
    return [t for t in image.get("RepoTags") or [] if t not in PLACEHOLDERS and "@" not in t]


def real_digests(image: dict[str, Any]) -> list[str]:
    return [d for d in image.get("RepoDigests") or [] if d not in PLACEHOLDERS]


def images_json(daemon: RealDaemon, query: str = "") -> list[dict[str, Any]]:
    """GET /images/json through a raw http.client connection on the unix socket."""
    conn = UnixHTTPConnection(str(daemon.socket_path))
    try:
        conn.request("GET", "/images/json" + query)
        resp = conn.getresponse()
        body = resp.read()
    finally:
        conn.close()
    assert resp.status == 200, body
    return json.loads(body)


def processes_mentioning(text: str) -> list[int]:
    """PIDs whose command line contains `text` (our private dirs are unique)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if text in (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


# --------------------------------------------------------------------------- seeded real daemons


@pytest.fixture(scope="module", params=[pytest.param(v, marks=pytest.mark.realdaemon) for v in VARIANTS])
def seeded(request: pytest.FixtureRequest) -> Iterator[RealDaemon]:
    """One seeded daemon per variant, shared by this module's checks."""
    require(request.param)
    with dockerimages_real_daemon_factory(request.param) as daemon:
        yield daemon


@pytest.mark.realdaemon
def test_version(seeded: RealDaemon) -> None:
    assert seeded.version["ApiVersion"] == EXPECTED_API[seeded.variant.name]
    assert seeded.version["Version"].startswith(seeded.variant.engine + ".")
    status, headers, body = seeded.get("/_ping")
    assert (status, body) == (200, b"OK")
    assert seeded.docker_host == f"unix://{seeded.socket_path}" and len(str(seeded.socket_path)) < 108


@pytest.mark.realdaemon
def test_plain_listing_has_every_tag(seeded: RealDaemon) -> None:
    images = images_json(seeded)
    tags = sorted(t for image in images for t in real_tags(image))
    assert tags == seeded.seed["tags"]
    built = [i for i in images if "example/built:1" in real_tags(i)]
    assert [i["Id"] for i in built] == [seeded.seed["built_id"]]
    tiny = next(i for i in images if "example/tiny:1.0" in real_tags(i))
    assert tiny["Labels"] == {"a": "b", "org.example.kind": "imported"}
    assert len(real_tags(tiny)) == 3


@pytest.mark.realdaemon
def test_repo_digests_from_the_local_registry(seeded: RealDaemon) -> None:
    registry = seeded.seed["registry"]
    assert registry.startswith("127.0.0.1:")
    images = images_json(seeded)
    digests = [d for image in images for d in real_digests(image)]
    assert any(d.startswith(registry + "/") for d in digests), digests
    for repo_ref, digest in seeded.seed["repo_digests"].items():
        repo = repo_ref.split("/", 1)[1]
        if seeded.store == "graphdriver":
            assert f"{repo_ref}@{digest}" in digests
        else:  # the containerd store names pushed images' digests after their familiar repo name
            assert any(d.endswith(f"{repo}@{digest}") for d in digests), (repo, digests)
    expected = PUSHED_DIGESTS_BY_VARIANT.get(seeded.variant.name, PUSHED_DIGESTS[seeded.store])
    for repo, digest in expected.items():
        assert seeded.seed["repo_digests"][f"{registry}/{repo}"] == digest


@pytest.mark.realdaemon
def test_digest_only_image(seeded: RealDaemon) -> None:
    ref = seeded.seed["digest_only"]
    matches = [i for i in images_json(seeded) if ref in real_digests(i)]
    assert len(matches) == 1
    image = matches[0]
    assert real_tags(image) == []  # 20.10: null; 26.1: []; containerd store: [ref] (filtered out)
    assert image["Created"] == 0
    assert image["Labels"] == ({} if seeded.variant.name in LABELS_EMPTY_NOT_NULL else None)
    if seeded.store == "containerd":
        assert image["RepoTags"] == [ref]


@pytest.mark.realdaemon
def test_intermediate_images_only_with_all(seeded: RealDaemon) -> None:
    plain = {i["Id"]: i for i in images_json(seeded)}
    everything = {i["Id"]: i for i in images_json(seeded, "?all=1")}
    assert set(plain) < set(everything)
    assert images_json(seeded, "?all=true") and len(images_json(seeded, "?all=true")) == len(everything)
    intermediates = [everything[i] for i in set(everything) - set(plain)]
    assert len(intermediates) >= 3
    for image in intermediates:
        assert real_tags(image) == [] and real_digests(image) == []
        assert image["ParentId"].startswith("sha256:")


@pytest.mark.realdaemon
def test_dangling_image(seeded: RealDaemon) -> None:
    plain = {i["Id"]: i for i in images_json(seeded)}
    dangling = plain[seeded.seed["dangling_id"]]
    assert real_tags(dangling) == [] and real_digests(dangling) == []
    assert dangling["Labels"]["org.example.kind"] == "built"
    filtered = images_json(seeded, '?filters={"dangling":["true"]}'.replace('"', "%22"))
    assert seeded.seed["dangling_id"] in {i["Id"] for i in filtered}


@pytest.mark.realdaemon
def test_loaded_images(seeded: RealDaemon) -> None:
    images = images_json(seeded)
    by_tag = {t: i for i in images for t in real_tags(i)}
    base, app = by_tag["example/loaded:base"], by_tag["example/loaded:app"]
    assert (base["Created"], app["Created"]) == (1700000000, 1704164645)
    assert app["Labels"] == {"a": "b", "org.example.kind": "loaded", "tier": "app"}
    assert by_tag["example/loaded:latest"]["Id"] == base["Id"]
    if seeded.store == "graphdriver":  # ID == config digest; docker load honours "Parent"
        assert base["Id"] == LOADED_IDS["example/loaded:base"]
        assert app["Id"] == LOADED_IDS["example/loaded:app"]
        assert app["ParentId"] == base["Id"]
    else:  # ID == manifest digest; load's Parent is ignored
        assert base["Id"] == "sha256:c22df4fefa5f8b53555de9d611284a8a7bf07ffd036cac4d44fba94e7cbcb5fe"
        assert app["ParentId"] == ""


# --------------------------------------------------------------------------- every variant, unseeded


def test_the_nine_variants() -> None:
    assert tuple(VARIANTS) == ALL_NINE
    assert set(EXPECTED) == set(ENGINES)


def _overridden(variant: str) -> bool:
    """True when env vars point the variant at another dockerd or runtime than the install script's:
    then only the engine line (28.5.x) is checked, not the exact release and containerd."""
    spec = VARIANTS[variant].spec
    names = [spec.dockerd_env, spec.prefix_env or ""] + ([RUNTIMES[spec.runtime].prefix_env] if spec.runtime else [])
    return any(os.environ.get(n) for n in names if n)


@pytest.mark.realdaemon
@pytest.mark.parametrize("variant", ALL_NINE)
def test_variant_starts_answers_and_stops(variant: str) -> None:
    """Each variant starts on its private socket, answers /_ping and /version with its release,
    API range, image store and containerd, and stop() leaves no process and no directory."""
    require(variant, seed=False)
    release, api, min_api, containerd = EXPECTED[VARIANTS[variant].engine]
    daemon = RealDaemon(variant).start()
    try:
        pid, d = daemon.pid, daemon.dir
        assert pid is not None and d is not None
        status, headers, body = daemon.get("/_ping")
        assert (status, body) == (200, b"OK")
        assert headers["Api-Version"] == api
        status, headers, body = daemon.get("/version")
        assert status == 200 and headers["Api-Version"] == api
        version = json.loads(body)
        assert (version["ApiVersion"], version["MinAPIVersion"]) == (api, min_api)
        assert headers["Server"] == f"Docker/{version['Version']} (linux)"
        components = {c["Name"]: c["Version"] for c in version.get("Components", [])}
        if _overridden(variant):
            assert version["Version"].startswith(VARIANTS[variant].engine + ".")
        else:
            assert version["Version"].split("+")[0] == release
            assert components["containerd"].startswith(containerd), components
        info = daemon.get_json("/info")
        on_containerd = "io.containerd.snapshotter" in json.dumps(info.get("DriverStatus"))
        assert on_containerd == variant.endswith("-containerd")
        assert info["Driver"] == ("native" if on_containerd else "vfs")
    finally:
        daemon.stop()
    assert not d.exists() and not Path(f"/proc/{pid}").exists()
    assert processes_mentioning(str(d) + "/") == []


def test_missing_variant_skips_with_the_env_var_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv(STRICT_ENV, raising=False)
    monkeypatch.setenv("DOCKERIMAGES_DOCKERD_28_5", "/nonexistent/dockerd")
    with pytest.raises(pytest.skip.Exception, match=r"docker-28\.5-containerd: missing dockerd 28\.5.*"
                                                    r"DOCKERIMAGES_DOCKERD_28_5"):
        require("docker-28.5-containerd", seed=False)


def test_missing_runtime_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv(STRICT_ENV, raising=False)
    monkeypatch.setenv("DOCKERIMAGES_CONTAINERD_2_1_PREFIX", str(tmp_path))
    missing = missing_requirements("docker-29.7", seed=False)
    assert any("DOCKERIMAGES_CONTAINERD_2_1_PREFIX" in m for m in missing), missing
    assert not any("CONTAINERD_2_1" in m for m in missing_requirements("docker-26.1", seed=False))
    with pytest.raises(pytest.skip.Exception, match="containerd and runc"):
        require("docker-29.7", seed=False)


def test_strict_turns_a_missing_binary_into_a_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv(STRICT_ENV, "1")
    monkeypatch.setenv("DOCKERIMAGES_DOCKERD_29_7", "/nonexistent/dockerd")
    with pytest.raises(pytest.fail.Exception, match="DOCKERIMAGES_STRICT is set, so not skipping: docker-29.7"):
        require("docker-29.7", seed=False)


def test_find_dockerd_honours_the_engine_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = tmp_path / "dockerd"
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    for variant in ALL_NINE:
        monkeypatch.setenv(VARIANTS[variant].spec.dockerd_env, str(fake))
        assert find_dockerd(variant) == fake
    monkeypatch.delenv("DOCKERIMAGES_DOCKERD_28_1")
    monkeypatch.setenv("DOCKERIMAGES_DOCKER_28_1_PREFIX", str(tmp_path / "prefix"))
    assert find_dockerd("docker-28.1") is None  # the prefix is used, and it holds no dockerd
    (tmp_path / "prefix/usr/sbin").mkdir(parents=True)
    (tmp_path / "prefix/usr/sbin/dockerd").symlink_to(fake)
    assert find_dockerd("docker-28.1-containerd") == tmp_path / "prefix/usr/sbin/dockerd"


# --------------------------------------------------------------------------- stop() leaves nothing


@pytest.mark.realdaemon
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_stop_removes_socket_dir_and_processes(variant: str) -> None:
    require(variant)
    registry = RealRegistry().start()
    daemon = RealDaemon(variant).start()
    try:
        pid, sock, d, reg_dir = daemon.pid, daemon.socket_path, daemon.dir, registry.dir
        assert pid is not None and d is not None and reg_dir is not None
        assert sock.is_socket() and Path(f"/proc/{pid}").exists()
        spawned = processes_mentioning(str(d) + "/")
        assert pid in spawned and len(spawned) >= 2  # dockerd and the containerd it started
    finally:
        daemon.stop()
        registry.stop()
    assert not sock.exists() and not d.exists() and not reg_dir.exists()
    assert processes_mentioning(str(d) + "/") == [] and processes_mentioning(str(reg_dir) + "/") == []
    daemon.stop()  # idempotent
    registry.stop()


def test_start_failure_reports_the_log_and_cleans_up(tmp_path: Path) -> None:
    fake = tmp_path / "dockerd"
    fake.write_text("#!/bin/sh\necho 'fake dockerd: cannot start' >&2\nexit 3\n")
    fake.chmod(0o755)
    daemon = RealDaemon("docker-20.10", dockerd=fake)
    with pytest.raises(Exception, match="cannot start"):
        daemon.start()
    assert daemon.pid is None and daemon.dir is not None and not daemon.dir.exists()


# --------------------------------------------------------------------------- the fixture


# The inner runs disable the installed plugin (-p no:dockerimages) and register the fixture module
# alone, as plugin.py registers it, so these tests check it whatever state plugin.py is in.
NO_PLUGIN = ("-p", "no:dockerimages")
CONFTEST = """
pytest_plugins = ["pytest_dockerimages._real.fixture"]
"""


def test_fixture_skips_when_dockerd_is_missing(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """CI=true alone, as a downstream project's CI service sets it, still skips."""
    monkeypatch.setenv("CI", "true")
    monkeypatch.delenv("DOCKERIMAGES_STRICT", raising=False)
    monkeypatch.setenv("DOCKERIMAGES_DOCKERD_20_10", str(pytester.path / "no-such-dockerd"))
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile("def test_it(dockerimages_real_daemon):\n    pass\n")
    result = pytester.runpytest(*NO_PLUGIN, "-rs", "--dockerimages-real-daemon=docker-20.10")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*docker-20.10 needs dockerd 20.10*DOCKERIMAGES_DOCKERD_20_10*"
                                 "DOCKERIMAGES_DOCKER_REGISTRY*DOCKERIMAGES_DOCKER_CLI*"])
    result.stdout.no_fnmatch_line("*scripts/*")


def test_fixture_fails_when_strict_and_dockerd_is_missing(pytester: pytest.Pytester,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("DOCKERIMAGES_STRICT", "1")
    monkeypatch.setenv("DOCKERIMAGES_DOCKERD_26_1", str(pytester.path / "no-such-dockerd"))
    pytester.makeconftest(CONFTEST)
    pytester.makeini("[pytest]\ndockerimages_real_daemon = docker-26.1-containerd\n")
    pytester.makepyfile("def test_it(dockerimages_real_daemon):\n    pass\n")
    result = pytester.runpytest(*NO_PLUGIN)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*DOCKERIMAGES_STRICT is set, so not skipping*docker-26.1-containerd*"])


@pytest.mark.realdaemon
def test_fixture_end_to_end(pytester: pytest.Pytester) -> None:
    """The session fixture, wired the way plugin.py will wire it, on the fastest variant."""
    require("docker-20.10")
    assert find_dockerd("docker-20.10") is not None
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile("""
        PIDS = []

        def test_a(dockerimages_real_daemon):
            d = dockerimages_real_daemon
            assert d.version["ApiVersion"] == "1.41" and d.store == "graphdriver"
            assert d.seed["digest_only"].startswith(d.registry.addr + "/example/epoch@sha256:")
            PIDS.append(d.pid)

        def test_b(dockerimages_real_daemon):
            assert PIDS == [dockerimages_real_daemon.pid]  # one daemon for the whole session
    """)
    result = pytester.runpytest(*NO_PLUGIN, "--dockerimages-real-daemon", "docker-20.10")
    result.assert_outcomes(passed=2)


def test_terminate_escalates_and_reaps_children_named_after_our_dir(tmp_path: Path) -> None:
    """A process that ignores SIGTERM gets SIGKILL, and a child naming our dir (like dockerd's
    containerd) that survives it is stopped too; nothing else is touched."""
    import time

    from pytest_dockerimages._real.harness import _terminate

    script = tmp_path / "stubborn"
    script.write_text(
        "#!/bin/bash\ntrap '' TERM\n"
        "bash -c 'trap \"\" TERM; exec -a \"$0/child\" sleep 300' \"$PWD\" &\n"
        "echo started >ready\nwait\n"
    )
    script.chmod(0o755)
    proc = subprocess.Popen([str(script)], cwd=tmp_path)
    try:
        deadline = time.monotonic() + 10
        while not ((tmp_path / "ready").exists() and len(processes_mentioning(str(tmp_path) + "/child")) == 1):
            assert time.monotonic() < deadline, "stub did not start"
            time.sleep(0.05)
        _terminate(proc, tmp_path, timeout=0.5)
        assert proc.returncode == -9
        deadline = time.monotonic() + 5
        while processes_mentioning(str(tmp_path) + "/child") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert processes_mentioning(str(tmp_path) + "/child") == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_the_oci_archive_holds_an_index_and_an_image_without_created() -> None:
    """OCI layout (index.json, blobs) plus docker save's manifest.json, identical bytes every time."""
    import io
    import json
    import tarfile

    archive = imagetar.build_oci_archive()
    assert archive == imagetar.build_oci_archive()
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]
    assert json.loads(files["oci-layout"]) == {"imageLayoutVersion": "1.0.0"}
    top = json.loads(files["index.json"])["manifests"]
    names = {d["annotations"]["io.containerd.image.name"]: d for d in top}
    assert set(names) == {"docker.io/example/nocreated:1", "docker.io/example/multi:1"}
    index = json.loads(files["blobs/sha256/" + names["docker.io/example/multi:1"]["digest"][7:]])
    assert [m["platform"]["architecture"] for m in index["manifests"]] == ["amd64", "arm64"]
    manifest = json.loads(files["blobs/sha256/" + names["docker.io/example/nocreated:1"]["digest"][7:]])
    config = json.loads(files["blobs/sha256/" + manifest["config"]["digest"][7:]])
    assert "created" not in config and all("created" not in h for h in config["history"])
    docker_manifest = json.loads(files["manifest.json"])
    assert sorted(t for e in docker_manifest for t in e["RepoTags"]) == ["example/multi:1", "example/nocreated:1"]
    assert all(p in files for e in docker_manifest for p in (e["Config"], *e["Layers"]))


@pytest.mark.realdaemon
def test_oci_archive_images_and_containers(seeded: RealDaemon) -> None:
    """The hard cases: a config without `created` (Go's zero time on 20.10, no time later), images
    used by containers, and on the containerd store a two-platform index."""
    images = images_json(seeded, "?all=1")
    by_tag = {t: i for i in images for t in real_tags(i)}
    assert sorted(seeded.seed["oci_tags"]) == ["example/multi:1", "example/nocreated:1"]
    assert by_tag["example/nocreated:1"]["Created"] in (-62135596800, 0)
    assert by_tag["example/multi:1"]["Created"] == 1714979289
    containers = seeded.get_json("/containers/json?all=1")
    used = {c["Id"]: c["ImageID"] for c in containers}
    for image_ref, ids in seeded.seed["containers"].items():
        assert {used[i] for i in ids} == {by_tag[image_ref]["Id"]}
    if seeded.store == "containerd":
        index = seeded.get_json("/images/example/multi:1/json")
        assert index["Id"] == by_tag["example/multi:1"]["Id"]
        assert by_tag["example/multi:1"]["Size"] > by_tag["example/nocreated:1"]["Size"]  # both platforms' content
