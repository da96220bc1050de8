"""Creation times with nanosecond precision, and the daemon's `until` parser (Go's GetTimestamp)."""
from __future__ import annotations

import calendar
import json
import re
from datetime import datetime, timezone

NANOS = 1_000_000_000
#: Go's zero time.Time as the daemon writes it: inspect's Created of an image without a creation time.
ZERO_TIME = "0001-01-01T00:00:00Z"

_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:[Zz]|([+-])(\d{2}):(\d{2}))$"
)


def _days_in_month(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


def _utc_ns(y: int, mo: int, d: int, h: int, mi: int, s: int, frac: str | None, offset_s: int, text: str) -> int:
    if not 1 <= mo <= 12:
        raise ValueError(f'parsing time "{text}": month out of range')
    if not 1 <= d <= _days_in_month(y, mo):
        raise ValueError(f'parsing time "{text}": day out of range')
    if h > 23:
        raise ValueError(f'parsing time "{text}": hour out of range')
    if mi > 59:
        raise ValueError(f'parsing time "{text}": minute out of range')
    if s > 59:
        raise ValueError(f'parsing time "{text}": second out of range')
    seconds = calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0)) - offset_s
    nanos = int((frac or "").ljust(9, "0")) if frac else 0
    return seconds * NANOS + nanos


def parse_rfc3339_ns(text: str) -> int:
    """RFC 3339 (nano) text -> unix nanoseconds; ValueError with Go's wording when invalid."""
    match = _RFC3339.match(text)
    if not match:
        raise ValueError(f'parsing time "{text}" as "2006-01-02T15:04:05Z07:00": cannot parse')
    y, mo, d, h, mi, s, frac, sign, oh, om = match.groups()
    offset = 0
    if sign:
        offset = (int(oh) * 3600 + int(om) * 60) * (1 if sign == "+" else -1)
    return _utc_ns(int(y), int(mo), int(d), int(h), int(mi), int(s), frac, offset, text)


#: What `created` (and `record_created`) accept, for the error that refuses anything else.
ACCEPTED_TIMES = ("unix seconds (1709251200 or 1709251200.5), RFC 3339 text (2024-03-01T00:00:00Z, "
                  "2024-03-01T01:00:00.123456789+01:00) or a datetime (naive means UTC)")


def to_ns(value: object, *, field: str = "created") -> int:
    """Accept unix seconds (int/float), RFC 3339 text or a datetime; return unix nanoseconds."""
    if isinstance(value, bool):
        raise ValueError(f"{field}: expected {ACCEPTED_TIMES}, got a boolean")
    if isinstance(value, int):
        return value * NANOS
    if isinstance(value, float):
        return round(value * NANOS)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        delta = value - datetime(1970, 1, 1, tzinfo=timezone.utc)
        return (delta.days * 86400 + delta.seconds) * NANOS + delta.microseconds * 1000
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"-?\d+", text):
            return int(text) * NANOS
        try:
            return parse_rfc3339_ns(text)
        except ValueError as exc:
            raise ValueError(f"{field}: {exc}; expected {ACCEPTED_TIMES}") from None
    raise ValueError(f"{field}: expected {ACCEPTED_TIMES}, got {type(value).__name__}")


def format_rfc3339_ns(ns: int) -> str:
    """Go's RFC3339Nano rendering (trailing zeros of the fraction trimmed), UTC."""
    seconds, nanos = divmod(ns, NANOS)
    moment = datetime.fromtimestamp(seconds, tz=timezone.utc)
    stamp = f"{moment.year:04d}" + moment.strftime("-%m-%dT%H:%M:%S")  # Go pads the year: 0001-01-01
    if nanos:
        stamp += "." + f"{nanos:09d}".rstrip("0")
    return stamp + "Z"


def unix_seconds(ns: int) -> int:
    """Go's time.Unix(): floor division, as the daemon renders Created."""
    return ns // NANOS


# --- Go durations ------------------------------------------------------------------------
_UNIT_NS = {"ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000, "s": NANOS,
            "m": 60 * NANOS, "h": 3600 * NANOS}
# no ambiguous \d+\d*: linear
_DURATION = re.compile(r"^[-+]?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+$", re.ASCII)
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)", re.ASCII)
_INT64_MAX = 2**63 - 1


def _fits_int64(digits: str) -> bool:
    """Would strconv.ParseInt(digits, 10, 64) succeed? (Checked before int(): no digit limit.)"""
    digits = digits.lstrip("+-").lstrip("0")
    return len(digits) < 19 or (len(digits) == 19 and int(digits) <= _INT64_MAX)


def _isdigits(text: str) -> bool:
    """Only ASCII digits, as Go's parsers read them (str.isdigit() also accepts "²" and "٣")."""
    return text.isascii() and text.isdigit()


def parse_go_duration(text: str) -> int | None:
    """time.ParseDuration -> nanoseconds, or None when it is not a duration."""
    if text in ("0", "+0", "-0"):
        return 0
    if not _DURATION.match(text):
        return None
    sign = -1 if text.startswith("-") else 1
    total = 0.0
    for number, unit in _DURATION_PART.findall(text):
        whole = number.partition(".")[0]
        if not _fits_int64(whole) or int(whole or "0") > 2**63 // _UNIT_NS[unit]:
            return None  # "time: invalid duration" (overflow)
        total += float(number) * _UNIT_NS[unit]
    if total > (2**63 if sign < 0 else _INT64_MAX):
        return None
    return sign * int(total)


class TimestampError(ValueError):
    """`until` value the daemon cannot parse; str() is the daemon's message (pre-29.4 wording)."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason  # the 29.4+ wording of the inner error


# Layouts GetTimestamp picks from the shape of the value (daemon local time zone: UTC here).
RFC3339, RFC3339_NANO = "2006-01-02T15:04:05Z07:00", "2006-01-02T15:04:05.999999999Z07:00"
RFC3339_LOCAL, RFC3339_NANO_LOCAL = "2006-01-02T15:04:05", "2006-01-02T15:04:05.999999999"
DATE_WITH_ZONE, DATE_LOCAL = "2006-01-02Z07:00", "2006-01-02"
_LAYOUT_TOKENS = re.compile(r"2006|01|02|15|04|05|\.999999999|Z07:00|[^0-9Z.]+")


def choose_layout(value: str) -> str:
    """The layout Go's GetTimestamp tries for a value that is not a duration."""
    in_location = not (any(c in value for c in "zZ+") or value.count("-") == 3)
    if "." in value:
        return RFC3339_NANO_LOCAL if in_location else RFC3339_NANO
    if "T" in value:
        colons = value.count(":")
        if not in_location and not any(c in value for c in "zZ") and colons > 0:
            colons -= 1
        if in_location:
            return {0: "2006-01-02T15", 1: "2006-01-02T15:04"}.get(colons, RFC3339_LOCAL)
        return {0: "2006-01-02T15Z07:00", 1: "2006-01-02T15:04Z07:00"}.get(colons, RFC3339)
    return DATE_LOCAL if in_location else DATE_WITH_ZONE


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def go_parse_time(layout: str, value: str) -> int:
    """time.Parse for the layouts above: unix nanoseconds, or ValueError with Go's message."""
    def bad(rest: str, element: str) -> ValueError:
        return ValueError(f"parsing time {_quote(value)} as {_quote(layout)}: "
                          f"cannot parse {_quote(rest)} as {_quote(element)}")

    def out_of_range(what: str) -> ValueError:
        return ValueError(f"parsing time {_quote(value)}: {what} out of range")

    rest = value
    fields = {"year": 0, "month": 1, "day": 1, "hour": 0, "minute": 0, "second": 0}
    nanos, offset = 0, 0
    for token in _LAYOUT_TOKENS.findall(layout):
        if token == "2006":
            if len(rest) < 4 or not _isdigits(rest[:4]):
                raise bad(rest, token)
            fields["year"], rest = int(rest[:4]), rest[4:]
        elif token in ("01", "02", "15", "04", "05"):
            fixed = token != "15"
            if not _isdigits(rest[:1]) or (fixed and not _isdigits(rest[1:2])):
                raise bad(rest, token)
            width = 2 if _isdigits(rest[1:2]) else 1
            number, rest = int(rest[:width]), rest[width:]
            name = {"01": "month", "02": "day", "15": "hour", "04": "minute", "05": "second"}[token]
            limit = {"month": 12, "day": 31, "hour": 23, "minute": 59, "second": 59}[name]
            if number > limit or (name in ("month", "day") and number < 1):
                raise out_of_range(name)
            fields[name] = number
            if (token == "05" and len(rest) >= 2 and rest[0] in ".," and _isdigits(rest[1])
                    and ".999999999" not in layout):
                digits = re.match(r"[0-9]+", rest[1:]).group(0)  # type: ignore[union-attr]
                nanos, rest = int(digits[:9].ljust(9, "0")), rest[1 + len(digits):]
        elif token == ".999999999":
            if len(rest) >= 2 and rest[0] in ".," and _isdigits(rest[1]):
                digits = re.match(r"[0-9]+", rest[1:]).group(0)  # type: ignore[union-attr]
                nanos, rest = int(digits[:9].ljust(9, "0")), rest[1 + len(digits):]
        elif token == "Z07:00":
            if rest[:1] == "Z":
                rest = rest[1:]
            elif (len(rest) >= 6 and rest[0] in "+-" and rest[3] == ":" and _isdigits(rest[1:3])
                  and _isdigits(rest[4:6])):
                offset = (int(rest[1:3]) * 3600 + int(rest[4:6]) * 60) * (1 if rest[0] == "+" else -1)
                rest = rest[6:]
            else:
                raise bad(rest, token)
        else:
            if not rest.startswith(token):
                raise bad(rest, token)
            rest = rest[len(token):]
    if rest:
        raise ValueError(f"parsing time {_quote(value)}: extra text: {_quote(rest)}")
    if fields["day"] > _days_in_month(fields["year"] or 2000, fields["month"]):
        raise out_of_range("day")
    seconds = calendar.timegm((fields["year"], fields["month"], fields["day"], fields["hour"], fields["minute"],
                               fields["second"], 0, 0, 0)) - offset
    return seconds * NANOS + nanos


def parse_until(text: str, now_ns: int) -> int:
    """GetTimestamp + ParseTimestamps: duration, unix seconds[.nanos], RFC 3339 or partial date."""
    duration = parse_go_duration(text) if text != "0" else None
    if duration is not None:
        return now_ns - duration
    try:
        return go_parse_time(choose_layout(text), text)
    except ValueError as exc:
        if "-" in text:
            raise TimestampError(str(exc), str(exc)) from None
    match = re.fullmatch(r"([+-]?\d+)(?:\.(\d+))?", text, re.ASCII)
    if not match or not _fits_int64(match.group(1)) or not _fits_int64(match.group(2) or ""):
        if text == "":
            inner = "value is empty"
        elif match:  # strconv.ParseInt: out of int64 range
            inner = f'invalid seconds "{text.split(".")[0]}": value out of range'
        else:
            inner = f'invalid seconds "{text.split(".")[0]}": invalid syntax'
        raise TimestampError(f'failed to parse value as time or duration: "{text}"',
                             f"failed to parse value as time or duration: {inner}")
    seconds = int(match.group(1))
    frac = match.group(2)
    nanos = int(int(frac) * 10 ** (9 - len(frac))) if frac else 0
    return seconds * NANOS + nanos
