"""The corpus's snapshots served on loopback as their application served them: each page at
its own url path (so relative form actions and links resolve as they did), its stylesheets
under their paths (tests/relocation/snapshots/<app>/static-root), anything else a 404."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"


@cache
def manifest(app: str) -> dict[str, Any]:
    """Page name → {"path": url path the page was captured at, "file": its snapshot}."""
    loaded: dict[str, Any] = json.loads((SNAPSHOTS / app / "manifest.json").read_text())
    return loaded


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        return  # a browser that left before its 404 was sent: nothing to report


@contextmanager
def serve_snapshots(app: str) -> Iterator[str]:
    """Serve one application's snapshots; yields the base url."""
    root = SNAPSHOTS / app
    pages = {entry["path"].split("?")[0]: root / entry["file"] for entry in manifest(app).values()}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            file = pages.get(path) or root / "static-root" / path.lstrip("/")
            if ".." in path or not file.is_file():
                self.send_error(404)
                return
            body = file.read_bytes()
            self.send_response(200)
            kind = "text/css" if file.suffix == ".css" else "text/html; charset=utf-8"
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # quiet
            return

    server = _QuietServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
