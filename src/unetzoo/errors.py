"""The one exception type users see.

Every anticipated failure (bad data, wrong model name, unreadable checkpoint, ...) raises
:class:`UnetzooError` with a one-line message that names the file or value and the fix.
The CLI prints it without a traceback and exits non-zero.
"""

from __future__ import annotations


class UnetzooError(Exception):
    """An error with a one-line, user-facing message.

    Args:
        message: what went wrong, naming the file or value, and how to fix it.
        exit_code: process exit status the CLI uses (1 = bad input/data, 2 = usage).
    """

    def __init__(self, message: str, *, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code
