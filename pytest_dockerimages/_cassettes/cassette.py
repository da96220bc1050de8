"""A cassette: recorded daemon interactions in recording order, with what replay and recording need.

The parts live beside it: the file format (``format``), canonical keys (``keys``), scrubbing and
pseudonyms (``scrub``), safe writing (``store``), metadata (``metadata``) and the nearest recorded
requests of a miss (``matching``). Here: the in-memory cassette (its profile, key index and
schema check), loading (cached per file version) and saving, which merges what other writers
saved meanwhile.
"""
from __future__ import annotations

import json
import os
import threading
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._core.daemon import split_version
from .._core.profiles import Profile
from .format import (
    CassetteError,
    CassetteNotFoundError,
    Interaction,
    changes_state,
    dump_yaml,
    parse_yaml,
    read_document,
    to_document,
)
from .keys import Key, canonical_key
from .metadata import profile_for
from .store import locked, replace_locked

__all__ = ["Cassette", "merge", "load"]


@dataclass
class Cassette:
    """Interactions in recording order plus ``metadata`` (the ``dockerimages`` mapping)."""

    path: Path | None = None
    interactions: list[Interaction] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    # -- derived
    @property
    def profile(self) -> Profile | None:
        return profile_for(self.metadata)

    @property
    def api_version(self) -> str | None:
        value = (self.metadata.get("daemon") or {}).get("ApiVersion")
        return str(value) if value else None

    def key_of(self, method: str, target: str, body: bytes | None = b"") -> Key:
        return canonical_key(method, target, body, profile=self.profile, default_api=self.api_version)

    def index(self) -> dict[Key, list[Interaction]]:
        """Key -> interactions with that key, in recording order (replay plays them in turn)."""
        return {key: [interaction for _, interaction in entries] for key, entries in self.timeline().items()}

    def timeline(self) -> dict[Key, list[tuple[int, Interaction]]]:
        """Key -> (epoch, interaction) in recording order; an interaction's epoch is how many state
        changes (:func:`changes_state`: a prune, a delete) were recorded before it, so replay can tell
        a listing taken before a prune from one taken after it."""
        profile, api = self.profile, self.api_version
        out: dict[Key, list[tuple[int, Interaction]]] = {}
        epoch = 0
        for interaction in self.interactions:
            out.setdefault(interaction.key(profile, api), []).append((epoch, interaction))
            epoch += changes_state(interaction.method, interaction.status)
        return out

    def append(self, interaction: Interaction) -> None:
        with self._lock:
            self.interactions.append(interaction)

    # -- text
    def to_document(self) -> dict[str, Any]:
        return to_document(self.interactions, self.metadata)

    def dumps(self) -> str:
        return dump_yaml(self.to_document())

    @classmethod
    def loads(cls, text: str, source: str = "<cassette>", *, validate: bool = True) -> "Cassette":
        return cls.from_document(parse_yaml(text, source), source, validate=validate)

    @classmethod
    def from_document(cls, data: Any, source: str = "<cassette>", *, validate: bool = True) -> "Cassette":
        interactions, meta = read_document(data, source)
        cassette = cls(Path(source) if source != "<cassette>" else None, interactions, meta)
        if validate:
            cassette.validate(source)
        return cassette

    def validate(self, source: str | None = None) -> None:
        """Every ``GET /images/json`` 200 body must be JSON valid against its API version's schema;
        raises `CassetteError` with the first problem."""
        problems = self.problems(source)
        if problems:
            raise CassetteError(problems[0])

    def problems(self, source: str | None = None, *, rules: bool = False) -> list[str]:
        """Each ``GET /images/json`` 200 body's problems, one line each, naming the file and the
        interaction. ``rules``: also the field rules of the body's recorded query, API version and
        profile (what ``assert_valid_images_json`` checks), not only the schema."""
        from .._files.schema import validate as schema_validate

        source = source or str(self.path or "<cassette>")
        default_api = self.api_version or (self.profile.api_max if self.profile else None)
        out: list[str] = []
        for i, it in enumerate(self.interactions):
            version, route = split_version(urllib.parse.unquote(it.target.split("?", 1)[0]))
            if it.method != "GET" or route != "/images/json" or it.status != 200:
                continue
            where = f"{source}: interaction {i} ({it.label()})"
            try:
                document = json.loads(it.body)
            except (ValueError, UnicodeDecodeError) as exc:
                out.append(f"{where}: response body is not valid JSON ({exc}); truncated cassette?")
                continue
            api = version or default_api
            if api is None:
                continue
            if rules:
                from .._assertions.body import images_json_problems

                found = images_json_problems(document, api, query=it.target.partition("?")[2], profile=self.profile)
                out += [f"{where}: {problem}" for problem in found]
                continue
            try:
                found = schema_validate("images-json", api, document)
            except ValueError as exc:
                out.append(f"{where}: {exc}")
                continue
            if found:
                listed = "; ".join(found[:5]) + (f"; and {len(found) - 5} more" if len(found) > 5 else "")
                out.append(f"{where}: body does not match the API {api} schema: {listed}")
        return out

    # -- files
    @classmethod
    def load(cls, path: str | os.PathLike[str], *, validate: bool = True) -> "Cassette":
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise CassetteNotFoundError(f"{path}: cassette file not found") from None
        except OSError as exc:
            raise CassetteError(f"{path}: cannot read cassette: {exc.strerror or exc}") from None
        except UnicodeDecodeError as exc:
            raise CassetteError(f"{path}: not UTF-8 text (byte {exc.start}); corrupt cassette?") from None
        cassette = cls.loads(text, str(path), validate=validate)
        cassette.path = path
        return cassette

    def save(self, path: str | os.PathLike[str] | None = None, *, mode: str = "merge") -> Path:
        """Write under the lock, merging with what other writers saved meanwhile.

        ``mode="merge"``: keys already in the file keep their interactions, new keys are added.
        ``mode="replace_keys"`` (record mode ``all``): our keys replace the file's, other keys stay.
        ``mode="overwrite"``: the file becomes exactly this cassette.
        """
        target = Path(path) if path is not None else self.path
        if target is None:
            raise CassetteError("cassette has no path to save to")
        target.parent.mkdir(parents=True, exist_ok=True)  # exist_ok: race-free against other workers
        with locked(target):
            merged = self
            if mode != "overwrite" and target.exists() and target.stat().st_size:
                existing = Cassette.load(target, validate=False)
                merged = merge(existing, self, replace=(mode == "replace_keys"))
            replace_locked(target, merged.dumps().encode("utf-8"))
        self.path = target
        return target


def merge(existing: Cassette, ours: Cassette, *, replace: bool = False) -> Cassette:
    """Union by canonical key, keeping recording order; never drops a key either side has."""
    profile = ours.profile or existing.profile
    api = ours.api_version or existing.api_version
    our_keys: dict[Key, list[Interaction]] = {}
    for it in ours.interactions:
        our_keys.setdefault(it.key(profile, api), []).append(it)
    out: list[Interaction] = []
    seen: set[Key] = set()
    for it in existing.interactions:
        key = it.key(profile, api)
        if replace and key in our_keys:
            continue
        seen.add(key)
        out.append(it)
    for it in ours.interactions:
        key = it.key(profile, api)
        if key in seen:
            continue
        out.append(it)
    metadata = dict(existing.metadata)
    metadata.update(ours.metadata)
    return Cassette(ours.path or existing.path, out, metadata)


# --------------------------------------------------------------------------- loading with a cache

_CACHE: dict[tuple[str, int, int], Cassette] = {}
_CACHE_LOCK = threading.Lock()


def load(path: str | os.PathLike[str]) -> Cassette:
    """``Cassette.load`` with validation, cached per (path, mtime, size): a test session validates
    each cassette once. The result is shared: do not change it."""
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise CassetteNotFoundError(f"{p}: cassette file not found") from None
    cache_key = (str(p.resolve()), st.st_mtime_ns, st.st_size)
    with _CACHE_LOCK:
        found = _CACHE.get(cache_key)
    if found is not None:
        return found
    cassette = Cassette.load(p)
    with _CACHE_LOCK:
        _CACHE[cache_key] = cassette
    return cassette
