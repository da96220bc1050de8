"""What every assertion helper shares: the itemised report, and reading what the user passed in
(a body as bytes, text or parsed JSON; filters in either JSON form, as text or a dict)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping, Sequence, Union
from urllib.parse import urlencode

from .._core.errors import DaemonError
from .._core.model import Image
from .._core.profiles import Profile
from .._core.query import canonical_filters, filters_from_json
from .._core.render import NONE_DIGEST, NONE_TAG

Body = Union[bytes, bytearray, str, Sequence[Mapping[str, Any]]]
QueryLike = Union[str, Mapping[str, Any], None]
FiltersLike = Union[str, bytes, Mapping[str, Any], None]
ProfileLike = Union[str, Profile, None]
DfBody = Union[bytes, bytearray, str, Mapping[str, Any]]  # a GET /system/df document
ImagesBody = Union[Body, Mapping[str, Any]]  # a listing, or a /system/df document (its images)

MAX_ITEMS = 40


# --------------------------------------------------------------------------- reporting

@dataclass(frozen=True)
class Problem:
    """One broken rule at one place; `where` names the image (or the whole body)."""

    rule: str
    where: str
    text: str

    def line(self) -> str:
        return f"  - [{self.rule}] {self.where}: {self.text}" if self.where else f"  - [{self.rule}] {self.text}"


def report(title: str, problems: Sequence[Problem]) -> str:
    """The itemised message: a title, then one line per problem (capped, so a 500-image body stays readable)."""
    lines = [f"{title}: {len(problems)} problem(s)"]
    lines += [p.line() for p in problems[:MAX_ITEMS]]
    if len(problems) > MAX_ITEMS:
        lines.append(f"  ... and {len(problems) - MAX_ITEMS} more")
    return "\n".join(lines)


def fail(title: str, problems: Sequence[Problem]) -> None:
    """Raise when there is anything to report; hidden from tracebacks like the public helpers."""
    __tracebackhide__ = True
    if problems:
        raise AssertionError(report(title, problems))


def first_name(doc: Mapping[str, Any]) -> str:
    """The first real tag (else digest) of a summary: what a human recognises an image by."""
    for key in ("RepoTags", "RepoDigests"):
        values = doc.get(key)
        if isinstance(values, list):
            for value in values:
                if isinstance(value, str) and value not in (NONE_TAG, NONE_DIGEST):
                    return value
    return "<untagged>"


def label(doc: Any, index: int | None = None) -> str:
    """`#2 image 1395ae826b0e (example/built:1)`: position, short id and first tag."""
    prefix = f"#{index} " if index is not None else ""
    if not isinstance(doc, Mapping):
        return f"{prefix}item {doc!r:.40}"
    image_id = doc.get("Id")
    if isinstance(image_id, str) and image_id.startswith("sha256:"):
        short = image_id[7:19]
    else:
        short = repr(image_id)[:19]
    return f"{prefix}image {short} ({first_name(doc)})"


def image_label(image: Image) -> str:
    names = [t.familiar for t in image.tags] or [d.familiar for d in image.digests] or ["<untagged>"]
    return f"image {image.id[7:19]} ({names[0]})"


# --------------------------------------------------------------------------- input coercion

def parse_json(body: Any) -> tuple[Any, list[Problem]]:
    """A body given as bytes or text, parsed; anything else is taken as already parsed."""
    if isinstance(body, (bytes, bytearray)):
        try:
            return json.loads(bytes(body).decode("utf-8")), []
        except (UnicodeDecodeError, ValueError) as exc:
            return None, [Problem("JSON", "body", f"not a JSON document: {exc}")]
    if isinstance(body, str):
        try:
            return json.loads(body), []
        except ValueError as exc:
            return None, [Problem("JSON", "body", f"not a JSON document: {exc}")]
    return body, []


def documents(body: Any) -> tuple[list[Mapping[str, Any]], list[Problem]]:
    """Parse a body given as bytes, text or an already parsed list; non-summaries become problems."""
    parsed, problems = parse_json(body)
    if problems:
        return [], problems
    return _summaries(parsed)


def _summaries(parsed: Any) -> tuple[list[Mapping[str, Any]], list[Problem]]:
    if not isinstance(parsed, (list, tuple)):
        return [], [Problem("schema", "body", f"expected a JSON array of ImageSummary, got {type(parsed).__name__}")]
    problems: list[Problem] = []
    docs: list[Mapping[str, Any]] = []
    for i, item in enumerate(parsed):
        if isinstance(item, Mapping):
            docs.append(item)
        else:
            problems.append(Problem("schema", f"#{i}", f"expected an ImageSummary object, got {item!r:.60}"))
    return docs, problems


def df_images(document: Mapping[str, Any]) -> Any:
    """The image summaries of a `/system/df` document: `Images`, else (API 1.52+) `ImageUsage.Items`."""
    usage = document.get("ImageUsage")
    items = usage.get("Items") if isinstance(usage, Mapping) else None
    images = document.get("Images")
    return images if isinstance(images, list) or items is None else items


def image_summaries(body: Any) -> tuple[list[Mapping[str, Any]], list[Problem]]:
    """`documents`, also accepting a `/system/df` body (its images): what the small checks read."""
    parsed, problems = parse_json(body)
    if problems:
        return [], problems
    return _summaries(df_images(parsed) if isinstance(parsed, Mapping) else parsed)


def api_version_problems(profile: Profile | None, version: str, what: str) -> list[Problem]:
    """A release answers an API version outside its range with a 400, never with `what`."""
    if profile is None or profile.supports(version):
        return []
    return [Problem("API version", "", f"{profile.name} serves API {profile.api_min} to {profile.api_max}; "
                                       f"it answers API {version} with a 400, not {what}")]


def int_field(doc: Mapping[str, Any], key: str) -> int | None:
    """The field as an int, or None when missing or mistyped (the schema rule reports those)."""
    value = doc.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def plain_version(api_version: str) -> str:
    """Accept `v1.45` as well as `1.45` (clients print both)."""
    text = str(api_version).strip()
    return text[1:] if text[:1] in ("v", "V") else text


def filters_map_form(filters: Any) -> dict[str, dict[str, bool]]:
    """Any dict form (slice, map, a bare string, a bool) as the daemon's map-of-bool form."""
    if not isinstance(filters, Mapping):
        raise TypeError(f"filters: expected a dict or a JSON string, got {type(filters).__name__}")
    out: dict[str, dict[str, bool]] = {}
    for key, value in filters.items():
        if isinstance(value, bool):
            out[str(key)] = {"true" if value else "false": True}
        elif isinstance(value, str):
            out[str(key)] = {value: True}
        elif isinstance(value, Mapping):
            out[str(key)] = {str(k): bool(v) for k, v in value.items()}
        elif value is None:
            out[str(key)] = {}
        else:
            out[str(key)] = {str(v): True for v in value}
    return out


def filter_args(filters: FiltersLike, profile: Profile) -> dict[str, dict[str, bool]]:
    """Filters as the daemon parses them; either JSON form, as text or as a dict."""
    if filters is None:
        return {}
    if isinstance(filters, (bytes, bytearray)):
        filters = bytes(filters).decode("utf-8")
    text = filters if isinstance(filters, str) else json.dumps(filters_map_form(filters))
    try:
        return filters_from_json(text, profile)
    except DaemonError as exc:
        raise ValueError(f"filters {text!r} are malformed: the daemon answers {exc.status} {exc.message!r}") from None


def query_string(query: QueryLike) -> str:
    """A query given as a dict becomes the string a client would send (booleans as 1/0)."""
    if query is None:
        return ""
    if isinstance(query, str):
        return query[1:] if query.startswith("?") else query
    pairs: list[tuple[str, str]] = []
    for key, value in query.items():
        if key == "filters" and not isinstance(value, str):
            pairs.append((key, json.dumps(filters_map_form(value))))
        elif isinstance(value, bool):
            pairs.append((key, "1" if value else "0"))
        elif isinstance(value, (list, tuple)):
            pairs += [(key, str(v)) for v in value]
        else:
            pairs.append((key, str(value)))
    return urlencode(pairs)


def canonical_text(args: Mapping[str, Mapping[str, bool]]) -> str:
    return json.dumps(canonical_filters(args), separators=(",", ":"))
