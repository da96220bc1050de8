"""Errors as values: the daemon's status code and message, written by the server as it would."""
from __future__ import annotations


class DaemonError(Exception):
    """A response the real daemon gives as an error: `{"message": ...}` with `status`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def __repr__(self) -> str:
        return f"DaemonError({self.status}, {self.message!r})"


def invalid_parameter(message: str) -> DaemonError:
    return DaemonError(400, message)


def not_found(message: str) -> DaemonError:
    return DaemonError(404, message)


def system_error(message: str) -> DaemonError:
    """Untyped Go errors become 500."""
    return DaemonError(500, message)
