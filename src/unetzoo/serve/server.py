"""The socket layer: a threaded HTTP/1.1 server from the standard library in front of :class:`App`.

Per request: route lookup, the Host check (a loopback server answers only to loopback names, which stops DNS
rebinding), a non-blocking upload slot (429 beyond ``concurrency``), the body size check against
``Content-Length`` before reading (413), then the handler. Idle clients are dropped after ``request_timeout``.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
import tempfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from unetzoo.serve.app import App, Request, Response, error_response
from unetzoo.serve.config import ServeConfig
from unetzoo.serve.errors import ApiError
from unetzoo.serve.model import ServedModel, load_model

MULTIPART_OVERHEAD = 64 * 1024
"""Bytes allowed on top of the upload limit for multipart boundaries and part headers."""

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' blob: data:; script-src 'self'; style-src 'self'; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
}


def is_loopback(host: str) -> bool:
    """True for loopback addresses and ``localhost``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Handler(BaseHTTPRequestHandler):
    """One connection; requests on it are answered in order (keep-alive)."""

    server: UnetzooServer
    protocol_version = "HTTP/1.1"
    server_version = "unetzoo"
    sys_version = ""

    def setup(self) -> None:
        self.timeout = self.server.app.config.request_timeout
        super().setup()

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.access_log:
            sys.stderr.write(f"{self.address_string()} - {format % args}\n")

    # -- request handling -----------------------------------------------------------------------------
    def _dispatch(self, method: str) -> None:
        app = self.server.app
        url = urlsplit(self.path)
        try:
            self._check_host()
            route = app.resolve(method, url.path)
        except ApiError as exc:
            self._discard_body()
            self._send(error_response(exc))
            return
        query = parse_qs(url.query, keep_blank_values=True)
        if not route.upload:
            self._discard_body()
            self._send(app.handle(route, Request(query)))
            return
        if not app.slots.try_acquire():
            self._discard_body()
            busy = ApiError(
                429,
                "busy",
                f"{app.config.concurrency} image(s) are already being processed; retry shortly",
                {"Retry-After": "1"},
            )
            self._send(error_response(busy))
            return
        try:
            response = app.handle(route, Request(query, self.headers.get("Content-Type"), self._read_body()))
        except ApiError as exc:
            response = error_response(exc)
        finally:
            app.slots.release()  # before writing: a client reading slowly does not hold a slot
        self._send(response)

    def _check_host(self) -> None:
        if not self.server.loopback_only:
            return
        host = (self.headers.get("Host") or "").strip().lower()
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if name not in LOOPBACK_NAMES:
            raise ApiError(
                421,
                "wrong_host",
                "this server is bound to loopback and answers only to localhost, 127.0.0.1 or [::1]",
            )

    def _content_length(self) -> int | None:
        if self.headers.get("Transfer-Encoding"):
            return None
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            return None
        return length if length >= 0 else None

    def _read_body(self) -> bytes:
        """The body, size-checked from ``Content-Length`` before reading; 411 without one, 413 over the limit."""
        app = self.server.app
        length = self._content_length()
        if length is None:
            self.close_connection = True
            raise ApiError(411, "length_required", "send the upload with a Content-Length header (no chunking)")
        if length > app.config.max_upload_bytes + MULTIPART_OVERHEAD:
            self._discard_body()
            raise app.too_large(length)
        return self.rfile.read(length)

    def _discard_body(self) -> None:
        """Drain a small unread body so the connection can be reused; close instead for a large one."""
        length = self._content_length()
        if not length:
            if self.headers.get("Transfer-Encoding"):
                self.close_connection = True
            return
        if length > 2 * (self.server.app.config.max_upload_bytes + MULTIPART_OVERHEAD):
            self.close_connection = True
            return
        while length > 0:
            chunk = self.rfile.read(min(length, 1 << 20))
            if not chunk:
                break
            length -= len(chunk)

    def _send(self, response: Response) -> None:
        try:
            self.send_response(response.status)
            headers = {
                "Content-Type": response.content_type,
                "Content-Length": str(len(response.body)),
                "Cache-Control": "no-store",
                **SECURITY_HEADERS,
                **response.headers,
            }
            if self.close_connection:
                headers["Connection"] = "close"
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(response.body)
        except (TimeoutError, BrokenPipeError, ConnectionResetError):
            self.close_connection = True


class UnetzooServer(ThreadingHTTPServer):
    """A threaded HTTP server owning an :class:`App` and its private temporary folder."""

    daemon_threads = True

    def __init__(
        self, model: ServedModel, config: ServeConfig, host: str = "127.0.0.1", port: int = 8000, *, access_log: bool
    ) -> None:
        if ":" in host:
            self.address_family = socket.AF_INET6
        self._tmp = tempfile.TemporaryDirectory(prefix="unetzoo-serve-")
        self.app = App(model, config, Path(self._tmp.name))
        self.loopback_only = is_loopback(host)
        self.access_log = access_log
        try:
            super().__init__((host.strip("[]"), port), Handler)
        except OSError:
            self._tmp.cleanup()
            raise

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{f'[{host}]' if ':' in str(host) else host}:{port}/"

    def server_close(self) -> None:
        super().server_close()
        self._tmp.cleanup()


def serve(
    model: str | os.PathLike[str] | ServedModel,
    host: str = "127.0.0.1",
    port: int = 8000,
    config: ServeConfig | None = None,
    *,
    access_log: bool = True,
) -> None:
    """Serve ``model`` (a checkpoint, ``FILE.onnx`` or a loaded :class:`ServedModel`) until interrupted.

    Binds to loopback by default; another ``host`` makes the service reachable from the network, without
    authentication.
    """
    served = model if isinstance(model, ServedModel) else load_model(model)
    server = UnetzooServer(served, config or ServeConfig(), host, port, access_log=access_log)
    print(f"unetzoo serve: {served.card['model']} ({served.card['engine']}) on {server.url}", file=sys.stderr)
    if not server.loopback_only:
        print("unetzoo serve: warning: reachable from the network, with no authentication", file=sys.stderr)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("unetzoo serve: stopped", file=sys.stderr)
    finally:
        server.server_close()
