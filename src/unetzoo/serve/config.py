"""The limits of a server, with the defaults ``unetzoo serve`` uses."""

from __future__ import annotations

from dataclasses import dataclass

from unetzoo.data.io import MAX_PIXELS
from unetzoo.errors import UnetzooError

MiB = 1024 * 1024


@dataclass(frozen=True)
class ServeConfig:
    """Limits of one server.

    Args:
        max_upload_bytes: largest accepted image file (413 beyond).
        max_pixels: largest accepted image, height x width (422 beyond); at most :data:`unetzoo.data.io.MAX_PIXELS`.
        concurrency: uploads admitted at once, running or waiting for the model (429 with ``Retry-After`` beyond).
        workers: model runs in parallel (the others wait for a worker); each run already uses every core, so a
            small number keeps peak memory to a few runs' activations while keeping the cores busy.
        request_timeout: seconds a client may stay idle mid-request before the connection is dropped.
    """

    max_upload_bytes: int = 32 * MiB
    max_pixels: int = 4096 * 4096
    concurrency: int = 4
    workers: int = 2
    request_timeout: float = 30.0

    def __post_init__(self) -> None:
        if self.max_upload_bytes < 1:
            raise UnetzooError("--max-upload-mb must be positive", exit_code=2)
        if not 1 <= self.max_pixels <= MAX_PIXELS:
            raise UnetzooError(f"--max-pixels must be between 1 and {MAX_PIXELS:,}", exit_code=2)
        if self.concurrency < 1:
            raise UnetzooError("--concurrency must be at least 1", exit_code=2)
        if self.workers < 1:
            raise UnetzooError("--workers must be at least 1", exit_code=2)
