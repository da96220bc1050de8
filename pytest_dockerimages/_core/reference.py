"""Docker image references as the daemon parses them, and Go `path.Match` globs.

The daemon normalises `alpine` to `docker.io/library/alpine`, shows the familiar form in
RepoTags, and matches `reference=` patterns with Go's `path.Match` against the familiar forms
(and, from Docker 29.5, the canonical ones too).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

DEFAULT_DOMAIN = "docker.io"
LEGACY_DEFAULT_DOMAIN = "index.docker.io"
OFFICIAL_REPO_PREFIX = "library/"
NAME_TOTAL_LENGTH_MAX = 255

_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[_.]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_IPV6 = r"\[(?:[a-fA-F0-9:]+)\]"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|{_IPV6})(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_NAME = rf"(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_REFERENCE_RE = re.compile(rf"^({_NAME})(?::({_TAG}))?(?:@({_DIGEST}))?$")
_ANCHORED_NAME_RE = re.compile(rf"^(?:({_DOMAIN})/)?({_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*)$")
_IDENTIFIER_RE = re.compile(r"^[a-f0-9]{64}$")
_SHA256_DIGEST_RE = re.compile(r"^sha256:[a-f0-9]{64}$")


class ReferenceError(ValueError):
    """A reference the daemon refuses; str() is the daemon's message."""


@dataclass(frozen=True, slots=True)
class Reference:
    """A normalised reference: `domain/path`, optional tag and digest."""

    domain: str
    path: str
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        """Canonical name: `docker.io/library/alpine`."""
        return f"{self.domain}/{self.path}"

    @property
    def familiar_name(self) -> str:
        """Short name: `alpine`, `example/app`, `localhost:5000/x`."""
        if self.domain == DEFAULT_DOMAIN:
            path = self.path
            if path.startswith(OFFICIAL_REPO_PREFIX) and "/" not in path[len(OFFICIAL_REPO_PREFIX):]:
                path = path[len(OFFICIAL_REPO_PREFIX):]
            return path
        return self.name

    def _suffix(self) -> str:
        out = f":{self.tag}" if self.tag is not None else ""
        if self.digest is not None:
            out += f"@{self.digest}"
        return out

    def __str__(self) -> str:
        return self.name + self._suffix()

    @property
    def familiar(self) -> str:
        """FamiliarString: what RepoTags/RepoDigests show."""
        return self.familiar_name + self._suffix()

    def with_default_tag(self) -> Reference:
        """TagNameOnly: a bare name means `:latest`; digests stay as they are."""
        if self.tag is None and self.digest is None:
            return Reference(self.domain, self.path, "latest")
        return self

    def trimmed(self) -> Reference:
        return Reference(self.domain, self.path)


def _split_domain(name: str) -> tuple[str, str]:
    first, sep, rest = name.partition("/")
    if not sep or ("." not in first and ":" not in first and first != "localhost" and first.lower() == first):
        domain, remainder = DEFAULT_DOMAIN, name
    else:
        domain, remainder = first, rest
    if domain == LEGACY_DEFAULT_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in remainder:
        remainder = OFFICIAL_REPO_PREFIX + remainder
    return domain, remainder


@lru_cache(maxsize=4096)
def parse_normalized(text: str, *, lowercase_message_names_repo: bool = True) -> Reference:
    """ParseNormalizedNamed: `alpine:3` -> docker.io/library/alpine:3, or ReferenceError."""
    if _IDENTIFIER_RE.match(text):
        raise ReferenceError(
            f"invalid repository name ({text}), cannot specify 64-byte hexadecimal strings"
        )
    name_part = text
    at = name_part.find("@")
    if at >= 0:
        name_part = name_part[:at]
    colon = name_part.rfind(":")
    if colon > name_part.rfind("/"):
        name_part = name_part[:colon]
    domain, remainder = _split_domain(name_part)
    if remainder.lower() != remainder:
        if lowercase_message_names_repo:
            raise ReferenceError(f"invalid reference format: repository name ({remainder}) must be lowercase")
        raise ReferenceError("invalid reference format: repository name must be lowercase")
    full = f"{domain}/{remainder}{text[len(name_part):]}"
    return _parse_canonical(full, text)


def _parse_canonical(full: str, original: str) -> Reference:
    match = _REFERENCE_RE.match(full)
    if not match:
        if not original:
            raise ReferenceError("repository name must have at least one component")
        raise ReferenceError("invalid reference format")
    name, tag, digest = match.groups()
    if len(name) > NAME_TOTAL_LENGTH_MAX:
        raise ReferenceError(f"repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters")
    name_match = _ANCHORED_NAME_RE.match(name)
    if not name_match:
        raise ReferenceError("invalid reference format")
    domain, path = name_match.groups()
    return Reference(domain or "", path, tag, digest)


_TAG_RE = re.compile(rf"^{_TAG}$")
_DIGEST_RE = re.compile(rf"^{_DIGEST}$")
_PATH_COMPONENT_RE = re.compile(rf"^{_PATH_COMPONENT}$")


def why_invalid(text: str) -> str | None:
    """Why `text` is no image reference, in distribution/reference's words where it has them.

    The daemon answers only "invalid reference format" for most of these; seed files and markers
    add this reason so the fix is plain. None when no part of `text` is at fault on its own."""
    if not text:
        return "repository name must have at least one component"
    if any(c.isspace() for c in text):
        return "a reference has no whitespace"
    rest, _, digest = text.partition("@")
    if "@" in text and not _DIGEST_RE.match(digest):
        return f"invalid digest format: {digest!r} is not algorithm:hex (e.g. sha256: and 64 hex digits)"
    name, tag = rest, None
    colon = rest.rfind(":")
    if colon > rest.rfind("/"):
        name, tag = rest[:colon], rest[colon + 1:]
    if tag == "":
        return "invalid tag format: the tag after ':' is empty"
    if tag is not None and not _TAG_RE.match(tag):
        return (f"invalid tag format: {tag!r}: up to 128 letters, digits, '_', '.' and '-', "
                "not starting with '.' or '-'")
    if not name:
        return "repository name must have at least one component"
    components = name.split("/")
    first = components[0]
    if len(components) > 1 and ("." in first or ":" in first or first == "localhost" or first.lower() != first):
        components = components[1:]  # a registry host (as the daemon splits it): its own rules
    if any(c.lower() != c for c in components):
        return "repository name must be lowercase"
    for component in components:
        if not component:
            return "a path component of the repository name is empty ('//', or a leading or trailing '/')"
        if ":" in component:
            return "':' separates only the tag (and a registry's port) from the name"
        if not _PATH_COMPONENT_RE.match(component):
            return (f"path component {component!r}: lowercase letters and digits, separated by '.', '_', "
                    "'__' or dashes")
    return None


@dataclass(frozen=True)
class DigestRef:
    """A bare digest (`sha256:<64 hex>`), as ParseAnyReference returns for ids."""

    digest: str

    def __str__(self) -> str:
        return self.digest

    @property
    def familiar(self) -> str:
        return self.digest


def parse_any(text: str, *, lowercase_message_names_repo: bool = True) -> Reference | DigestRef:
    """ParseAnyReference: a 64-hex id or `sha256:` digest, else a normalised name."""
    if _IDENTIFIER_RE.match(text):
        return DigestRef("sha256:" + text)
    if _SHA256_DIGEST_RE.match(text):
        return DigestRef(text)
    return parse_normalized(text, lowercase_message_names_repo=lowercase_message_names_repo)


# --- Go path.Match ---------------------------------------------------------------------

class PatternError(ValueError):
    """path.ErrBadPattern."""

    def __init__(self) -> None:
        super().__init__("syntax error in pattern")


@lru_cache(maxsize=1024)
def compile_glob(pattern: str) -> re.Pattern[str]:
    """Translate a Go `path.Match` pattern to an anchored regex; PatternError if malformed."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "\\":
            if i + 1 >= n:
                raise PatternError()
            out.append(re.escape(pattern[i + 1]))
            i += 2
        elif c == "[":
            regex, i = _compile_class(pattern, i + 1)
            out.append(regex)
        else:
            out.append(re.escape(c))
            i += 1
    return re.compile("".join(out) + r"\Z", re.DOTALL)


def _class_char(pattern: str, i: int) -> tuple[str, int]:
    if i >= len(pattern):
        raise PatternError()
    c = pattern[i]
    if c in "-]":
        raise PatternError()
    if c == "\\":
        i += 1
        if i >= len(pattern):
            raise PatternError()
        c = pattern[i]
    return c, i + 1


def _compile_class(pattern: str, i: int) -> tuple[str, int]:
    negated = i < len(pattern) and pattern[i] == "^"
    if negated:
        i += 1
    ranges: list[str] = []
    first = True
    while True:
        if i < len(pattern) and pattern[i] == "]" and not first:
            i += 1
            break
        lo, i = _class_char(pattern, i)
        hi = lo
        if i < len(pattern) and pattern[i] == "-":
            hi, i = _class_char(pattern, i + 1)
        if ord(lo) > ord(hi):
            raise PatternError()
        ranges.append(re.escape(lo) if lo == hi else f"{re.escape(lo)}-{re.escape(hi)}")
        first = False
    body = "".join(ranges)
    # A negated class never matches "/" in Go (it matches one non-separator rune).
    return (f"[^{body}/]" if negated else f"(?:(?!/)[{body}])"), i


def _scan_chunk(pattern: str) -> tuple[bool, str, str]:
    """Go's scanChunk: leading stars, then the chunk up to the next star outside a class."""
    star = False
    while pattern.startswith("*"):
        pattern, star = pattern[1:], True
    in_range, i = False, 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 1
        elif c == "[":
            in_range = True
        elif c == "]":
            in_range = False
        elif c == "*" and not in_range:
            break
        i += 1
    return star, pattern[:i], pattern[i:]


@lru_cache(maxsize=1024)
def _chunks(pattern: str) -> tuple[tuple[bool, re.Pattern[str] | None], ...]:
    """(star before it, regex of the star-free chunk) per chunk; None for a trailing star."""
    compile_glob(pattern)  # PatternError for a malformed pattern, wherever the problem is
    out = []
    rest = pattern
    while rest:
        star, chunk, rest = _scan_chunk(rest)
        out.append((star, re.compile(compile_glob(chunk).pattern[:-2], re.DOTALL) if chunk else None))
    return tuple(out)


def glob_match(pattern: str, text: str) -> bool:
    """path.Match(pattern, text); raises PatternError for a malformed pattern.

    Go's algorithm, chunk by chunk (each star tries the next chunk at each later position, and
    never backtracks into earlier stars): linear in the name for any number of stars, where one
    backtracking regex of the whole pattern takes exponential time (`*a*a*a*a*...b`)."""
    chunks = _chunks(pattern)
    name = text
    for index, (star, chunk) in enumerate(chunks):
        last = index == len(chunks) - 1
        if chunk is None:  # a trailing star matches the rest of the name unless it has a /
            return "/" not in name
        found = chunk.match(name)
        if found is not None and (found.end() == len(name) or not last):
            name = name[found.end():]
            continue
        if not star:
            return False
        for skip in range(len(name)):
            if name[skip] == "/":
                return False
            found = chunk.match(name, skip + 1)
            if found is not None and (found.end() == len(name) or not last):
                name = name[found.end():]
                break
        else:
            return False
    return name == ""
