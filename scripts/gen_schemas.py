#!/usr/bin/env python3
"""Generate the shipped JSON Schemas from the Docker Engine API swagger files.

Usage: python scripts/gen_schemas.py SWAGGER_DIR [--out schemas]

SWAGGER_DIR holds ``v1.41.yaml`` ... ``v1.56.yaml`` (swagger 2.0, as published by moby). For every API
version 1.24 ... 1.56 this writes four self-contained draft-07 schemas (``images-json-<ver>[.strict].json``
and ``image-inspect-<ver>[.strict].json``) plus ``index.json``. The project reads only the generated
files, never the swagger files, so this script is the one place that knows the swagger dialect.

Only PyYAML and the standard library are used, so the script runs anywhere the project's tests run.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import yaml

Version = Tuple[int, int]
Schema = Dict[str, Any]

FIRST_VERSION: Version = (1, 24)
LAST_VERSION: Version = (1, 56)
FIRST_SWAGGER: Version = (1, 41)
DRAFT = "http://json-schema.org/draft-07/schema#"
ID_PREFIX = "urn:pytest-dockerimages:schema"

# kind -> (swagger definition, path of GET endpoint, response body is an array of the definition)
KINDS: Dict[str, Tuple[str, str, bool]] = {
    "images-json": ("ImageSummary", "GET /images/json", True),
    "image-inspect": ("ImageInspect", "GET /images/{name}/json", False),
}

# Swagger keywords that carry validation meaning for a response body. Everything else (description,
# example, default, format, x-go-name, x-omitempty ...) is dropped: documentation lives in the swagger
# files, `default` would be applied as a mutation by fastjsonschema, and `format` is asserted by
# fastjsonschema but not by jsonschema, which would make the two validators disagree.
_PASSTHROUGH = ("enum",)

GO_NIL_NOTE = (
    "Nullability: a swagger `x-nullable: true` allows null; an array or a string map without any "
    "`x-nullable` key also allows null, because the daemon is written in Go and encodes a nil slice or "
    "map as null (e.g. \"Entrypoint\": null in image inspect)."
)


@dataclass(frozen=True)
class NullOverride:
    """A field that real daemons send as null although the swagger says `x-nullable: false` (or says
    nothing). Kept as data so each exception to the swagger is visible, dated and explained."""

    definition: str
    path: Tuple[str, ...]
    below: Optional[Version]  # applies to API versions below this one; None = every version
    reason: str


NULL_OVERRIDES: Tuple[NullOverride, ...] = (
    NullOverride("ImageSummary", ("Labels",), None,
                 "Docker sends \"Labels\": null for an image without labels (20.10 ... 29.1.1 on both "
                 "image stores; later containerd-store daemons still do in the no-platform branch)."),
    NullOverride("ImageSummary", ("RepoTags",), (1, 43),
                 "Below API 1.43 the daemon sends null for an empty list (an image with digests but no tags)."),
    NullOverride("ImageSummary", ("RepoDigests",), (1, 43),
                 "Below API 1.43 the daemon sends null for an empty list (Docker 20.10: a tagged, "
                 "never-pushed image has \"RepoDigests\": null)."),
    NullOverride("ImageInspect", ("ContainerConfig",), (1, 45),
                 "Docker 29 on the containerd store sends \"ContainerConfig\": null below API 1.45 (it has no "
                 "container config)."),
    NullOverride("GraphDriverData", ("Data",), None,
                 "The vfs graphdriver has no metadata and sends \"Data\": null."),
    NullOverride("DriverData", ("Data",), None,
                 "The vfs graphdriver has no metadata and sends \"Data\": null."),
)



@dataclass(frozen=True)
class OptionalOverride:
    """A field that swagger lists in `required` but that real daemons leave out; same idea as
    `NullOverride`, for presence instead of null."""

    definition: str
    name: str
    below: Optional[Version]
    reason: str


OPTIONAL_OVERRIDES: Tuple[OptionalOverride, ...] = (
    OptionalOverride("ImageSummary", "VirtualSize", (1, 43),
                     "Docker 25.0 ... 28.5 omit it when Size is 0 (omitempty) and 29.0 ... 29.2 never send it, "
                     "even for API versions whose swagger requires it."),
)


@dataclass(frozen=True)
class ExtraOverride:
    """A field that swagger no longer lists from some version on but that real daemons still send;
    the strict schema would reject every such answer. Added as a string property with the reason."""

    definition: str
    name: str
    since: Version
    reason: str


EXTRA_OVERRIDES: Tuple[ExtraOverride, ...] = (
    ExtraOverride("ImageInspect", "Parent", (1, 52),
                  "Docker 29 still sends it from API 1.52 when it is set (an image of the legacy builder)."),
    ExtraOverride("ImageInspect", "DockerVersion", (1, 52),
                  "Docker 29 still sends it from API 1.52 when it is set (an image of the legacy builder)."),
)


def parse_version(text: str) -> Version:
    """'1.41' -> (1, 41): versions compare as numbers, never as strings ('1.9' < '1.10')."""
    major, minor = text.split(".")
    return int(major), int(minor)


def format_version(version: Version) -> str:
    """(1, 41) -> '1.41', the spelling used in file names and in the API path prefix."""
    return f"{version[0]}.{version[1]}"


def all_versions() -> List[Version]:
    """Every API version that gets its own schema files, oldest first."""
    return [(1, minor) for minor in range(FIRST_VERSION[1], LAST_VERSION[1] + 1)]


def shape_version(version: Version) -> Version:
    """Which swagger file describes `version`: there is none before 1.41, whose shape older APIs share."""
    return max(version, FIRST_SWAGGER)


def load_swagger(swagger_dir: Path, version: Version) -> Schema:
    """Parse one swagger file; fail loudly if it is missing, because silently skipping a version would
    ship an incomplete schema set."""
    path = swagger_dir / f"v{format_version(version)}.yaml"
    if not path.is_file():
        raise SystemExit(f"gen_schemas: missing swagger file {path.name} in the given folder")
    # The C loader (when PyYAML was built with libyaml) parses these 12,000-line files ~10x faster;
    # both build the same plain dicts, so the output does not depend on which one is used.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with path.open(encoding="utf-8") as handle:
        document: Schema = yaml.load(handle, Loader=loader)
    return document


class Converter:
    """Turns swagger 2.0 definitions into draft-07 JSON Schema for one (kind, version, strictness).

    One instance per output file: it collects the definitions it meets via `$ref` so the output is
    self-contained (`$defs`), and it knows the version so version-bound null overrides apply."""

    def __init__(self, definitions: Schema, version: Version, strict: bool) -> None:
        self.definitions = definitions
        self.version = version
        self.strict = strict
        self.needed: List[str] = []

    def definition(self, name: str) -> Schema:
        """Convert the top-level swagger definition `name` (its own `x-nullable` makes every use nullable)."""
        node = self.definitions[name]
        return self.node(node, (name,), nullable=node.get("x-nullable") is True, note=None)

    def ref(self, target: str) -> str:
        """Record that definition `target` must be emitted and return its local reference."""
        name = target.rsplit("/", 1)[-1]
        if name not in self.definitions:
            raise SystemExit(f"gen_schemas: unresolved $ref {target!r}")
        if name not in self.needed:
            self.needed.append(name)
        return f"#/$defs/{name}"

    def nullability(self, node: Schema, where: Tuple[str, ...]) -> Tuple[bool, Optional[str]]:
        """Decide whether null is allowed at `where`, and why if the swagger is being overridden."""
        if node.get("x-nullable") is True:
            return True, None
        for override in NULL_OVERRIDES:
            if (override.definition,) + override.path == where and (
                    override.below is None or self.version < override.below):
                return True, ("null allowed although the swagger does not mark this field nullable: "
                              + override.reason)
        if "x-nullable" not in node and self.is_array_or_map(node):
            return True, None
        return False, None

    @staticmethod
    def is_array_or_map(node: Schema) -> bool:
        """Arrays and string maps are Go slices and maps, which encode nil as null."""
        if node.get("type") == "array":
            return True
        return node.get("type") == "object" and "properties" not in node and isinstance(
            node.get("additionalProperties"), dict)

    def node(self, node: Schema, where: Tuple[str, ...], nullable: bool, note: Optional[str]) -> Schema:
        """Convert one swagger schema node. `$ref` siblings are ignored by draft-07, so a nullable
        reference becomes `anyOf: [ref, null]` instead of a `$ref` with a nullable sibling."""
        if "$ref" in node:
            out: Schema = {"$ref": self.ref(node["$ref"])}
            if nullable:
                out = {"anyOf": [out, {"type": "null"}]}
        else:
            out = self.plain(node, where, nullable)
        if note:
            out["$comment"] = " ".join(filter(None, (note, out.get("$comment"))))
        return out

    def plain(self, node: Schema, where: Tuple[str, ...], nullable: bool) -> Schema:
        """Convert a node without `$ref`: type, properties, required, items, additionalProperties, enum."""
        out: Schema = {}
        kind = node.get("type")
        if "properties" in node and kind is None:
            kind = "object"
        if kind is not None:
            out["type"] = [kind, "null"] if nullable else kind
        for key in _PASSTHROUGH:
            if key in node:
                values = list(node[key])
                out[key] = values + [None] if nullable and None not in values else values
        if "properties" in node:
            out["properties"] = self.properties(node["properties"], where)
            required, notes = self.required(node, out["properties"], where)
            if required:
                out["required"] = required
            if notes:
                out["$comment"] = " ".join(notes)
        if "items" in node:
            out["items"] = self.child(node["items"], where + ("[]",))
        extra = node.get("additionalProperties")
        if isinstance(extra, dict):
            out["additionalProperties"] = self.child(extra, where + ("*",))
        elif isinstance(extra, bool):
            out["additionalProperties"] = extra
        elif self.strict and kind == "object":
            out["additionalProperties"] = False
        return out

    def child(self, node: Schema, where: Tuple[str, ...]) -> Schema:
        """Convert a nested node, deciding its own nullability."""
        nullable, note = self.nullability(node, where)
        return self.node(node, where, nullable, note)

    def properties(self, properties: Schema, where: Tuple[str, ...]) -> Schema:
        """Convert each property; names are kept exactly (e.g. 'os.features'). `EXTRA_OVERRIDES` add
        the fields daemons still send."""
        out = {name: self.child(sub, where + (name,)) for name, sub in properties.items()}
        for override in EXTRA_OVERRIDES:
            if (override.definition,) == where and self.version >= override.since and override.name not in out:
                out[override.name] = {"type": "string", "$comment": "not in the swagger: " + override.reason}
        return out

    def required(self, node: Schema, properties: Schema, where: Tuple[str, ...]) -> Tuple[List[str], List[str]]:
        """Swagger's `required`, sorted, minus names that no daemon sends: names that are not even
        properties (a swagger typo would reject every real response) and `OPTIONAL_OVERRIDES`.
        Returns the names kept and a comment for each name dropped."""
        kept: List[str] = []
        notes: List[str] = []
        for name in node.get("required", []):
            if name not in properties:
                notes.append(f"swagger lists {name} in `required` but defines no such property; dropped.")
            elif reason := self.optional_reason(where, name):
                notes.append(f"{name} is not required although the swagger requires it: {reason}")
            else:
                kept.append(name)
        return sorted(kept), notes

    def optional_reason(self, where: Tuple[str, ...], name: str) -> Optional[str]:
        """The reason a required name is relaxed at this place and version, or None."""
        for override in OPTIONAL_OVERRIDES:
            if (override.definition,) == where and override.name == name and (
                    override.below is None or self.version < override.below):
                return override.reason
        return None

    def defs(self) -> Schema:
        """Convert every definition reached so far, following new references until none are left."""
        done: Schema = {}
        while len(done) < len(self.needed):
            for name in list(self.needed):
                if name not in done:
                    done[name] = self.definition(name)
        return done


def schema_id(kind: str, version: Version, strict: bool) -> str:
    """A stable, non-resolvable URI naming the kind, version and strictness."""
    return f"{ID_PREFIX}:{kind}:{format_version(version)}{':strict' if strict else ''}"


def file_name(kind: str, version: Version, strict: bool) -> str:
    """File name of one schema, e.g. images-json-1.41.strict.json."""
    return f"{kind}-{format_version(version)}{'.strict' if strict else ''}.json"


def build_schema(swagger: Schema, kind: str, version: Version, strict: bool) -> Schema:
    """The complete, self-contained schema of one response body."""
    definition, endpoint, is_array = KINDS[kind]
    converter = Converter(swagger["definitions"], version, strict)
    top = {"$ref": converter.ref(definition)}
    body: Schema = {"type": "array", "items": top} if is_array else top
    source = shape_version(version)
    comments = [f"Generated by scripts/gen_schemas.py from the Docker Engine API v{format_version(source)} "
                f"swagger (definitions.{definition}); do not edit by hand."]
    if source != version:
        comments.append(f"API {format_version(version)} has no swagger file in the source set: this is "
                        f"the API {format_version(source)} shape.")
    comments.append(GO_NIL_NOTE)
    if strict:
        comments.append("Strict variant: every object that is not a string map has "
                        "additionalProperties: false, so unknown fields are rejected.")
    strictness = " (strict)" if strict else ""
    schema: Schema = {
        "$schema": DRAFT,
        "$id": schema_id(kind, version, strict),
        "title": f"{endpoint} response body, Docker Engine API {format_version(version)}{strictness}",
        "$comment": " ".join(comments),
        **body,
    }
    schema["$defs"] = converter.defs()
    check_response_shape(swagger, kind)
    return schema


def check_response_shape(swagger: Schema, kind: str) -> None:
    """Make sure the endpoint really answers with the definition this script assumes, so a future
    swagger that wraps the body differently fails here instead of producing a wrong schema."""
    definition, endpoint, is_array = KINDS[kind]
    path = endpoint.split(" ", 1)[1]
    responses = swagger["paths"][path]["get"]["responses"]
    ok = responses.get(200, responses.get("200"))
    expected: Schema = {"$ref": f"#/definitions/{definition}"}
    if is_array:
        expected = {"type": "array", "items": expected}
    if ok is None or ok.get("schema") != expected:
        raise SystemExit(f"gen_schemas: unexpected 200 response schema for {endpoint}")


def dump(document: Any) -> str:
    """Deterministic, diff-friendly JSON: sorted keys, indent 1, trailing newline."""
    return json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def index_document() -> Schema:
    """The table of versions and files that the runtime reads instead of listing the folder."""
    versions = []
    for version in all_versions():
        files = {}
        for kind in KINDS:
            files[kind] = file_name(kind, version, False)
            files[f"{kind}.strict"] = file_name(kind, version, True)
        versions.append({"version": format_version(version),
                         "shape": format_version(shape_version(version)), "files": files})
    return {
        "$comment": "Generated by scripts/gen_schemas.py; see README.md in this folder.",
        "draft": DRAFT,
        "kinds": sorted(KINDS),
        "min_version": format_version(FIRST_VERSION),
        "max_version": format_version(LAST_VERSION),
        "versions": versions,
    }


def generate(swagger_dir: Path, out_dir: Path) -> List[Path]:
    """Write every schema file and index.json into `out_dir`; return the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    cache: Dict[Version, Schema] = {}
    written: List[Path] = []
    for version in all_versions():
        source = shape_version(version)
        if source not in cache:
            cache[source] = load_swagger(swagger_dir, source)
        for kind in KINDS:
            for strict in (False, True):
                path = out_dir / file_name(kind, version, strict)
                path.write_text(dump(build_schema(cache[source], kind, version, strict)), encoding="utf-8")
                written.append(path)
    index = out_dir / "index.json"
    index.write_text(dump(index_document()), encoding="utf-8")
    written.append(index)
    return written


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("swagger_dir", type=Path, help="folder with v1.41.yaml ... v1.56.yaml")
    parser.add_argument("--out", type=Path, default=Path("schemas"), help="output folder (default: schemas)")
    args = parser.parse_args(argv)
    written = generate(args.swagger_dir, args.out)
    print(f"gen_schemas: wrote {len(written)} files to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
