"""Seed files: what a fake daemon holds, as YAML or JSON (`images: [...]`, optional `profile:`)."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from .._core.model import Image, ModelError
from .._core.profiles import PROFILES
from .atomicfile import atomic_write_bytes

SEED_VERSION = 1


class SeedError(ValueError):
    """A seed file that cannot be used; the message names the file and the entry."""


@dataclass(frozen=True)
class Seed:
    images: tuple[Image, ...]
    profile: str | None = None


def _load_text(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SeedError(f"{path}: cannot read seed file: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise SeedError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    if path.suffix == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise SeedError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
    import yaml  # a runtime dependency, imported when a YAML seed is read; only ever safe_load

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise SeedError(f"{path}{where}: invalid YAML: {problem}") from None


def parse_seed(data: Any, source: str = "<seed>") -> Seed:
    """Validate a parsed seed document and build its images."""
    if isinstance(data, list):
        data = {"images": data}
    if not isinstance(data, dict):
        raise SeedError(f"{source}: expected a mapping with an 'images' list, got {type(data).__name__}")
    unknown = set(data) - {"images", "profile", "version", "source"}
    if unknown:
        raise SeedError(f"{source}: unknown top-level key(s) {sorted(unknown)}; expected images, profile")
    version = data.get("version", SEED_VERSION)
    if version != SEED_VERSION:
        raise SeedError(f"{source}: seed version {version!r} is not supported (this tool reads version {SEED_VERSION})")
    profile = data.get("profile")
    if profile is not None and profile not in PROFILES:
        raise SeedError(f"{source}: profile: unknown profile {profile!r}; known: {', '.join(PROFILES)}")
    entries = data.get("images")
    if entries is None:
        entries = []
    if not isinstance(entries, list):
        raise SeedError(f"{source}: images: expected a list, got {type(entries).__name__}")
    images = []
    for index, entry in enumerate(entries):
        try:
            images.append(Image.from_dict(entry, f"images[{index}]"))
        except ModelError as exc:
            raise SeedError(f"{source}: {exc}") from None
    return Seed(tuple(images), profile)


def load_seed(path: str | os.PathLike[str]) -> Seed:
    """Read a YAML or JSON seed file; a bad one raises SeedError naming the file and the entry."""
    path = Path(path)
    return parse_seed(_load_text(path), str(path))


def seed_document(images: Iterable[Image], profile: str | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {"version": SEED_VERSION}
    if profile:
        doc["profile"] = profile
    doc["images"] = [image.to_dict() for image in images]
    return doc


def dump_seed(images: Iterable[Image], path: str | os.PathLike[str], profile: str | None = None) -> Path:
    """Write a seed file (YAML unless the name ends in .json) atomically: temp file, then rename."""
    path = Path(path)
    doc = seed_document(images, profile)
    if path.suffix == ".json":
        text = json.dumps(doc, indent=2) + "\n"
    else:
        import yaml

        text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=120)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, text.encode("utf-8"))
    return path
