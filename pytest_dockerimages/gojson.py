"""Go's encoding/json error messages, for daemons that pass them through (Docker 20.10 filters).

Only the checks json.Unmarshal makes into `map[string]map[string]bool` are modelled: the syntax
scan (checkValid) first, then the first type mismatch.
"""
from __future__ import annotations

import json
from typing import Any


class GoJSONError(ValueError):
    pass


def _quote_char(c: str) -> str:
    if c == "'":
        return "'\\''"
    if c == '"':
        return "'\"'"
    if c.isprintable():
        return f"'{c}'"
    return "'" + json.dumps(c)[1:-1] + "'"


class _Scanner:
    """A small recursive-descent checker that fails with Go scanner wording."""

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

    def value(self) -> None:
        self.ws()
        c = self.peek()
        if c == "{":
            self.obj()
        elif c == "[":
            self.arr()
        elif c == '"':
            self.string()
        elif c == "-" or c.isdigit():
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
            if not self.peek().isdigit():
                raise self.fail("in numeric literal")
        if self.peek() == "0":
            self.i += 1
        else:
            while self.peek().isdigit():
                self.i += 1
        if self.peek() == ".":
            self.i += 1
            if not self.peek().isdigit():
                raise self.fail("after decimal point in numeric literal")
            while self.peek().isdigit():
                self.i += 1
        if self.peek() in ("e", "E"):
            self.i += 1
            if self.peek() in ("+", "-"):
                self.i += 1
            if not self.peek().isdigit():
                raise self.fail("in exponent of numeric literal")
            while self.peek().isdigit():
                self.i += 1

    def obj(self) -> None:
        self.i += 1
        self.ws()
        if self.peek() == "}":
            self.i += 1
            return
        while True:
            self.ws()
            if self.peek() != '"':
                raise self.fail("looking for beginning of object key string")
            self.string()
            self.ws()
            if self.peek() != ":":
                raise self.fail("after object key")
            self.i += 1
            self.value()
            self.ws()
            if self.peek() == ",":
                self.i += 1
                continue
            if self.peek() == "}":
                self.i += 1
                return
            raise self.fail("after object key:value pair")

    def arr(self) -> None:
        self.i += 1
        self.ws()
        if self.peek() == "]":
            self.i += 1
            return
        while True:
            self.value()
            self.ws()
            if self.peek() == ",":
                self.i += 1
                continue
            if self.peek() == "]":
                self.i += 1
                return
            raise self.fail("after array element")

    def check(self) -> None:
        self.value()
        self.ws()
        if self.i < len(self.s):
            raise self.fail("after top-level value")


def check_syntax(text: str) -> None:
    """Raise GoJSONError with Go's message if `text` is not valid JSON."""
    _Scanner(text).check()


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
