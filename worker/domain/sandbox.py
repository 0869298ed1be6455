"""Render a cache-key template within bounds of time, memory and size.

A cache-key template comes from the producer's workflow definition, so it may be slow or huge
on purpose or by mistake: nested `range` loops, `"x"*512*512*512`, `center(300000000)`,
`"%0300000000d"|format(1)`, a recursive macro. Jinja's sandbox stops unsafe attribute access,
not cost. So:

- a template without statements, calls or operators (`{{ tenant }}-{{ region|lower }}`, all
  real cache keys) renders in-process: it cannot loop or grow;
- any other renders in a forked child process with an address-space limit, killed after
  `RENDER_TIMEOUT_S`; its output is cut off past `MAX_OUTPUT_CHARS` while it is produced.

Every failure is a `RenderError` with its reason (the caller makes it a PermanentError).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import resource
import select
import signal
import time
from collections.abc import Callable, Mapping
from typing import Any

RENDER_TIMEOUT_S = 2.0
MEMORY_HEADROOM_BYTES = 256 * 1024 * 1024
MAX_OUTPUT_CHARS = 4096
# No statement ({% %}), call, subscript or operator: such a template cannot loop or grow.
_SIMPLE = re.compile(r"^(?:[^{]|\{(?![{%#])|\{\{[\s\w.|\"'-]*\}\})*$")


class RenderError(Exception):
    """A template could not be rendered within its bounds."""


Render = Callable[[str, Mapping[str, Any]], Any]  # returns an iterator of text chunks


def render_bounded(render: Render, template: str, parameters: Mapping[str, Any]) -> str:
    """Render `template` with `render` (which yields chunks), within the bounds."""
    if _SIMPLE.match(template):
        return _collect(render(template, parameters))
    return _in_child(render, template, parameters)


def _collect(chunks: Any) -> str:
    out: list[str] = []
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > MAX_OUTPUT_CHARS:
            raise RenderError(f"the rendered key grows past {MAX_OUTPUT_CHARS} characters")
        out.append(chunk)
    return "".join(out)


def _in_child(render: Render, template: str, parameters: Mapping[str, Any]) -> str:
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: render, report, exit without running any parent cleanup
        status = 0
        try:
            os.close(read_fd)
            _limit_memory()
            try:
                result: list[Any] = ["ok", _collect(render(template, parameters))]
            except RecursionError:
                result = ["error", "RecursionError: the template recurses too deeply"]
            except MemoryError:
                result = ["error", "MemoryError: the template needs too much memory"]
            except BaseException as exc:  # reported to the parent as text
                result = ["error", f"{type(exc).__name__}: {exc}"[:1000]]
            report = json.dumps(result).encode()
            while report:
                report = report[os.write(write_fd, report) :]
        except BaseException:  # nothing may escape a forked child
            status = 1
        finally:
            os._exit(status)
    os.close(write_fd)
    data: bytes | None = None
    try:
        data = _read_until(read_fd, time.monotonic() + RENDER_TIMEOUT_S)
    finally:
        os.close(read_fd)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    if data is None:
        raise RenderError(f"rendering took longer than {RENDER_TIMEOUT_S:g} s")
    try:
        kind, value = json.loads(data)
    except ValueError:
        raise RenderError("rendering failed: the renderer died (out of memory?)") from None
    if kind != "ok":
        raise RenderError(str(value))
    return str(value)


def _read_until(fd: int, deadline: float) -> bytes | None:
    """Everything written to fd until it closes; None if the deadline passes first."""
    chunks: list[bytes] = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            return None
        chunk = os.read(fd, 65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _limit_memory() -> None:
    """Cap the child's address space at what it has now plus a headroom."""
    with open("/proc/self/statm") as statm:
        size_bytes = int(statm.read().split()[0]) * resource.getpagesize()
    limit = size_bytes + MEMORY_HEADROOM_BYTES
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
