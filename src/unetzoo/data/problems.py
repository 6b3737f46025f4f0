"""One data problem = one line naming the file, what is wrong and the fix (the project's error style)."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Literal

from unetzoo.errors import UnetzooError

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    """A finding of ``unetzoo data check``: errors block training, warnings do not."""

    severity: Severity
    file: str
    what: str
    fix: str

    @property
    def message(self) -> str:
        """``<file>: <what is wrong>; <fix>``, identical to the :class:`DataError` raised for it."""
        return f"{self.file}: {self.what}; {self.fix}"

    @property
    def line(self) -> str:
        return f"{self.severity}: {self.message}"

    def to_dict(self) -> dict[str, str]:
        return {**asdict(self), "message": self.message}


class DataError(UnetzooError):
    """A :class:`UnetzooError` about one file, keeping its parts so ``check`` can list it as a problem."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def fail(path: str | os.PathLike[str], what: str, fix: str) -> DataError:
    """The project's one-line error: ``<file>: <what is wrong>; <fix>``."""
    return DataError(Problem("error", str(path), what, fix))
