"""The one error type of the HTTP layer: a status code, a stable machine code and a one-line message."""

from __future__ import annotations

from unetzoo.errors import UnetzooError


class ApiError(UnetzooError):
    """A failed request, answered as ``{"error": code, "message": message}`` with HTTP ``status``.

    Args:
        status: HTTP status (400, 404, 405, 411, 413, 415, 422, 429, ...).
        code: stable snake_case identifier clients can branch on (``too_many_pixels``, ``busy``, ...).
        message: one line naming what is wrong and the fix.
        headers: extra response headers (``Allow``, ``Retry-After``).
    """

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
