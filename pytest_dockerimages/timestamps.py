"""Creation times with nanosecond precision, and the daemon's `until` parser (Go's GetTimestamp)."""
from __future__ import annotations

import calendar
import re
from datetime import datetime, timezone

NANOS = 1_000_000_000

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


def to_ns(value: object, *, field: str = "created") -> int:
    """Accept unix seconds (int/float), RFC 3339 text or a datetime; return unix nanoseconds."""
    if isinstance(value, bool):
        raise ValueError(f"{field}: expected unix seconds, RFC 3339 text or datetime, got a boolean")
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
            raise ValueError(f"{field}: {exc}") from None
    raise ValueError(f"{field}: expected unix seconds, RFC 3339 text or datetime, got {type(value).__name__}")


def format_rfc3339_ns(ns: int) -> str:
    """Go's RFC3339Nano rendering (trailing zeros of the fraction trimmed), UTC."""
    seconds, nanos = divmod(ns, NANOS)
    stamp = datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    if nanos:
        stamp += "." + f"{nanos:09d}".rstrip("0")
    return stamp + "Z"


def unix_seconds(ns: int) -> int:
    """Go's time.Unix(): floor division, as the daemon renders Created."""
    return ns // NANOS


# --- Go durations ------------------------------------------------------------------------
_UNIT_NS = {"ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000, "s": NANOS,
            "m": 60 * NANOS, "h": 3600 * NANOS}
_DURATION = re.compile(r"^[-+]?(?:(?:\d+\.?\d*|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+$")
_DURATION_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def parse_go_duration(text: str) -> int | None:
    """time.ParseDuration -> nanoseconds, or None when it is not a duration."""
    if text in ("0", "+0", "-0"):
        return 0
    if not _DURATION.match(text):
        return None
    sign = -1 if text.startswith("-") else 1
    total = 0.0
    for number, unit in _DURATION_PART.findall(text):
        total += float(number) * _UNIT_NS[unit]
    return sign * int(total)


class TimestampError(ValueError):
    """`until` value the daemon cannot parse; str() is the daemon's message (pre-29.4 wording)."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason  # the 29.4+ wording of the inner error


_PARTIAL_FORMATS = [
    (re.compile(r"^(\d{4})-(\d{2})-(\d{2})$"), "2006-01-02"),
    (re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2})$"), "2006-01-02T15"),
    (re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})$"), "2006-01-02T15:04"),
    (re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?$"), "2006-01-02T15:04:05"),
]
_ZONE = re.compile(r"^(.*?)(?:([Zz])|([+-])(\d{2}):(\d{2}))$")


def _parse_time_text(text: str) -> int:
    zone = _ZONE.match(text) if (("Z" in text or "z" in text or "+" in text) or text.count("-") == 3) else None
    body, offset = text, 0
    if zone:
        body = zone.group(1)
        if zone.group(3):
            offset = (int(zone.group(4)) * 3600 + int(zone.group(5)) * 60) * (1 if zone.group(3) == "+" else -1)
    for pattern, layout in _PARTIAL_FORMATS:
        match = pattern.match(body)
        if match:
            parts = [int(p) if p and i < 6 else p for i, p in enumerate(match.groups())]
            nums = (parts + [0, 0, 0, 0, 0, 0])[:6]
            frac = match.group(7) if match.re.groups >= 7 else None
            return _utc_ns(nums[0], nums[1], nums[2], nums[3] or 0, nums[4] or 0, nums[5] or 0, frac, offset, text)
    raise ValueError(f'parsing time "{text}" as "2006-01-02T15:04:05Z07:00": cannot parse "{text}" as "2006"')


def parse_until(text: str, now_ns: int) -> int:
    """GetTimestamp + ParseTimestamps: duration, unix seconds[.nanos], RFC 3339 or partial date."""
    duration = parse_go_duration(text) if text != "0" else None
    if duration is not None:
        return now_ns - duration
    try:
        return _parse_time_text(text)
    except ValueError as exc:
        if "-" in text:
            raise TimestampError(str(exc), str(exc)) from None
    match = re.fullmatch(r"([+-]?\d+)(?:\.(\d+))?", text)
    if not match:
        inner = "value is empty" if text == "" else f'invalid seconds "{text.split(".")[0]}": invalid syntax'
        raise TimestampError(f'failed to parse value as time or duration: "{text}"',
                             f"failed to parse value as time or duration: {inner}")
    seconds = int(match.group(1))
    frac = match.group(2)
    nanos = int(int(frac) * 10 ** (9 - len(frac))) if frac else 0
    return seconds * NANOS + nanos
