"""Errors a user can act on: each names the file, the line or record, and the field."""

from __future__ import annotations


class MedcurateError(Exception):
    """An error shown to the user as a message, not a traceback."""


class RecordError(ValueError):
    """One input record is bad; it goes to the rejects file and reading goes on (unless strict)."""

    def __init__(self, field: str | None, reason: str):
        super().__init__(reason)
        self.field = field
        self.reason = reason


class StrictModeError(MedcurateError):
    """Raised in --strict mode at the first bad record, with the same message a reject would carry."""


def describe(file: str, locator: str, field: str | None, reason: str) -> str:
    where = f"{file}:{locator}"
    return f"{where}: field '{field}': {reason}" if field else f"{where}: {reason}"
