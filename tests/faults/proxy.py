"""A small asyncio TCP proxy for fault tests: latency on every chunk, and connection resets.

It runs its own event loop in a daemon thread, so a test drives it from ordinary code:

    with Proxy(target_port=5432, latency_s=(0.002, 0.02), seed=7) as proxy:
        url = f"postgresql+psycopg://postgres@127.0.0.1:{proxy.port}/db"
        ...
        proxy.reset_all()  # every open connection is reset (RST), now

`reset_rate` resets a connection at random while data flows (per forwarded chunk).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
import threading
from types import TracebackType

from tests.support.services import free_port


class Proxy:
    def __init__(
        self,
        target_port: int,
        *,
        latency_s: tuple[float, float] = (0.0, 0.0),
        reset_rate: float = 0.0,
        seed: int = 0,
        target_host: str = "127.0.0.1",
    ) -> None:
        self.target = (target_host, target_port)
        self.latency_s = latency_s
        self.reset_rate = reset_rate
        self.port = free_port()
        self.resets = 0
        self.connections = 0
        self._rng = random.Random(seed)
        self._writers: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"proxy-{self.port}", daemon=True)
        self._server: asyncio.Server | None = None

    # --- control, from the test's thread ---------------------------------------------------

    def start(self) -> Proxy:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the proxy did not start")
        return self

    def reset_all(self) -> int:
        """Reset every open connection at once; returns how many were open."""
        future = asyncio.run_coroutine_threadsafe(self._reset_all(), self._loop)
        return future.result(10)

    def close(self) -> None:
        if self._loop.is_closed():
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def __enter__(self) -> Proxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- the loop's side -------------------------------------------------------------------

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._accept, "127.0.0.1", self.port)
        )
        self._ready.set()
        self._loop.run_forever()

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        await asyncio.sleep(0.1)  # let the transports' connection_lost callbacks run

    async def _reset_all(self) -> int:
        writers = list(self._writers)
        for writer in writers:
            self._reset(writer)
        return len(writers)

    def _reset(self, writer: asyncio.StreamWriter) -> None:
        """Close with SO_LINGER 0: the peer sees a connection reset, not a clean close."""
        sock = writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        if writer in self._writers:
            self._writers.discard(writer)
            self.resets += 1
        writer.transport.abort()

    async def _accept(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            server_r, server_w = await asyncio.open_connection(*self.target)
        except OSError:
            self._reset(client_w)
            return
        self.connections += 1
        self._writers.update((client_w, server_w))
        pair = (client_w, server_w)
        await asyncio.gather(
            self._pipe(client_r, server_w, pair),
            self._pipe(server_r, client_w, pair),
            return_exceptions=True,
        )
        for w in pair:
            self._writers.discard(w)
            w.transport.abort()

    async def _pipe(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        pair: tuple[asyncio.StreamWriter, asyncio.StreamWriter],
    ) -> None:
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                low, high = self.latency_s
                if high > 0:
                    await asyncio.sleep(self._rng.uniform(low, high))
                if self.reset_rate and self._rng.random() < self.reset_rate:
                    for w in pair:
                        self._reset(w)
                    return
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            for w in pair:
                self._reset(w)
            return
        try:  # a clean close on one side: half-close the other
            if writer.can_write_eof():
                writer.write_eof()
        except (ConnectionError, OSError, RuntimeError):
            pass
