#!/usr/bin/env python3
"""Record the shipped cassettes from private real daemons: `python scripts/record_cassettes.py`.

For each variant (docker-20.10, docker-26.1, docker-26.1-containerd, or those named on the
command line) this starts a local registry and a private dockerd (see
pytest_dockerimages/_real/harness.py; install them with `bash scripts/install-daemons.sh`), seeds the
standard image set, then records through the recording proxy:

1. the standard request matrix (pytest_dockerimages/_real/matrix.py: listings, image history, system
   df) plus an inspect and a history of every image;
2. the docker CLI commands of matrix.CLI_COMMANDS, run with DOCKER_HOST set to the proxy, by
   every docker CLI installed (/usr/local/bin/docker, Debian's /usr/bin/docker): each negotiates
   its own API version;
3. the docker SDK calls of matrix.SDK_CALLS (docker.APIClient(version="auto")) through the proxy;
4. last, as the daemon is private: the prunes, each followed by the client's listings, so replay
   shows what a prune did: matrix.SDK_PRUNE_CALLS, then matrix.CLI_PRUNE_COMMANDS by the first docker
   CLI (the one the replay tests run), then the matrix's prunes (`dockerimages record --include-prune`);

and writes cassettes/<variant>.yaml atomically, then stops the daemon and the registry. The
registry's random loopback port is pseudonymised to registry.example:5000 and the daemon's
private folder to /var/lib/docker, so the files hold nothing of this machine.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence, TypeVar

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pytest_dockerimages._cassettes.cassette import Cassette  # noqa: E402
from pytest_dockerimages._cassettes.record import RecordingBackend, is_tty, record_matrix  # noqa: E402
from pytest_dockerimages._http.server import Server  # noqa: E402
from pytest_dockerimages._real.harness import VARIANTS, dockerimages_real_daemon_factory, find_docker_cli  # noqa: E402
from pytest_dockerimages._real.matrix import (  # noqa: E402
    CLI_COMMANDS,
    CLI_LISTINGS,
    CLI_PRUNE_COMMANDS,
    SDK_CALLS,
    SDK_LISTINGS,
    SDK_PRUNE_CALLS,
    prune_matrix,
    standard_matrix,
)

_T = TypeVar("_T")

REGISTRY_PSEUDONYM = "registry.example:5000"
DATA_ROOT_STAND_IN = "/var/lib/docker"


def docker_clis() -> list[str]:
    """Every docker CLI on this machine (the newer one in /usr/local/bin, Debian's in /usr/bin)."""
    found: dict[str, str] = {}
    for candidate in (find_docker_cli(), "/usr/local/bin/docker", "/usr/bin/docker"):
        if candidate and os.access(candidate, os.X_OK):
            found.setdefault(os.path.realpath(candidate), str(candidate))
    return list(found.values())


def run_cli(docker_host: str, cli: str, commands: Sequence[tuple[str, ...]]) -> None:
    with tempfile.TemporaryDirectory(prefix="dkcfg-") as config:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
        env.update(DOCKER_HOST=docker_host, DOCKER_CONFIG=config, DOCKER_CLI_HINTS="false")
        for args in commands:
            proc = subprocess.run([cli, *args], env=env, capture_output=True, text=True, timeout=60,
                                  stdin=subprocess.DEVNULL)
            if proc.returncode != 0:
                raise SystemExit(f"docker {' '.join(args)} failed through the proxy: {proc.stderr.strip()}")


def run_sdk(docker_host: str, calls: Sequence[tuple[str, dict[str, Any]]]) -> None:
    import docker

    client = docker.APIClient(base_url=docker_host, version="auto", timeout=60)
    try:
        for name, kwargs in calls:
            getattr(client, name)(**kwargs)
    finally:
        client.close()


def each_followed_by(changes: Sequence[_T], listings: Sequence[_T]) -> list[_T]:
    """Every state change followed by the listings that show it."""
    return [step for change in changes for step in (change, *listings)]


def record_variant(name: str, out_dir: Path, progress: bool) -> Path:
    out = out_dir / f"{name}.yaml"
    t0 = time.monotonic()
    with dockerimages_real_daemon_factory(name) as daemon:
        assert daemon.registry is not None and daemon.dir is not None
        cassette = Cassette(path=out)
        backend = RecordingBackend(
            daemon.docker_host, cassette,
            # Docker 29's Identity.Pull names the registry without its port: pseudonymise that form too
            pseudonyms={daemon.registry.addr: REGISTRY_PSEUDONYM,
                        daemon.registry.addr.rsplit(":", 1)[0]: REGISTRY_PSEUDONYM.rsplit(":", 1)[0]},
            replacements={str(daemon.dir / "root"): DATA_ROOT_STAND_IN, str(daemon.dir): DATA_ROOT_STAND_IN},
            errors_if_no_info=True,
        )
        api = str(cassette.metadata["daemon"]["ApiVersion"])
        record_matrix(backend, standard_matrix(api, daemon.registry.addr),
                      progress=sys.stderr if progress else None)
        clis = docker_clis()
        if not clis:
            raise SystemExit("the docker CLI is needed (set DOCKERIMAGES_DOCKER_CLI)")
        with Server(backend) as proxy:
            for cli in clis:  # each CLI version negotiates its own API version: record all of them
                run_cli(proxy.docker_host, cli, CLI_COMMANDS)
            run_sdk(proxy.docker_host, SDK_CALLS)
            # the state changes, last
            run_sdk(proxy.docker_host, each_followed_by(SDK_PRUNE_CALLS, SDK_LISTINGS))
            run_cli(proxy.docker_host, clis[0], each_followed_by(CLI_PRUNE_COMMANDS, CLI_LISTINGS))
            proxy.check_errors()
        record_matrix(backend, [], per_image=False, last=prune_matrix(api, daemon.registry.addr))
        if backend.errors:
            raise SystemExit(backend.errors[0])
        cassette.validate(str(out))
        cassette.save(out, mode="overwrite")
        (out.parent / f".{out.name}.lock").unlink(missing_ok=True)  # the only writer: no lock file to keep
    print(f"{name}: {len(cassette.interactions)} interactions -> {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out} "
          f"({time.monotonic() - t0:.1f} s)")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog="example: python scripts/record_cassettes.py docker-26.1")
    parser.add_argument("variants", nargs="*", choices=[*VARIANTS, []], metavar="VARIANT",
                        help=f"which daemons to record (default: all of {', '.join(VARIANTS)})")
    parser.add_argument("--out-dir", type=Path, default=ROOT / "cassettes", help="default: the repo's cassettes/")
    args = parser.parse_args(argv)
    for name in args.variants or list(VARIANTS):
        record_variant(name, args.out_dir, is_tty(sys.stderr))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
