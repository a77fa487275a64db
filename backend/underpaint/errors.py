"""Errors the artist (or the add-on) can act on, each with a stable code.

Anything that rejects bad input raises `InputError`; the HTTP layer turns it
into `{"error": {"code", "message"}}` with its status, the job worker records
it as the job's error, and the CLI prints the message. One type, so every
layer says the same thing about the same problem.
"""

from __future__ import annotations


class InputError(ValueError):
    """Bad input: a missing file, a wrong size, an unknown name. `code` is snake_case and stable."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


class NotFound(InputError):
    """A job, take, blob or frame that does not exist."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message, status=404)
