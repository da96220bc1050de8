"""Start real Docker daemons (and a local registry) privately, and seed them with images.

Why: the fake daemon's answers to `GET /images/json` are only as good as the real daemons they
are checked against. This module starts a real `dockerd` on a private unix socket in a fresh
temp dir (no systemd, no bridge, no iptables, no outside network), puts a varied, mostly
deterministic image set into it with the docker CLI, and stops exactly the processes it started.

Variants (names equal the fake's profile names):

==========================  ======  ===========  ==================================================
name                        engine  store        dockerd (see `find_dockerd`) / containerd it uses
==========================  ======  ===========  ==================================================
docker-20.10                20.10   graphdriver  Debian 12 docker.io, /usr/sbin/dockerd / its own 1.6
docker-26.1                 26.1    graphdriver  Debian 13 docker.io under a prefix / trixie's 1.7
docker-26.1-containerd      26.1    containerd   the same, with the containerd image store
docker-28.1                 28.1    graphdriver  static dockerd 28.1.1 (moby tag) / sid's 2.1
docker-28.1-containerd      28.1    containerd   the same, with the containerd image store
docker-28.5                 28.5    graphdriver  Debian sid docker.io 28.5.2 / sid's 2.1
docker-28.5-containerd      28.5    containerd   the same, with the containerd image store
docker-29.7                 29.7    graphdriver  static dockerd 29.7.2 (moby tag) / sid's 2.1
docker-29.7-containerd      29.7    containerd   the same, with the containerd image store
==========================  ======  ===========  ==================================================

Where each binary is, which containerd/runc it runs with and which API it speaks is data
(`ENGINES`, `RUNTIMES`); nothing below tests a release name. Env var DOCKERIMAGES_DOCKERD_<ENGINE>
(e.g. DOCKERIMAGES_DOCKERD_28_5) points at your own dockerd.
`scripts/install-daemons.sh` installs all of them. Stdlib only (HTTP through `_http/unixhttp`).
"""
from __future__ import annotations

import contextlib
import ctypes
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

from .._core.profiles import PROFILES
from .._core.wire import find_header
from .._http.unixhttp import request
from . import imagetar

__all__ = [
    "Engine",
    "Runtime",
    "ENGINES",
    "RUNTIMES",
    "DaemonVariant",
    "VARIANTS",
    "DEFAULT_VARIANT",
    "DEFAULT_26_1_PREFIX",
    "INSTALL_HINT",
    "install_hint",
    "RealDaemonError",
    "MissingDaemonError",
    "DaemonSeedingError",
    "get_variant",
    "find_dockerd",
    "find_runtime",
    "find_registry_binary",
    "find_docker_cli",
    "missing_requirements",
    "RealDaemon",
    "RealRegistry",
    "free_loopback_port",
    "registry_manifest_digest",
    "seed_image_set",
    "dockerimages_real_daemon_factory",
]

DEFAULT_26_1_PREFIX = "/opt/pytest-dockerimages/docker-26.1"
INSTALL_HINT = (
    "point DOCKERIMAGES_DOCKERD_<ENGINE> (e.g. DOCKERIMAGES_DOCKERD_28_5) at your own dockerd binary of that "
    "release, DOCKERIMAGES_DOCKER_REGISTRY at a docker-registry binary and DOCKERIMAGES_DOCKER_CLI at a docker "
    "CLI; on Debian 12, `apt-get install docker.io docker-registry` provides 20.10, the registry and the CLI"
)
# Unix socket paths must fit sockaddr_un.sun_path (108 bytes including the NUL); containerd's
# socket lives deeper than ours (exec/containerd/containerd.sock), so keep some room.
_MAX_SOCKET_PATH = 80
# Environment that must not reach dockerd or the CLI: another daemon, TLS, proxies (all our
# traffic is loopback/unix), a pinned API version, BuildKit.
_SCRUBBED_ENV = (
    "DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_CONFIG", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH",
    "DOCKER_API_VERSION", "DOCKER_BUILDKIT", "DOCKER_DEFAULT_PLATFORM", "BUILDKIT_PROGRESS",
    "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "all_proxy", "no_proxy",
)


class RealDaemonError(RuntimeError):
    """A real daemon or registry could not be started, queried or stopped."""


class MissingDaemonError(RealDaemonError):
    """A binary a variant needs is not installed; the message says how to install it."""


class DaemonSeedingError(RealDaemonError):
    """Seeding a real daemon with the image set failed at a docker CLI step; the message holds the
    command and its output. (Not a bad seed file: that is `_files.seed.SeedError`.)"""


@dataclass(frozen=True)
class Runtime:
    """A containerd + runc pair that dockerd finds on its PATH (dockerd starts containerd itself)."""

    name: str
    prefix_env: str  # env var naming the prefix; a prefix holds usr/bin, usr/sbin, bin or sbin
    default_prefix: str  # where scripts/install-daemons.sh unpacks it
    description: str


@dataclass(frozen=True)
class Engine:
    """One Docker Engine release: what it speaks, where its dockerd is, which containerd it runs."""

    version: str  # "28.5": /version's Version starts with it + "."; DOCKERIMAGES_DOCKERD_28_5 names it
    default_prefix: str  # dockerd is <prefix>/usr/sbin/dockerd
    prefix_env: str | None  # env var overriding default_prefix (None: a system package, not movable)
    runtime: str | None  # a RUNTIMES key, or None: the containerd next to dockerd (or on PATH)
    description: str
    stores: tuple[str, ...] = ("graphdriver", "containerd")

    @property
    def dockerd_env(self) -> str:
        """The env var that points at the user's own dockerd of this release."""
        return "DOCKERIMAGES_DOCKERD_" + self.version.replace(".", "_")


RUNTIMES: dict[str, Runtime] = {
    r.name: r
    for r in (
        Runtime("containerd-2.1", "DOCKERIMAGES_CONTAINERD_2_1_PREFIX", "/opt/pytest-dockerimages/containerd-2.1",
                "Debian sid's containerd 2.1.9 and runc 1.3.6"),
    )
}

ENGINES: dict[str, Engine] = {
    e.version: e
    for e in (
        Engine("20.10", "/", None, None, "Debian 12's docker.io 20.10.24, via apt",
               stores=("graphdriver",)),  # no containerd image store before Engine 24
        Engine("26.1", DEFAULT_26_1_PREFIX, "DOCKERIMAGES_DOCKER_26_1_PREFIX", None,
               "Debian 13's docker.io 26.1.5 with trixie's containerd 1.7"),
        Engine("28.1", "/opt/pytest-dockerimages/docker-28.1", "DOCKERIMAGES_DOCKER_28_1_PREFIX",
               "containerd-2.1", "Docker Engine 28.1.1, a static dockerd built from moby's tag v28.1.1"),
        Engine("28.5", "/opt/pytest-dockerimages/docker-28.5", "DOCKERIMAGES_DOCKER_28_5_PREFIX",
               "containerd-2.1", "Debian sid's docker.io 28.5.2"),
        Engine("29.7", "/opt/pytest-dockerimages/docker-29.7", "DOCKERIMAGES_DOCKER_29_7_PREFIX",
               "containerd-2.1", "Docker Engine 29.7.2, a static dockerd built from moby's tag docker-v29.7.2"),
    )
}


@dataclass(frozen=True)
class DaemonVariant:
    """One kind of real daemon: an engine version and an image store."""

    name: str
    engine: str  # an ENGINES key: "20.10" | "26.1" | "28.1" | "28.5" | "29.7"
    store: str  # "graphdriver" | "containerd"

    @property
    def spec(self) -> Engine:
        """The engine's data row."""
        return ENGINES[self.engine]

    @property
    def api_version(self) -> str:
        """The highest API version this engine speaks (what /version's ApiVersion says): its profile's."""
        return PROFILES[self.name].api_max

    @property
    def min_api_version(self) -> str:
        """The lowest API version this engine accepts (what /version's MinAPIVersion says): its profile's."""
        return PROFILES[self.name].api_min

    @property
    def storage_driver(self) -> str:
        """`--storage-driver`: vfs for the graphdriver store; with the containerd store the flag
        names a containerd snapshotter, and "vfs" fails at unpack time, so use "native"."""
        return "native" if self.store == "containerd" else "vfs"

    @property
    def daemon_json(self) -> dict[str, Any]:
        """Our own daemon.json (passed with --config-file, so /etc/docker/daemon.json is never read)."""
        return {"features": {"containerd-snapshotter": True}} if self.store == "containerd" else {}


def _variant_name(engine: Engine, store: str) -> str:
    return f"docker-{engine.version}" + ("-containerd" if store == "containerd" else "")


VARIANTS: dict[str, DaemonVariant] = {
    _variant_name(e, store): DaemonVariant(_variant_name(e, store), e.version, store)
    for e in ENGINES.values()
    for store in e.stores
}
DEFAULT_VARIANT = "docker-26.1"


def get_variant(variant: str | DaemonVariant) -> DaemonVariant:
    """Accept a name or a variant, so every public function can take either."""
    if isinstance(variant, DaemonVariant):
        return variant
    try:
        return VARIANTS[variant]
    except KeyError:
        raise ValueError(f"unknown real daemon variant {variant!r}; known: {', '.join(VARIANTS)}") from None


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def find_dockerd(variant: str | DaemonVariant) -> Path | None:
    """The dockerd binary for a variant, or None when it is not installed.

    Env var DOCKERIMAGES_DOCKERD_<ENGINE> (e.g. DOCKERIMAGES_DOCKERD_28_5) wins (a wrong path gives
    None, not a silent fallback); otherwise <prefix>/usr/sbin/dockerd, where the prefix is the
    engine's DOCKERIMAGES_DOCKER_<ENGINE>_PREFIX or the default prefix of scripts/install-daemons.sh
    (20.10: Debian's own /usr/sbin/dockerd).
    """
    spec = get_variant(variant).spec
    override = os.environ.get(spec.dockerd_env)
    if override:
        path = Path(override)
    else:
        prefix = os.environ.get(spec.prefix_env, "") if spec.prefix_env else ""
        path = Path(prefix or spec.default_prefix) / "usr/sbin/dockerd"
    return path if _executable(path) else None


def _runtime_dirs(prefix: Path) -> list[Path]:
    return [d for d in (prefix / "usr/sbin", prefix / "usr/bin", prefix / "sbin", prefix / "bin") if d.is_dir()]


def find_runtime(variant: str | DaemonVariant) -> list[Path] | None:
    """The directories to put first on dockerd's PATH so it finds the engine's containerd and runc.

    [] for engines that use the containerd next to their dockerd; None when the engine needs a
    runtime (RUNTIMES) whose prefix has no containerd. The prefix is the runtime's env var (e.g.
    DOCKERIMAGES_CONTAINERD_2_1_PREFIX; "/" or "/usr/local" for a system-wide containerd) or its
    default from scripts/install-daemons.sh.
    """
    spec = get_variant(variant).spec
    if spec.runtime is None:
        return []
    runtime = RUNTIMES[spec.runtime]
    dirs = _runtime_dirs(Path(os.environ.get(runtime.prefix_env) or runtime.default_prefix))
    return dirs if any(_executable(d / "containerd") for d in dirs) else None


def install_hint(variant: str | DaemonVariant) -> str:
    """How to get a variant's binaries, for skip reasons: the env var that points at a user's own
    dockerd, and where the daemon is looked for otherwise."""
    v = get_variant(variant)
    spec = v.spec
    where = "/usr/sbin/dockerd" if spec.prefix_env is None else f"{spec.default_prefix}/usr/sbin/dockerd"
    hint = f"point {spec.dockerd_env} at your own dockerd {spec.version}.x"
    if spec.runtime is not None:
        runtime = RUNTIMES[spec.runtime]
        hint += (f" (it runs with the containerd and runc under ${runtime.prefix_env}, default "
                 f"{runtime.default_prefix}; set it to / for a system-wide containerd)")
    return (f"{hint}; otherwise it is looked for at {where} ({spec.description}); the seed also needs "
            "DOCKERIMAGES_DOCKER_REGISTRY (a docker-registry binary) and DOCKERIMAGES_DOCKER_CLI (a docker CLI) "
            "where they are not on PATH")


def find_registry_binary() -> Path | None:
    """Debian's docker-registry (Distribution v2); env DOCKERIMAGES_DOCKER_REGISTRY overrides."""
    override = os.environ.get("DOCKERIMAGES_DOCKER_REGISTRY")
    path = Path(override) if override else Path(shutil.which("docker-registry") or "/usr/bin/docker-registry")
    return path if _executable(path) else None


def find_docker_cli() -> Path | None:
    """The docker CLI used for seeding; env DOCKERIMAGES_DOCKER_CLI overrides."""
    override = os.environ.get("DOCKERIMAGES_DOCKER_CLI")
    found = override or shutil.which("docker")
    return Path(found) if found and _executable(Path(found)) else None


def missing_requirements(variant: str | DaemonVariant, seed: bool = True) -> list[str]:
    """Human-readable list of what is missing to start (and seed) a variant; empty when ready."""
    v = get_variant(variant)
    missing = []
    if find_dockerd(v) is None:
        missing.append(f"dockerd {v.engine} for {v.name}")
    if find_runtime(v) is None and v.spec.runtime is not None:
        runtime = RUNTIMES[v.spec.runtime]
        missing.append(f"containerd and runc ({runtime.description}) under ${runtime.prefix_env} "
                       f"(default {runtime.default_prefix})")
    if seed and find_registry_binary() is None:
        missing.append("docker-registry (or set DOCKERIMAGES_DOCKER_REGISTRY)")
    if seed and find_docker_cli() is None:
        missing.append("the docker CLI (or set DOCKERIMAGES_DOCKER_CLI)")
    return missing


# --------------------------------------------------------------------------- process helpers


def _die_with_parent() -> None:
    """preexec_fn: ask the kernel to SIGTERM the child if the test process dies (PR_SET_PDEATHSIG),
    so a crashed or SIGKILLed pytest does not leave a dockerd behind. Best effort. The signal
    follows the *thread* that forked: start daemons from a long-lived thread (pytest's main one)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)  # 1 == PR_SET_PDEATHSIG


def _private_dir(prefix: str) -> Path:
    """A fresh dir for one daemon, short enough for the unix sockets inside it."""
    base = tempfile.gettempdir()
    if len(base) > _MAX_SOCKET_PATH - 40:
        base = "/tmp"
    return Path(tempfile.mkdtemp(prefix=prefix, dir=base))


def _children(pid: int) -> list[int]:
    """Direct children of `pid` (from /proc), to clean up what dockerd spawned if it is SIGKILLed."""
    kids: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError):
                kids += [int(x) for x in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
    return kids


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    """True if the pid exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def _terminate(proc: subprocess.Popen[bytes], owned_dir: Path, timeout: float) -> None:
    """SIGTERM the process we started (then SIGKILL), wait for it, and stop any child of it that
    survived and whose command line names our private dir (dockerd's own containerd)."""
    if proc.poll() is None:
        kids = _children(proc.pid)
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout)
    else:
        kids = []
    deadline = time.monotonic() + timeout
    for kid in kids:
        if not (_alive(kid) and str(owned_dir) in _cmdline(kid)):
            continue
        with contextlib.suppress(ProcessLookupError):
            os.kill(kid, signal.SIGTERM)
        while _alive(kid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _alive(kid) and str(owned_dir) in _cmdline(kid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(kid, signal.SIGKILL)


def _unmount_below(path: Path) -> None:
    """Detach any mount left under our private dir (none expected with vfs/native), so rmtree
    never descends into a mounted filesystem."""
    try:
        mounts = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return
    prefix = str(path) + "/"
    targets = [line.split()[1].replace("\\040", " ") for line in mounts if len(line.split()) > 1]
    for target in sorted((t for t in targets if t.startswith(prefix)), key=len, reverse=True):
        subprocess.run(["umount", "-l", target], check=False, capture_output=True)


def _stop_owned(proc: subprocess.Popen[bytes] | None, owned_dir: Path | None, timeout: float, *,
                unmount: bool) -> None:
    """Stop the process we started (by PID, never by name) and remove the private dir it used."""
    if proc is not None:
        assert owned_dir is not None
        _terminate(proc, owned_dir, timeout)
    if owned_dir is not None and owned_dir.exists():
        if unmount:
            _unmount_below(owned_dir)
        shutil.rmtree(owned_dir, ignore_errors=True)


def _log_tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# --------------------------------------------------------------------------- the daemon


class RealDaemon:
    """A real dockerd on a private unix socket, in a fresh temp dir that `stop()` removes.

    Use as a context manager, or call `start()` / `stop()`. Only the process started here is ever
    signalled. Attributes after start: `docker_host` ("unix:///.../docker.sock"), `socket_path`,
    `pid`, `version` (the /version JSON), `store`, `variant`, `dir`; `seed` and `registry` are set
    by `dockerimages_real_daemon_factory`.
    """

    def __init__(
        self,
        variant: str | DaemonVariant = DEFAULT_VARIANT,
        dockerd: str | Path | None = None,
        *,
        start_timeout: float = 60.0,
        stop_timeout: float = 20.0,
    ) -> None:
        self.variant = get_variant(variant)
        self.dockerd = Path(dockerd) if dockerd else find_dockerd(self.variant)
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.dir: Path | None = None
        self.version: dict[str, Any] = {}
        self.seed: dict[str, Any] = {}
        self.registry: RealRegistry | None = None
        self.start_seconds: float | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    # -- properties
    @property
    def store(self) -> str:
        return self.variant.store

    @property
    def socket_path(self) -> Path:
        if self.dir is None:
            raise RealDaemonError("daemon not started")
        return self.dir / "docker.sock"

    @property
    def docker_host(self) -> str:
        return f"unix://{self.socket_path}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def log_path(self) -> Path | None:
        return self.dir / "dockerd.log" if self.dir else None

    def log_tail(self, lines: int = 25) -> str:
        """The end of dockerd's log, for error messages."""
        return _log_tail(self.log_path, lines) if self.log_path else "(not started)"

    def get(self, path: str, timeout: float = 10.0) -> tuple[int, dict[str, str], bytes]:
        """GET `path` from this daemon over its unix socket."""
        status, headers, body = request(self.docker_host, "GET", path, timeout=timeout)
        return status, dict(headers), body

    def get_json(self, path: str) -> Any:
        """GET and decode JSON, raising on a non-2xx status."""
        status, _, body = self.get(path)
        if not 200 <= status < 300:
            raise RealDaemonError(f"GET {path} -> {status}: {body[:300]!r}")
        return json.loads(body)

    # -- lifecycle
    def _command(self) -> list[str]:
        """dockerd's command line: everything private to self.dir, no network setup at all."""
        assert self.dir is not None and self.dockerd is not None
        d = self.dir
        return [
            str(self.dockerd),
            "--config-file", str(d / "daemon.json"),
            "--host", f"unix://{d / 'docker.sock'}",
            "--data-root", str(d / "root"),
            "--exec-root", str(d / "exec"),
            "--pidfile", str(d / "dockerd.pid"),
            "--iptables=false", "--ip6tables=false", "--bridge=none",
            f"--storage-driver={self.variant.storage_driver}",
        ]

    def _environment(self) -> dict[str, str]:
        """dockerd's env: scrubbed of other daemons and proxies; PATH starts with the engine's
        runtime (sid's containerd 2.1 and runc for 28.x/29.x), then the engine's own dirs, so an
        unpacked 26.1 finds its own containerd before the system's 1.6."""
        env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED_ENV}
        assert self.dockerd is not None
        sbin = self.dockerd.resolve().parent
        extra = [str(d) for d in find_runtime(self.variant) or []] + [str(sbin), str(sbin.parent / "bin")]
        env["PATH"] = os.pathsep.join(extra + [env.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")])
        env["TMPDIR"] = str(self.dir / "tmp") if self.dir else env.get("TMPDIR", "/tmp")
        return env

    def start(self) -> "RealDaemon":
        """Launch dockerd and wait until /_ping answers; raises RealDaemonError with the log tail."""
        if self._proc is not None:
            raise RealDaemonError("already started")
        if self.dockerd is None:
            raise MissingDaemonError(
                f"no dockerd {self.variant.engine} for {self.variant.name}: {install_hint(self.variant)}")
        if find_runtime(self.variant) is None:
            raise MissingDaemonError(f"{self.variant.name} needs {', '.join(missing_requirements(self.variant, False))}"
                                     f": {install_hint(self.variant)}")
        t0 = time.monotonic()
        self.dir = _private_dir("dkimg-")
        if len(str(self.socket_path)) > _MAX_SOCKET_PATH:
            shutil.rmtree(self.dir, ignore_errors=True)
            raise RealDaemonError(f"socket path {self.socket_path} too long for a unix socket")
        (self.dir / "tmp").mkdir()
        (self.dir / "daemon.json").write_text(json.dumps(self.variant.daemon_json))
        with open(self.dir / "dockerd.log", "wb") as log:
            self._proc = subprocess.Popen(
                self._command(), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env=self._environment(), cwd=self.dir, preexec_fn=_die_with_parent,
            )
        try:
            self._wait_ready(t0 + self.start_timeout)
            self.version = self.get_json("/version")
            self._check_identity()
        except BaseException:
            self.stop()
            raise
        self.start_seconds = time.monotonic() - t0
        return self

    def _wait_ready(self, deadline: float) -> None:
        """Poll /_ping; fail early if dockerd exits, late if it never answers."""
        assert self._proc is not None
        while True:
            if self._proc.poll() is not None:
                raise RealDaemonError(
                    f"dockerd ({self.variant.name}) exited with {self._proc.returncode} before it was ready; "
                    f"log tail:\n{self.log_tail()}")
            with contextlib.suppress(OSError, http.client.HTTPException):
                status, _, body = request(self.docker_host, "GET", "/_ping", timeout=2.0)
                if status == 200 and body.strip() == b"OK":
                    return
            if time.monotonic() > deadline:
                raise RealDaemonError(
                    f"dockerd ({self.variant.name}) not ready after {self.start_timeout:.0f} s; "
                    f"log tail:\n{self.log_tail()}")
            time.sleep(0.05)

    def _check_identity(self) -> None:
        """Make sure the binary really is the variant's engine and store: an env var pointing at the
        wrong dockerd must fail loudly, not record the wrong daemon."""
        version = str(self.version.get("Version", ""))
        if not version.startswith(self.variant.engine + "."):
            raise RealDaemonError(
                f"{self.dockerd} is Docker {version}, but {self.variant.name} needs {self.variant.engine}")
        info = self.get_json("/info")
        status = json.dumps(info.get("DriverStatus") or [])
        on_containerd = "io.containerd.snapshotter" in status
        if on_containerd != (self.variant.store == "containerd"):
            raise RealDaemonError(
                f"{self.variant.name}: expected the {self.variant.store} store, daemon reports "
                f"Driver={info.get('Driver')!r} DriverStatus={status}")

    def stop(self) -> None:
        """SIGTERM our dockerd (SIGKILL after stop_timeout), wait for it, remove the dir. Idempotent."""
        _stop_owned(self._proc, self.dir, self.stop_timeout, unmount=True)
        self._proc = None

    def __enter__(self) -> "RealDaemon":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<RealDaemon {self.variant.name} pid={self.pid} host={self.docker_host if self.dir else None}>"


# --------------------------------------------------------------------------- the registry


def free_loopback_port() -> int:
    """A port that was free on 127.0.0.1 a moment ago (bind port 0, read it, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def registry_manifest_digest(addr: str, repo: str, tag: str) -> str:
    """The digest a registry stores for repo:tag (HEAD /v2/<repo>/manifests/<tag>). Why: on the
    containerd store the daemon's own RepoDigests can name a digest the registry does not have."""
    accept = ", ".join((
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.index.v1+json",
    ))
    status, headers, _ = request(f"tcp://{addr}", "HEAD", f"/v2/{repo}/manifests/{tag}", {"Accept": accept},
                                 timeout=5.0)
    digest = find_header(headers, "docker-content-digest") or ""
    if status != 200 or not digest.startswith("sha256:"):
        raise RealDaemonError(f"registry {addr} has no manifest for {repo}:{tag} (HTTP {status})")
    return digest


class RealRegistry:
    """Debian's docker-registry on 127.0.0.1:<free port>, storing blobs in a private temp dir.

    Why: pushing to it is the only way (without outside registries) to give images RepoDigests
    and to pull an image back by digest alone. Docker treats 127.0.0.0/8 registries as insecure,
    so plain http works with no daemon configuration.
    """

    def __init__(self, binary: str | Path | None = None, *, start_timeout: float = 20.0,
                 stop_timeout: float = 10.0) -> None:
        self.binary = Path(binary) if binary else find_registry_binary()
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.dir: Path | None = None
        self.port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def addr(self) -> str:
        """host:port to put in image references (e.g. 127.0.0.1:43123/example/tiny:1.0)."""
        if self.port is None:
            raise RealDaemonError("registry not started")
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def _config(self) -> str:
        assert self.dir is not None
        return (
            "version: 0.1\n"
            "log:\n  level: warn\n"
            f"storage:\n  filesystem:\n    rootdirectory: {self.dir / 'data'}\n  delete:\n    enabled: true\n"
            f"http:\n  addr: 127.0.0.1:{self.port}\n  secret: local-test-registry-not-a-secret\n"
        )

    def start(self) -> "RealRegistry":
        """Start on a free loopback port; retries with a new port if another process grabbed it."""
        if self._proc is not None:
            raise RealDaemonError("already started")
        if self.binary is None:
            raise MissingDaemonError(
                "docker-registry not found: set DOCKERIMAGES_DOCKER_REGISTRY to a Distribution (v2) registry "
                "binary, or on Debian `apt-get install docker-registry`")
        self.dir = _private_dir("dkreg-")
        try:
            for _attempt in range(3):
                self.port = free_loopback_port()
                (self.dir / "config.yml").write_text(self._config())
                with open(self.dir / "registry.log", "wb") as log:
                    env = {k: v for k, v in os.environ.items()
                           if k not in _SCRUBBED_ENV and not k.startswith("REGISTRY_")}
                    self._proc = subprocess.Popen(
                        [str(self.binary), "serve", str(self.dir / "config.yml")], stdin=subprocess.DEVNULL,
                        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=self.dir, preexec_fn=_die_with_parent,
                    )
                if self._wait_ready(time.monotonic() + self.start_timeout):
                    return self
                _terminate(self._proc, self.dir, self.stop_timeout)
                self._proc = None
            raise RealDaemonError(f"docker-registry did not start; log tail:\n{_log_tail(self.dir / 'registry.log')}")
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, deadline: float) -> bool:
        """True once GET /v2/ answers 200; False if the process exited (e.g. port taken)."""
        assert self._proc is not None
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                return False
            with contextlib.suppress(OSError, http.client.HTTPException):
                if request(f"tcp://{self.addr}", "GET", "/v2/", timeout=2.0)[0] == 200:
                    return True
            time.sleep(0.05)
        raise RealDaemonError(f"docker-registry not ready after {self.start_timeout:.0f} s; log tail:\n"
                              f"{_log_tail(self.dir / 'registry.log') if self.dir else ''}")

    def manifest_digest(self, repo: str, tag: str) -> str:
        """The digest this registry stores for repo:tag (see `registry_manifest_digest`)."""
        return registry_manifest_digest(self.addr, repo, tag)

    def stop(self) -> None:
        """Stop the registry process we started and remove its dir. Idempotent."""
        _stop_owned(self._proc, self.dir, self.stop_timeout, unmount=False)
        self._proc = None

    def __enter__(self) -> "RealRegistry":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --------------------------------------------------------------------------- seeding


@dataclass
class _Cli:
    """The docker CLI bound to one daemon, with its own empty config dir (no contexts, no
    credentials, no plugins of the user's), so nothing but DOCKER_HOST decides where it talks."""

    binary: Path
    docker_host: str
    config_dir: Path
    log: list[str] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED_ENV}
        env.update(DOCKER_HOST=self.docker_host, DOCKER_CONFIG=str(self.config_dir), DOCKER_BUILDKIT="0",
                   DOCKER_CLI_HINTS="false")
        return env

    def __call__(self, *args: str, cwd: Path | None = None) -> str:
        """Run one docker command; raise DaemonSeedingError with its output on failure; return stdout."""
        cmd = [str(self.binary), *args]
        t0 = time.monotonic()
        proc = subprocess.run(cmd, env=self.env(), cwd=cwd, capture_output=True, text=True, timeout=120,
                              stdin=subprocess.DEVNULL)
        self.log.append(f"docker {' '.join(args)}  [{time.monotonic() - t0:.2f} s]")
        if proc.returncode != 0:
            raise DaemonSeedingError(
                f"`docker {' '.join(args)}` failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
        return proc.stdout.strip()


_DOCKERFILE = """\
FROM example/loaded:base
COPY one.txt /one.txt
LABEL stage=one
COPY two.txt /two.txt
LABEL org.example.kind=built version=1
"""


def _write_context(ctx: Path, two: str) -> None:
    """The legacy-build context: each step leaves an intermediate image (visible with all=1)."""
    ctx.mkdir(exist_ok=True)
    (ctx / "Dockerfile").write_text(_DOCKERFILE)
    (ctx / "one.txt").write_text("one\n")
    (ctx / "two.txt").write_text(two)


def _import_tarball(path: Path) -> None:
    """A one-file rootfs for `docker import` (its ID still changes per run: Created = now)."""
    data = b"hello\n"
    import io
    import tarfile

    with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo("hello.txt")
        info.size, info.mtime, info.mode = len(data), imagetar.FIXED_MTIME, 0o644
        tar.addfile(info, io.BytesIO(data))


#: Containers made with `docker create` (no runc needed): which image, how many.
_CONTAINERS = (("example/loaded:app", 2), ("example/multi:1", 1))


def seed_image_set(docker_host: str, registry_addr: str, *, docker_cli: str | Path | None = None) -> dict[str, Any]:
    """Put a varied image set into the daemon at `docker_host`, using only the local registry.

    What it creates (R = registry_addr):
      - docker load: example/loaded:{base,latest} and example/loaded:app (fixed IDs, ParentId app->base,
        labels, Created 2023/2024) and example/epoch:0 (Created 0, no labels);
      - docker load of an OCI layout: example/nocreated:1 (its config has no "created") and
        example/multi:1, an amd64 + arm64 index (the graphdriver store loads its amd64 image);
      - docker create --network none: two containers of example/loaded:app, one of example/multi:1;
      - docker import with LABEL changes: example/tiny:1.0, tagged also example/tiny:latest and R/example/tiny:1.0;
      - legacy docker build FROM example/loaded:base, twice with a changed file: example/built:1,
        untagged intermediates (all=1 only), and the first build's result left dangling;
      - pushes: R/example/tiny:1.0 and R/example/loaded:app get RepoDigests;
      - a digest-only image: R/example/epoch pushed, every tag removed, pulled back by digest.
    Returns a description: tags, repo_digests {R/repo: digest}, digest_only ref, loaded_ids, oci_tags,
    containers {image: [container ids]}, built/dangling IDs, steps and seconds.
    """
    cli_path = Path(docker_cli) if docker_cli else find_docker_cli()
    if cli_path is None:
        raise MissingDaemonError("the docker CLI is needed to seed images (not on PATH; set DOCKERIMAGES_DOCKER_CLI)")
    host = registry_addr.rpartition(":")[0]
    if host not in ("127.0.0.1", "localhost", "[::1]"):
        raise ValueError(f"registry {registry_addr} is not on loopback: the seed talks to loopback only")
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="dkseed-") as tmp:
        work = Path(tmp)
        (work / "config").mkdir()
        docker = _Cli(cli_path, docker_host, work / "config")
        r = registry_addr

        loaded_ids = imagetar.write_archive(work / "loaded.tar")
        docker("load", "-q", "-i", str(work / "loaded.tar"))

        _import_tarball(work / "tiny.tar")
        docker("import", "--change", "LABEL a=b", "--change", "LABEL org.example.kind=imported",
               "-m", "tiny import", str(work / "tiny.tar"), "example/tiny:1.0")
        docker("tag", "example/tiny:1.0", "example/tiny:latest")
        docker("tag", "example/tiny:1.0", f"{r}/example/tiny:1.0")

        _write_context(work / "ctx", "two\n")
        dangling_id = docker("build", "-q", "-t", "example/built:1", str(work / "ctx"))
        first_build = time.monotonic()

        # the OCI load, containers and pushes run while the clock moves on, so the rebuild gets a later
        # Created second
        imagetar.write_oci_archive(work / "oci.tar")
        docker("load", "-q", "-i", str(work / "oci.tar"))
        containers = {image: [docker("create", "--network", "none", image) for _ in range(count)]
                      for image, count in _CONTAINERS}
        docker("push", "-q", f"{r}/example/tiny:1.0")
        docker("tag", "example/loaded:app", f"{r}/example/loaded:app")
        docker("push", "-q", f"{r}/example/loaded:app")

        docker("tag", "example/epoch:0", f"{r}/example/epoch:0")
        docker("push", "-q", f"{r}/example/epoch:0")
        epoch_digest = registry_manifest_digest(registry_addr, "example/epoch", "0")
        docker("rmi", "-f", "example/epoch:0", f"{r}/example/epoch:0")
        digest_only = f"{r}/example/epoch@{epoch_digest}"
        docker("pull", "-q", digest_only)

        time.sleep(max(0.0, 1.05 - (time.monotonic() - first_build)))  # distinct Created seconds
        _write_context(work / "ctx", "two-v2\n")
        built_id = docker("build", "-q", "-t", "example/built:1", str(work / "ctx"))
        steps = list(docker.log)

    oci_tags = sorted([*(t for spec in imagetar.OCI_IMAGES for t in spec.tags),
                       *(index.tag for index in imagetar.OCI_INDEXES)])
    return {
        "registry": registry_addr,
        "tags": sorted([
            "example/loaded:base", "example/loaded:latest", "example/loaded:app",
            "example/tiny:1.0", "example/tiny:latest", f"{r}/example/tiny:1.0",
            f"{r}/example/loaded:app", "example/built:1", *oci_tags,
        ]),
        "repo_digests": {
            f"{r}/example/tiny": registry_manifest_digest(registry_addr, "example/tiny", "1.0"),
            f"{r}/example/loaded": registry_manifest_digest(registry_addr, "example/loaded", "app"),
            f"{r}/example/epoch": epoch_digest,
        },
        "digest_only": digest_only,
        "oci_tags": oci_tags,
        "containers": containers,
        "loaded_ids": loaded_ids,
        "built_id": built_id.strip(),
        "dangling_id": dangling_id.strip(),
        "steps": steps,
        "seconds": round(time.monotonic() - t0, 2),
    }


# --------------------------------------------------------------------------- the fixture helper


@contextlib.contextmanager
def dockerimages_real_daemon_factory(variant_name: str = DEFAULT_VARIANT, *, seed: bool = True) -> Iterator[RealDaemon]:
    """Start a registry and the named daemon, seed the image set, yield the daemon, stop both.

    Raises MissingDaemonError (before starting anything) when a binary is missing, so callers can
    decide between skip and fail. The yielded daemon has `.registry` and `.seed` (the description
    from `seed_image_set`, plus "start_seconds").
    """
    variant = get_variant(variant_name)
    missing = missing_requirements(variant, seed=seed)
    if missing:
        raise MissingDaemonError(f"{variant.name} needs {', '.join(missing)}: {install_hint(variant)}")
    with contextlib.ExitStack() as stack:
        registry = stack.enter_context(RealRegistry()) if seed else None
        daemon = stack.enter_context(RealDaemon(variant))
        daemon.registry = registry
        if registry is not None:
            daemon.seed = seed_image_set(daemon.docker_host, registry.addr)
        daemon.seed["start_seconds"] = round(daemon.start_seconds or 0.0, 2)
        yield daemon


def _main(argv: Sequence[str] | None = None) -> int:  # pragma: no cover - manual smoke test
    """`python -m pytest_dockerimages._real.harness [VARIANT]`: start, seed, print timings, stop."""
    import sys

    args = list(sys.argv[1:] if argv is None else argv)
    with dockerimages_real_daemon_factory(args[0] if args else DEFAULT_VARIANT) as daemon:
        print(json.dumps({"variant": daemon.variant.name, "version": daemon.version.get("Version"),
                          "api": daemon.version.get("ApiVersion"), **daemon.seed}, indent=2))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(_main())
