"""The replay backend: answer from a cassette, matching requests semantically.

A request's canonical key (see :func:`pytest_dockerimages._cassettes.keys.canonical_key`) is looked up
in a dict built once at load time, so a lookup costs the same for 10 or 10,000 interactions.
Several interactions with one key are played in recording order, the last one repeating.

State changes (a prune, a delete: :func:`~pytest_dockerimages._cassettes.format.changes_state`) split a
recording into epochs, and replay follows them: a read plays what was recorded in the current epoch
(in order, the last repeating), else the last it recorded in an earlier one. So "list, prune, list"
shows the listing after the prune even where the listing was recorded several times before it; a
write plays in recording order and moves replay to the epoch after it.

No match: a 500 with a JSON message (what a client shows), and the miss is kept in
:attr:`ReplayBackend.misses` so the pytest fixture can fail the test with
:meth:`ReplayBackend.miss_report` (the request, the nearest recorded interactions and the command
that records it). With ``fallback=True`` a miss is answered by the fake daemon instead, seeded
with the images the cassette itself recorded and the recorded daemon's profile. The fake also
carries out the recorded state changes replay plays, so its images follow the recording; once it
has carried out an unrecorded one, the recording no longer describes the daemon, and the fake
answers every later request.
"""
from __future__ import annotations

import json
import os
import threading
import urllib.parse
from dataclasses import dataclass
from typing import Any, Callable

from .._core.daemon import split_version
from .._core.listed import build_images
from .._core.model import Image, ImageStore, ModelError
from .._core.profiles import Profile, get_profile, version_tuple
from .._core.query import bool_value
from .._core.timestamps import to_ns
from .._core.wire import Backend, Request, Response
from .cassette import Cassette, load
from .format import HOP_BY_HOP, CassetteError, Interaction, changes_state
from .keys import Key, describe_key
from .matching import nearest

__all__ = ["ReplayBackend", "Miss", "images_from_cassette"]

_DROPPED = HOP_BY_HOP | {"date"}  # the server writes framing and a fresh Date


_KEPT_KEYS = 4096  # distinct requests whose canonical key is kept
_KEPT_BODY_BYTES = 1024  # requests with longer bodies are keyed anew each time

Matcher = Callable[[Request, "list[Interaction]"], "Interaction | None"]


@dataclass(frozen=True)
class Miss:
    method: str
    target: str
    key: Key


class ReplayBackend:
    """``handle(Request) -> Response`` from a cassette; see the module docstring."""

    def __init__(self, cassette: Cassette, *, fallback: bool = False, record_command: str | None = None,
                 matcher: Matcher | None = None) -> None:
        self.cassette = cassette
        self.profile: Profile | None = cassette.profile
        timeline = cassette.timeline()
        self._index: dict[Key, list[Interaction]] = {k: [it for _, it in v] for k, v in timeline.items()}
        self._recorded = {key: _Recorded(entries) for key, entries in timeline.items()}
        self._epoch_of = {id(it): epoch for entries in timeline.values() for epoch, it in entries}
        self._epoch = 0  # state changes played so far, as the recording counts them
        self._diverged = False  # the fallback fake carried out an unrecorded state change
        self._played: dict[tuple[Key, int | None], int] = {}
        self._lock = threading.Lock()
        self.misses: list[Miss] = []
        self.fallback_hits: list[Miss] = []
        self.played: list[Interaction] = []  # every answered interaction, in order
        # Requests repeat (tests poll the same listing): their keys and the recorded responses'
        # headers are kept, bounded, instead of being parsed and filtered again each time.
        self._keys: dict[tuple[str, str, bytes], Key] = {}
        self._headers: dict[tuple[int, bool], tuple[Interaction, tuple[tuple[str, str], ...]]] = {}
        self.record_command = record_command
        self.fake = _fallback_backend(cassette) if fallback else None
        #: Asked when the canonical lookup misses: ``matcher(request, interactions)`` returns one of
        #: the interactions or None (the pytest hook ``pytest_dockerimages_match_request``).
        self.matcher = matcher

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], fallback: bool = False, *,
                  record_command: str | None = None, matcher: Matcher | None = None) -> "ReplayBackend":
        """Load (and validate, once per file version) a cassette and replay it."""
        return cls(load(path), fallback=fallback, record_command=record_command, matcher=matcher)

    # -- lookups
    def key_of(self, request: Request) -> Key:
        if len(request.body) > _KEPT_BODY_BYTES:
            return self.cassette.key_of(request.method, request.target, request.body)
        seen = (request.method, request.target, request.body)
        key = self._keys.get(seen)
        if key is None:
            key = self.cassette.key_of(request.method, request.target, request.body)
            if len(self._keys) < _KEPT_KEYS:
                self._keys[seen] = key
        return key

    def lookup(self, request: Request) -> Interaction | None:
        key = self.key_of(request)
        recorded = self._recorded.get(key)
        if recorded is None:
            return self._match(request)
        with self._lock:
            slot, candidates = recorded.candidates(self._epoch)
            turn = self._played.get((key, slot), 0)
            self._played[(key, slot)] = turn + 1
            interaction = candidates[min(turn, len(candidates) - 1)]
            self._played_locked(interaction)
        return interaction

    def _played_locked(self, interaction: Interaction) -> None:
        """Note an answer; a recorded state change moves replay to the epoch after it."""
        self.played.append(interaction)
        if changes_state(interaction.method, interaction.status):
            self._epoch = max(self._epoch, self._epoch_of.get(id(interaction), self._epoch) + 1)

    def _match(self, request: Request) -> Interaction | None:
        """The custom matcher's pick for a request the index does not hold, if any."""
        if self.matcher is None:
            return None
        picked = self.matcher(request, list(self.cassette.interactions))
        if picked is None:
            return None
        if not isinstance(picked, Interaction):
            raise TypeError(f"a request matcher (pytest_dockerimages_match_request) returned "
                            f"{type(picked).__name__}, expected one of the candidate Interactions or None")
        with self._lock:
            self._played_locked(picked)
        return picked

    def playback(self, request: Request) -> Response | None:
        """The recorded answer, or None (used by the recorder in record mode new_episodes)."""
        interaction = self.lookup(request)
        return None if interaction is None else self._response(interaction, request.method)

    def _response(self, interaction: Interaction, method: str) -> Response:
        """The recorded response, its headers filtered once per interaction and method kind."""
        slot = (id(interaction), method == "HEAD")
        kept = self._headers.get(slot)
        if kept is None or kept[0] is not interaction:
            kept = self._headers[slot] = (interaction, tuple(response_headers(interaction, method)))
        return Response(interaction.status, list(kept[1]), interaction.body, chunked=interaction.chunked)

    # -- the Backend protocol
    def handle(self, request: Request) -> Response:
        if self.fake is not None and self._diverged:
            return self._from_fake(request, self.fake)
        interaction = self.lookup(request)
        if interaction is not None:
            if self.fake is not None and changes_state(interaction.method, interaction.status):
                self.fake.handle(request)  # the fake's images follow the recording (its answer is not used)
            return self._response(interaction, request.method)
        if self.fake is not None:
            return self._from_fake(request, self.fake)
        miss = Miss(request.method, request.target, self.key_of(request))
        self.misses.append(miss)
        message = (f"pytest-dockerimages: no recorded interaction in {self._name()} matches "
                   f"{request.method} {request.target}")
        return Response(500, [("Content-Type", "application/json")],
                        (json.dumps({"message": message}) + "\n").encode())

    def _from_fake(self, request: Request, fake: Backend) -> Response:
        """The fallback's answer; after an unrecorded state change the fake answers everything."""
        self.fallback_hits.append(Miss(request.method, request.target, self.key_of(request)))
        response = fake.handle(request)
        if changes_state(request.method, response.status):
            self._diverged = True
        return response

    # -- reporting
    def _name(self) -> str:
        return str(self.cassette.path) if self.cassette.path else "the cassette"

    def miss_report(self, misses: list[Miss] | None = None) -> str:
        """What went unmatched, the nearest recorded interactions, and how to record it."""
        misses = self.misses if misses is None else misses
        keys = list(self._index)
        lines = [f"{len(misses)} request(s) not found in cassette {self._name()} "
                 f"({len(self.cassette.interactions)} recorded interactions):"]
        for miss in misses[:10]:
            lines.append(f"  {miss.method} {miss.target}")
            lines.append(f"    matched as: {describe_key(miss.key)}")
            close = nearest(keys, miss.key)
            if close:
                lines.append("    nearest recorded:")
                lines += [f"      {describe_key(k)}   [{self._index[k][0].label()}]" for k in close]
        if len(misses) > 10:
            lines.append(f"  ... and {len(misses) - 10} more")
        lines.append(f"To record: {self.record_command or self._default_command()}")
        if self.fake is None:
            lines.append("Or answer unrecorded requests from the fake daemon seeded with the cassette's images: "
                         "@pytest.mark.dockerimages_cassette(..., fallback=True), or ini "
                         "dockerimages_cassette_fallback = true")
        return "\n".join(lines)

    def _default_command(self) -> str:
        return ("pytest <this test> --dockerimages-record-mode=new_episodes "
                "(with DOCKER_HOST or --dockerimages-docker-host pointing at a real daemon)")


class _Recorded:
    """One key's interactions with their epochs: what a lookup in a given epoch may play."""

    __slots__ = ("_entries", "_by_epoch", "_writes")

    def __init__(self, entries: list[tuple[int, Interaction]]) -> None:
        self._entries = entries
        self._by_epoch: dict[int, list[Interaction]] = {}
        for epoch, interaction in entries:
            self._by_epoch.setdefault(epoch, []).append(interaction)
        self._writes = entries[0][1].method.upper() not in ("GET", "HEAD")

    def candidates(self, epoch: int) -> tuple[int | None, list[Interaction]]:
        """(slot, interactions to play in turn): a write's whole recording; a read's recordings in
        `epoch`, else its last one before it (the state it last saw), else its first epoch's."""
        if self._writes:
            return None, [interaction for _, interaction in self._entries]
        found = self._by_epoch.get(epoch)
        if found is not None:
            return epoch, found
        earlier = [e for e in self._by_epoch if e < epoch]
        if earlier:
            last = self._by_epoch[max(earlier)][-1]
            return -1 - max(earlier), [last]
        first = min(self._by_epoch)
        return first, self._by_epoch[first]


def response_headers(interaction: Interaction, method: str) -> list[tuple[str, str]]:
    """The recorded headers the server should write (it writes framing and a fresh Date itself)."""
    return [(k, v) for k, v in interaction.response_headers
            if k.lower() not in _DROPPED and (method == "HEAD" or k.lower() != "content-length")]


# --------------------------------------------------------------------------- fallback fake


def _listing_query(interaction: Interaction) -> tuple[str | None, bool] | None:
    """(api version, all) of an unfiltered successful GET /images/json, else None."""
    if interaction.method != "GET" or interaction.status != 200:
        return None
    raw_path, _, raw_query = interaction.target.partition("?")
    version, route = split_version(urllib.parse.unquote(raw_path))
    if route != "/images/json":
        return None
    params = dict(urllib.parse.parse_qsl(raw_query))
    if params.get("filters") not in (None, "", "{}") or params.get("filter"):
        return None
    return version, bool_value(params.get("all"))


def images_from_cassette(cassette: Cassette) -> list[Image]:
    """Images as the recorded daemon held them: the largest unfiltered listing (``all=1`` first,
    newest API version first) joined with every recorded inspect document; each image's history
    from a recorded ``GET /images/{name}/history`` (without ``platform``) where there is one, so the
    fallback answers history as the daemon did (else the fake's one entry per layer applies); and the
    containers of a recorded ``GET /system/df`` (else the listing's counts), so a fallback prune keeps
    the images containers use."""
    best: tuple[Any, ...] | None = None
    listing: list[dict[str, Any]] = []
    inspects: dict[str, dict[str, Any]] = {}
    histories: dict[str, list[dict[str, Any]]] = {}
    containers: dict[str, list[str]] | None = None
    for interaction in cassette.interactions:
        found = _listing_query(interaction)
        if found is not None:
            version, all_ = found
            try:
                body = json.loads(interaction.body)
            except ValueError:
                continue
            rank = (all_, len(body), version_tuple(version) if version else (999,))
            if best is None or rank > best:
                best, listing = rank, body
            continue
        if interaction.method != "GET" or interaction.status != 200:
            continue
        raw_path, _, query = interaction.target.partition("?")
        route = split_version(urllib.parse.unquote(raw_path))[1]
        if not route.startswith("/images/") and route != "/system/df" or route == "/images/json":
            continue
        try:
            doc = json.loads(interaction.body)
        except ValueError:
            continue
        if route == "/system/df":
            if containers is None and not query:
                containers = _df_containers(doc)
        elif route.endswith("/json") and "platform=" not in query and isinstance(doc, dict) \
                and isinstance(doc.get("Id"), str):  # with a platform: one platform's, not the image's
            inspects[doc["Id"]] = doc
        elif route.endswith("/history") and not query and _history_answer(doc):
            histories.setdefault(doc[0]["Id"], doc)  # the first entry is the image itself
    store = (cassette.profile or get_profile(None)).store
    listed = [s for s in listing if isinstance(s, dict) and isinstance(s.get("Id"), str)]
    # an image the model cannot hold is left out rather than failing the fallback
    return build_images(listed, inspects, store, containers, histories=histories, skip_invalid=True)


def _df_containers(doc: Any) -> dict[str, list[str]] | None:
    """Image id -> the ids of the containers using it, from a system df answer (any layout); None when
    it lists no containers section."""
    if not isinstance(doc, dict):
        return None
    usage = doc.get("ContainerUsage")
    items = doc.get("Containers", usage.get("Items") if isinstance(usage, dict) else None)
    if not isinstance(items, list):
        return None
    out: dict[str, list[str]] = {}
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("Id"), str) and isinstance(item.get("ImageID"), str):
            out.setdefault(item["ImageID"], []).append(item["Id"])
    return out


def _history_answer(doc: Any) -> bool:
    """A history answer the seed can take (a bad one must not cost the fallback its image)."""
    return isinstance(doc, list) and bool(doc) and isinstance(doc[0], dict) and isinstance(doc[0].get("Id"), str) \
        and all(isinstance(e, dict) and all(isinstance(e.get(k) or 0, int) for k in ("Created", "Size"))
                and all(isinstance(e.get(k) or "", str) for k in ("CreatedBy", "Comment")) for e in doc)


def _fallback_backend(cassette: Cassette) -> Backend:
    """The fake seeded from the cassette, with the routes that change its state (DELETE /images/{name},
    POST /images/prune) as a FakeDaemon has them."""
    from .._fake.backend import FakeBackend
    from .._fake.stateful import State, stateful_backend

    profile = cassette.profile or get_profile(None)
    recorded_at = cassette.metadata.get("recorded_at")
    try:
        loaded_at = to_ns(recorded_at) if recorded_at else 0
    except (ValueError, TypeError):
        loaded_at = 0
    try:
        store = ImageStore(images_from_cassette(cassette), loaded_at)
    except ModelError as exc:  # pragma: no cover - images are checked one by one above
        raise CassetteError(f"{cassette.path}: cannot seed the fallback fake from the recorded images: {exc}") from None
    return stateful_backend(State(FakeBackend(store, profile)))



