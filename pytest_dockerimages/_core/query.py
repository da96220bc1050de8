"""Query parsing as the daemon does it: Go's ParseQuery, BoolValue, filters JSON in both forms.

Pure functions: text in, values (or a DaemonError) out.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Mapping
from urllib.parse import unquote_to_bytes

from .errors import DaemonError, invalid_parameter, system_error
from .gojson import GoJSONError, check_syntax, first_type_error_map_of_bool_maps, loads_shallow
from .profiles import Profile, at_least, below

FALSE_WORDS = frozenset({"", "0", "no", "false", "none"})


#: unicode.IsSpace, what strings.TrimSpace trims (str.strip() also trims \x1c-\x1f).
GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a" \
           "\u2028\u2029\u202f\u205f\u3000"


def bool_value(text: str | None) -> bool:
    """httputils.BoolValue: only "", 0, no, false, none (any case, trimmed) are false."""
    return (text or "").strip(GO_SPACE).lower() not in FALSE_WORDS


_BAD_ESCAPE = re.compile(r"%(?![0-9a-fA-F]{2})")


def _unescape(text: str) -> str:
    """url.QueryUnescape: `+` is a space, `%XX` a byte; anything else after `%` is an error."""
    if "%" not in text and "+" not in text:
        return text
    bad = _BAD_ESCAPE.search(text)
    if bad is not None:
        raise ValueError(f'invalid URL escape "{text[bad.start():bad.start() + 3]}"')
    raw = text.replace("+", " ").encode("utf-8", "surrogateescape")
    return unquote_to_bytes(raw).decode("utf-8", "replace")


@dataclass(frozen=True)
class Form:
    """Parsed query: every value of every key, in order; `get` returns the first, like r.Form.Get."""

    values: Mapping[str, tuple[str, ...]]

    def get(self, key: str) -> str:
        found = self.values.get(key)
        return found[0] if found else ""

    def has(self, key: str) -> bool:
        return key in self.values


def parse_form(raw_query: str) -> Form:
    """url.ParseQuery; the first error (bad escape, `;`) is a 400 as in httputils.ParseForm."""
    values: dict[str, list[str]] = {}
    first_error: str | None = None
    for part in raw_query.split("&"):
        if ";" in part:
            first_error = first_error or "invalid semicolon separator in query"
            continue
        if not part:
            continue
        key, _, value = part.partition("=")
        try:
            key = _unescape(key)
            value = _unescape(value)
        except ValueError as exc:
            first_error = first_error or str(exc)
            continue
        values.setdefault(key, []).append(value)
    if first_error:
        raise invalid_parameter(first_error)
    return Form({k: tuple(v) for k, v in values.items()})


# --- filters ---------------------------------------------------------------------------

FilterArgs = Mapping[str, Mapping[str, bool]]


def filters_from_json(text: str, profile: Profile) -> dict[str, dict[str, bool]]:
    """filters.FromJSON: map-of-bool form first, then the legacy slice form; "" / null / {} = none.

    A fresh dict each call (callers add to it); the parse itself is cached, as clients repeat
    the same filters and Go's syntax check runs in Python."""
    if text == "":
        return {}
    parse = _parsed_filters if len(text) <= _CACHED_FILTERS_TEXT else _parsed_filters.__wrapped__
    return {key: dict(values) for key, values in parse(text, profile).items()}


_CACHED_FILTERS_TEXT = 4096  # longer filters are parsed anew each time, not kept


@lru_cache(maxsize=256)
def _parsed_filters(text: str, profile: Profile) -> dict[str, dict[str, bool]]:
    try:
        depth = check_syntax(text)
        # Both forms are decided within 3 levels, and by the kind of a number, never its value: deeper
        # input is read shallowly (no RecursionError), integers as floats (no digit limit).
        parsed = json.loads(text, parse_int=float) if depth <= 3 else loads_shallow(text, 3)
    except (GoJSONError, ValueError) as exc:
        raise _malformed(profile, str(exc)) from None
    error = first_type_error_map_of_bool_maps(parsed)
    if error is None:
        return {k: dict(v or {}) for k, v in (parsed or {}).items()}
    if isinstance(parsed, dict) and all(
        v is None or (isinstance(v, list) and all(isinstance(x, str) for x in v)) for v in parsed.values()
    ):
        return {k: {x: True for x in (v or [])} for k, v in parsed.items()}
    raise _malformed(profile, str(error))


def _malformed(profile: Profile, go_error: str) -> DaemonError:
    if profile.malformed_filters_go_error:
        return system_error(go_error)
    return invalid_parameter(profile.invalid_filter_word)


def canonical_filters(args: FilterArgs) -> dict[str, list[str]]:
    """Key -> sorted values: what a test compares, whatever JSON form the client sent."""
    return {key: sorted(values) for key, values in sorted(args.items())}


def filters_key(args: FilterArgs) -> tuple[tuple[str, tuple[tuple[str, bool], ...]], ...]:
    """A hashable form of the filters, the same whatever order or JSON form the client used."""
    return tuple(sorted((key, tuple(sorted(values.items()))) for key, values in args.items()))


@dataclass(frozen=True)
class ListQuery:
    """What GET /images/json asked for, after the daemon's own parsing."""

    all: bool
    filters: Mapping[str, Mapping[str, bool]]
    shared_size: bool
    manifests: bool
    identity: bool


def parse_list_query(raw_query: str, api_version: str, profile: Profile) -> ListQuery:
    """The handler's order: ParseForm, FromJSON, legacy `filter`, shared-size, manifests, identity."""
    form = parse_form(raw_query)
    filters = filters_from_json(form.get("filters"), profile)
    legacy = form.get("filter")
    if legacy and below(api_version, profile.legacy_filter_below):
        if not (profile.legacy_filter_needs_no_reference and "reference" in filters):
            filters.setdefault("reference", {})[legacy] = True
    shared_size = at_least(api_version, profile.shared_size_from) and bool_value(form.get("shared-size"))
    manifests = at_least(api_version, profile.manifests_from) and bool_value(form.get("manifests"))
    identity = at_least(api_version, profile.identity_from) and bool_value(form.get("identity"))
    if identity and not manifests:
        raise invalid_parameter("conflicting options: identity requires manifests=1")
    return ListQuery(all=bool_value(form.get("all")), filters=filters, shared_size=shared_size,
                     manifests=manifests, identity=identity)
