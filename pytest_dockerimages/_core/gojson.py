"""Go's encoding/json error messages, for daemons that pass them through (Docker 20.10 filters).

Only the checks json.Unmarshal makes into `map[string]map[string]bool` are modelled: the syntax
scan (checkValid) first, then the first type mismatch.
"""
from __future__ import annotations

import json
import re
from typing import Any


class GoJSONError(ValueError):
    pass


_PLAIN = re.compile(r'[^"\\\x00-\x1f]+')
#: encoding/json's scanner refuses deeper nesting ("exceeded max depth").
MAX_DEPTH = 10000


def _is_digit(c: str) -> bool:
    """Go's JSON scanner knows only the ASCII digits (str.isdigit() would accept "²")."""
    return len(c) == 1 and "0" <= c <= "9"


def _quote_char(c: str) -> str:
    if c == "'":
        return "'\\''"
    if c == '"':
        return "'\"'"
    if c.isprintable():
        return f"'{c}'"
    return "'" + json.dumps(c)[1:-1] + "'"


class _Scanner:
    """A small iterative checker (any nesting depth) that fails with Go scanner wording."""

    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0

    def fail(self, context: str) -> GoJSONError:
        if self.i >= len(self.s):
            return GoJSONError("unexpected end of JSON input")
        return GoJSONError(f"invalid character {_quote_char(self.s[self.i])} {context}")

    def ws(self) -> None:
        while self.i < len(self.s) and self.s[self.i] in " \t\r\n":
            self.i += 1

    def peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    def scalar(self) -> None:
        c = self.peek()
        if c == '"':
            self.string()
        elif c == "-" or _is_digit(c):
            self.number()
        elif c and c in "tfn":
            self.literal({"t": "true", "f": "false", "n": "null"}[c])
        else:
            raise self.fail("looking for beginning of value")

    def literal(self, word: str) -> None:
        for expected in word:
            if self.peek() != expected:
                raise self.fail(f"in literal {word} (expecting '{expected}')")
            self.i += 1

    def string(self) -> None:
        self.i += 1
        while True:
            plain = _PLAIN.match(self.s, self.i)  # skip ordinary characters in one step
            if plain is not None:
                self.i = plain.end()
            c = self.peek()
            if not c:
                raise self.fail("")
            if c == '"':
                self.i += 1
                return
            if c == "\\":
                self.i += 1
                e = self.peek()
                if e == "u":
                    self.i += 1
                    for _ in range(4):
                        if not self.peek() or self.peek() not in "0123456789abcdefABCDEF":
                            raise self.fail("in \\u hexadecimal character escape")
                        self.i += 1
                    continue
                if not e or e not in '"\\/bfnrt':
                    raise self.fail("in string escape code")
                self.i += 1
                continue
            if ord(c) < 0x20:
                raise self.fail("in string literal")
            self.i += 1

    def number(self) -> None:
        if self.peek() == "-":
            self.i += 1
            if not _is_digit(self.peek()):
                raise self.fail("in numeric literal")
        if self.peek() == "0":
            self.i += 1
        else:
            while _is_digit(self.peek()):
                self.i += 1
        if self.peek() == ".":
            self.i += 1
            if not _is_digit(self.peek()):
                raise self.fail("after decimal point in numeric literal")
            while _is_digit(self.peek()):
                self.i += 1
        if self.peek() in ("e", "E"):
            self.i += 1
            if self.peek() in ("+", "-"):
                self.i += 1
            if not _is_digit(self.peek()):
                raise self.fail("in exponent of numeric literal")
            while _is_digit(self.peek()):
                self.i += 1

    def open(self, stack: list[str], c: str) -> None:
        if len(stack) >= MAX_DEPTH:
            raise self.fail("exceeded max depth")
        stack.append(c)
        self.i += 1
        self.ws()

    def check(self) -> int:
        """Scan the whole text with an explicit stack (no recursion: any nesting depth is fine);
        returns the deepest nesting seen."""
        stack: list[str] = []
        deepest = 0
        state = "value"
        while True:
            if state == "value":
                self.ws()
                c = self.peek()
                if c in ("{", "["):
                    self.open(stack, c)
                    deepest = max(deepest, len(stack))
                    if self.peek() == ("}" if c == "{" else "]"):
                        self.i += 1
                        stack.pop()
                        state = "after"
                    else:
                        state = "key" if c == "{" else "value"
                    continue
                self.scalar()
                state = "after"
            elif state == "key":
                self.ws()
                if self.peek() != '"':
                    raise self.fail("looking for beginning of object key string")
                self.string()
                self.ws()
                if self.peek() != ":":
                    raise self.fail("after object key")
                self.i += 1
                state = "value"
            else:  # after a complete value
                self.ws()
                if not stack:
                    if self.i < len(self.s):
                        raise self.fail("after top-level value")
                    return deepest
                c = self.peek()
                closer = "}" if stack[-1] == "{" else "]"
                if c == ",":
                    self.i += 1
                    state = "key" if closer == "}" else "value"
                elif c == closer:
                    self.i += 1
                    stack.pop()
                else:
                    raise self.fail("after object key:value pair" if closer == "}" else "after array element")


def check_syntax(text: str) -> int:
    """Raise GoJSONError with Go's message if `text` is not valid JSON; else return its nesting depth."""
    return _Scanner(text).check()


def loads_shallow(text: str, keep: int) -> Any:
    """`json.loads` of syntax-checked text, with every container nested deeper than `keep` levels
    replaced by an empty one of the same kind, and integers read as floats.

    The filter forms are only ever inspected `keep` levels deep, so the result decides them as the
    full document would, while a deeply nested or huge-number input can neither exhaust the stack
    nor hit Python's integer-digits limit."""
    out: list[str] = []
    depth, start, i, n = 0, 0, 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            i = _string_end(text, i)
            continue
        if c in "{[":
            if depth == keep:
                out.append(text[start:i] + ("{}" if c == "{" else "[]"))
                i = start = _container_end(text, i)
                continue
            depth += 1
        elif c in "}]":
            depth -= 1
        i += 1
    out.append(text[start:])
    return json.loads("".join(out), parse_int=float)


def _string_end(text: str, i: int) -> int:
    """Index just past the string literal that starts at `i`."""
    i += 1
    while text[i] != '"':
        i += 2 if text[i] == "\\" else 1
    return i + 1


def _container_end(text: str, i: int) -> int:
    """Index just past the container that starts at `i`."""
    depth = 0
    while True:
        c = text[i]
        if c == '"':
            i = _string_end(text, i)
            continue
        if c in "{[":
            depth += 1
        elif c in "}]":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _type_error(value: Any, go_type: str) -> GoJSONError:
    return GoJSONError(f"json: cannot unmarshal {_kind(value)} into Go value of type {go_type}")


def first_type_error_map_of_bool_maps(value: Any) -> GoJSONError | None:
    """The error json.Unmarshal reports for `value` into map[string]map[string]bool, if any."""
    if value is None:
        return None
    if not isinstance(value, dict):
        return _type_error(value, "map[string]map[string]bool")
    for inner in value.values():
        if inner is None:
            continue
        if not isinstance(inner, dict):
            return _type_error(inner, "map[string]bool")
        for flag in inner.values():
            if flag is not None and not isinstance(flag, bool):
                return _type_error(flag, "bool")
    return None
