"""A disk-usage style report of local images, built on the docker CLI's JSON output.

Why the CLI and not the SDK: the report must show exactly what `docker images` shows to a
user (rows per repository and tag, the CLI's rounding of sizes), so it parses
`docker images --format '{{json .}}'`.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass
from typing import Mapping, Sequence

_SIZE_RE = re.compile(r"^([0-9.]+)\s*([kMGTP]?B)$")
_UNITS = {"B": 1, "kB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12, "PB": 10**15}


class ReportError(RuntimeError):
    """The docker CLI failed; the message carries what it printed."""


@dataclass(frozen=True)
class Summary:
    images: int  # distinct image ids
    rows: int  # rows `docker images` printed
    untagged: int  # rows with tag <none>
    repositories: Mapping[str, tuple[str, ...]]  # repository -> sorted tags (without <none>)
    total_bytes: int  # sum over distinct images, from the CLI's rounded sizes


def parse_size(text: str) -> int:
    """`7.39MB` -> 7390000 (the CLI prints decimal units)."""
    match = _SIZE_RE.match(text.strip())
    if match is None:
        raise ValueError(f"unexpected size {text!r}")
    return round(float(match.group(1)) * _UNITS[match.group(2)])


def collect(args: Sequence[str] = (), docker: str = "docker",
            env: Mapping[str, str] | None = None) -> list[dict[str, str]]:
    """Rows of `docker images [args] --format '{{json .}}'` (DOCKER_HOST etc. from the environment)."""
    done = subprocess.run([docker, "images", *args, "--format", "{{json .}}"], capture_output=True, text=True,
                          env=dict(env) if env is not None else dict(os.environ), timeout=60)
    if done.returncode != 0:
        raise ReportError(f"docker images failed: {done.stderr.strip()}")
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def summarize(rows: Sequence[Mapping[str, str]]) -> Summary:
    repositories: dict[str, set[str]] = {}
    sizes: dict[str, int] = {}
    untagged = 0
    for row in rows:
        sizes[row["ID"]] = parse_size(row["Size"])
        if row["Tag"] == "<none>":
            untagged += 1
        if row["Repository"] != "<none>":
            tags = repositories.setdefault(row["Repository"], set())
            if row["Tag"] != "<none>":
                tags.add(row["Tag"])
    return Summary(images=len(sizes), rows=len(rows), untagged=untagged,
                   repositories={repo: tuple(sorted(tags)) for repo, tags in sorted(repositories.items())},
                   total_bytes=sum(sizes.values()))


def render(summary: Summary) -> str:
    lines = [f"{summary.images} images, {summary.rows} rows, {summary.untagged} untagged, "
             f"{summary.total_bytes / 1e6:.1f} MB"]
    for repo, tags in summary.repositories.items():
        lines.append(f"  {repo}: {', '.join(tags) or '(digests only)'}")
    return "\n".join(lines)
