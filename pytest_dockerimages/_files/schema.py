"""JSON Schemas of `GET /images/json` and `GET /images/{name}/json` bodies, and fast validation.

The schemas are generated from the Docker Engine API swagger files by `scripts/gen_schemas.py` and
shipped in the `schemas` data folder, one file per (kind, API version, strictness). Nothing here reads
the swagger files.

Validation is two-stage because the common case is a valid document: a compiled `fastjsonschema`
function (when installed) answers valid/invalid quickly, and only an invalid document goes through
`jsonschema`, which is slower but reports every problem. Both libraries are imported lazily, since
loading the plugin must stay cheap until a schema is actually used.
"""
from __future__ import annotations

import copy
import functools
import json
import re
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Union

from pytest_dockerimages._files.resources import data_dir

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError
    from jsonschema.protocols import Validator

KINDS = ("images-json", "image-inspect")

Body = Union[bytes, bytearray, str, list[Any], dict[str, Any]]
PathElement = Union[int, str]

_VERSION = re.compile(r"\s*v?(\d+)\.(\d+)\s*")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_JSON_TYPES = ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"),
               (list, "array"), (dict, "object"), (type(None), "null"))
_MAX_LISTED = 20


class SchemaError(ValueError):
    """A document does not match its schema; `errors` holds every readable problem."""

    def __init__(self, kind: str, api_version: str, strict: bool, errors: list[str]) -> None:
        self.kind = kind
        self.api_version = api_version
        self.strict = strict
        self.errors = list(errors)
        super().__init__(self._summary())

    def _summary(self) -> str:
        """One header line plus the first problems, so a failing test shows the cause at a glance."""
        mode = ", strict" if self.strict else ""
        lines = [f"{self.kind} body does not match the API {self.api_version} schema{mode} "
                 f"({len(self.errors)} problem{'s' if len(self.errors) != 1 else ''}):"]
        lines += [f"  {error}" for error in self.errors[:_MAX_LISTED]]
        if len(self.errors) > _MAX_LISTED:
            lines.append(f"  ... and {len(self.errors) - _MAX_LISTED} more")
        return "\n".join(lines)


# --- locating and loading the shipped files ---------------------------------------------------------

@functools.lru_cache(maxsize=1)
def _index() -> dict[str, Any]:
    """The generator's table of versions and files: the single source of the supported range."""
    index: dict[str, Any] = json.loads((data_dir("schemas") / "index.json").read_text(encoding="utf-8"))
    return index


def _parse_version(api_version: str) -> tuple[int, int]:
    """'1.41' (or 'v1.41') -> (1, 41), compared as numbers so that 1.9 < 1.10."""
    match = _VERSION.fullmatch(api_version) if isinstance(api_version, str) else None
    if match is None:
        raise ValueError(f"not a Docker API version: {api_version!r} (expected something like '1.41')")
    return int(match.group(1)), int(match.group(2))


def supported_versions() -> tuple[str, ...]:
    """Every API version with its own schema files, oldest first (older requests use the first one)."""
    return tuple(entry["version"] for entry in _index()["versions"])


@functools.lru_cache(maxsize=256)
def _file_name(kind: str, api_version: str, strict: bool) -> str:
    """Which shipped file answers (kind, version, strict). Versions older than the oldest file use it,
    as a daemon answering them sends the same shape; newer ones are an error because their shape is
    unknown."""
    if kind not in KINDS:
        raise ValueError(f"unknown schema kind {kind!r}; expected one of {', '.join(KINDS)}")
    index = _index()
    wanted = _parse_version(api_version)
    lowest, highest = _parse_version(index["min_version"]), _parse_version(index["max_version"])
    if wanted > highest:
        raise ValueError(
            f"no schema for Docker API {api_version}: supported versions are {index['min_version']} to "
            f"{index['max_version']} (older versions use the {index['min_version']} schema)")
    version = f"{max(wanted, lowest)[0]}.{max(wanted, lowest)[1]}"
    for entry in index["versions"]:
        if entry["version"] == version:
            name: str = entry["files"][f"{kind}.strict" if strict else kind]
            return name
    raise ValueError(f"no schema for Docker API {api_version} in the shipped index")


@functools.cache
def _load(file_name: str) -> dict[str, Any]:
    """Parse one schema file once; callers that hand it out must copy it."""
    schema: dict[str, Any] = json.loads((data_dir("schemas") / file_name).read_text(encoding="utf-8"))
    return schema


def seed_schema_text() -> str:
    """The JSON Schema of seed files, as shipped (hand-written, not generated from a swagger)."""
    return (data_dir("schemas") / "seed.schema.json").read_text(encoding="utf-8")


def schema_for(kind: str, api_version: str, strict: bool = False) -> dict[str, Any]:
    """The JSON Schema of a `kind` body ("images-json" or "image-inspect") at `api_version`.

    Returns a fresh copy, so a caller may change it without corrupting the cached validators."""
    return copy.deepcopy(_load(_file_name(kind, api_version, strict)))


# --- compiled validators ------------------------------------------------------------------------------

@functools.cache
def _fast_check(file_name: str) -> Callable[[Any], bool] | None:
    """A compiled yes/no check, or None when fastjsonschema is not installed (it is optional)."""
    try:
        import fastjsonschema
    except ImportError:
        return None
    compiled = fastjsonschema.compile(_load(file_name), use_default=False)
    invalid = fastjsonschema.JsonSchemaValueException

    def check(document: Any) -> bool:
        try:
            compiled(document)
        except invalid:
            return False
        return True

    return check


@functools.cache
def _full_validator(file_name: str) -> Validator:
    """The jsonschema validator that explains failures; built once per file."""
    from jsonschema import Draft7Validator

    return Draft7Validator(_load(file_name))


# --- readable messages --------------------------------------------------------------------------------

def _json_path(path: Iterable[PathElement]) -> str:
    """['a', 3, 'os.features'] -> "$.a[3]['os.features']", the spelling most tools print."""
    parts = ["$"]
    for element in path:
        if isinstance(element, int):
            parts.append(f"[{element}]")
        elif _IDENTIFIER.fullmatch(element):
            parts.append(f".{element}")
        else:
            parts.append("['" + element.replace("\\", "\\\\").replace("'", "\\'") + "']")
    return "".join(parts)


def _json_type(value: Any) -> str:
    """The JSON type name of a parsed value (bool before int: True is an int in Python)."""
    for python_type, name in _JSON_TYPES:
        if isinstance(value, python_type):
            return name
    return type(value).__name__


def _short(value: Any) -> str:
    """A compact JSON rendering of a value, cut so one message stays on one line."""
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _problems(error: ValidationError) -> Iterator[tuple[tuple[PathElement, ...], str]]:
    """Turn one jsonschema error into (path, problem) pairs that name the field at fault."""
    path = tuple(error.absolute_path)
    instance: Any = error.instance
    expected: Any = error.validator_value
    schema: Any = error.schema
    if error.validator == "anyOf" and error.context:
        # Nullable references are anyOf [ref, null]: explain the non-null branch, not "not null".
        real = [sub for sub in error.context if expected[sub.relative_schema_path[0]] != {"type": "null"}]
        if real:
            for sub in real:
                yield from _problems(sub)
            return
    if error.validator == "required" and isinstance(instance, dict):
        for name in expected:
            if name not in instance:
                yield path + (name,), "required field is missing"
        return
    if error.validator == "additionalProperties" and expected is False and isinstance(instance, dict):
        known = schema.get("properties", {})
        for name in instance:
            if name not in known:
                yield path + (name,), "unknown field (not allowed by the strict schema)"
        return
    if error.validator == "type":
        wanted = " or ".join([expected] if isinstance(expected, str) else expected)
        yield path, f"expected {wanted}, got {_json_type(instance)} {_short(instance)}"
        return
    if error.validator == "enum":
        yield path, f"expected one of {_short(expected)}, got {_short(instance)}"
        return
    yield path, error.message


def _sort_key(item: tuple[tuple[PathElement, ...], str]) -> tuple[Any, ...]:
    """Order by document position: array indexes numerically, then field names, then message."""
    path, message = item
    return tuple((0, e, "") if isinstance(e, int) else (1, 0, e) for e in path), message


def _explain(file_name: str, document: Any) -> list[str]:
    """Every problem in `document`, one readable line each, in document order, without duplicates."""
    found = {problem for error in _full_validator(file_name).iter_errors(document)
             for problem in _problems(error)}
    return [f"{_json_path(path)}: {message}" for path, message in sorted(found, key=_sort_key)]


# --- public validation API ----------------------------------------------------------------------------

def validate(kind: str, api_version: str, document: Any, strict: bool = False) -> list[str]:
    """Problems of an already parsed body, as "<json path>: <problem>" lines; empty means valid.

    `strict` also rejects fields the swagger of that version does not define."""
    file_name = _file_name(kind, api_version, strict)
    fast = _fast_check(file_name)
    if fast is not None and fast(document):
        return []
    return _explain(file_name, document)


def check(kind: str, api_version: str, document: Any, strict: bool = False) -> None:
    """Like `validate`, but raise `SchemaError` listing the problems, for use in assertions."""
    __tracebackhide__ = True
    errors = validate(kind, api_version, document, strict)
    if errors:
        raise SchemaError(kind, api_version, strict, errors)


def _parse_body(body: Body) -> tuple[Any, str | None]:
    """Decode a raw HTTP body; the second item is a readable problem when it is not JSON."""
    if isinstance(body, (list, dict)):
        return body, None
    if isinstance(body, (bytes, bytearray)):
        try:
            body = bytes(body).decode("utf-8")
        except UnicodeDecodeError as error:
            return None, f"$: body is not UTF-8 text ({error.reason} at byte {error.start})"
    try:
        return json.loads(body), None
    except json.JSONDecodeError as error:
        return None, f"$: body is not valid JSON ({error.msg} at line {error.lineno} column {error.colno})"


def validate_body(kind: str, api_version: str, body: Body, strict: bool = False) -> list[str]:
    """`validate` for a raw response body (bytes or text; an already parsed list or dict is fine too)."""
    document, problem = _parse_body(body)
    if problem is not None:
        return [problem]
    return validate(kind, api_version, document, strict)
