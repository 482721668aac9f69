"""A slow link on loopback: a TCP proxy that holds every byte a fixed time each way.

This kernel has no `netem` qdisc, so a link with a round-trip time is made in user space: the
proxy listens on a loopback address, connects each client to the upstream (sshd), and hands
on what each side sends `delay` seconds after it arrived (25 ms each way: a 50 ms round trip).
Bytes are never changed, split points aside, and each direction keeps its order (one queue
per direction, due times only grow); an end of stream is passed on after the same delay, so a
half-closed side stays half-closed. There is no bandwidth cap: only latency is modelled.

The TCP handshake between the client and the proxy is not delayed (the kernel answers it), so a
new connection costs one round trip less than on a real link.

    with DelayProxy(("127.0.0.70", 2222), listen="127.0.0.71") as proxy:
        proxy.address, proxy.port   # connect here instead

Or as a program: `python -m runbook.sandbox.delay LISTEN_HOST:PORT UPSTREAM_HOST:PORT [MS]`.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
import threading
from types import TracebackType

__all__ = ["DEFAULT_DELAY", "DelayProxy"]

DEFAULT_DELAY = 0.025  # seconds each way: a 50 ms round trip
READ_SIZE = 1 << 16


class DelayProxy:
    """A delaying TCP proxy to `upstream`, serving from a thread of its own.

    Attributes:
        upstream: (address, port) every connection is forwarded to.
        listen: the loopback address it listens on.
        delay: seconds each byte is held, each way.
        address, port: where it listens (known after `start()`).
    """

    def __init__(
        self,
        upstream: tuple[str, int],
        *,
        listen: str = "127.0.0.1",
        port: int = 0,
        delay: float = DEFAULT_DELAY,
    ) -> None:
        if delay < 0:
            raise ValueError(f"delay must not be negative, not {delay}")
        self.upstream = upstream
        self.listen = listen
        self.delay = delay
        self.address = listen
        self.port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def __enter__(self) -> DelayProxy:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Listen (in a daemon thread with its own event loop); returns once it accepts."""
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="delay-proxy", daemon=True)
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._listen(), loop)
        try:
            future.result(timeout=10)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Close the listener and every connection, end the thread. Safe twice."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if loop.is_running():
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(self._close(), loop).result(timeout=5)
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        if not thread.is_alive():
            loop.close()
        self._loop = self._thread = None

    # -- inside the loop -------------------------------------------------------------------

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.listen, self.port)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _serve(
        self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            up_in, up_out = await asyncio.open_connection(*self.upstream)
        except OSError:
            client_out.close()
            self._tasks.discard(task)
            return
        for writer in (client_out, up_out):
            _no_delay(writer)
        try:
            await asyncio.gather(
                self._pump(client_in, up_out),
                self._pump(up_in, client_out),
            )
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            for writer in (client_out, up_out):
                writer.close()
            self._tasks.discard(task)

    async def _pump(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        """Read as it comes; write each piece `delay` after it came, in order, then the EOF."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                due, data = await queue.get()
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not data:
                    if sink.can_write_eof():
                        sink.write_eof()
                    return
                sink.write(data)
                await sink.drain()

        writer = asyncio.ensure_future(deliver())
        pump = asyncio.current_task()

        def failed(done: asyncio.Future[None]) -> None:
            # The sink is gone: stop reading its source too (the connection ends).
            if pump is not None and not done.cancelled() and done.exception() is not None:
                pump.cancel()

        writer.add_done_callback(failed)
        try:
            while True:
                try:
                    data = await source.read(READ_SIZE)
                except OSError:
                    data = b""
                queue.put_nowait((loop.time() + self.delay, data))
                if not data:
                    break
            await writer
        finally:
            writer.cancel()


def _no_delay(writer: asyncio.StreamWriter) -> None:
    """No Nagle on the proxy's own sockets: it must add the delay it says and no other."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host, int(port)


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print("usage: python -m runbook.sandbox.delay LISTEN_HOST:PORT UPSTREAM_HOST:PORT [MS]")
        return 2
    listen, port = _address(argv[0])
    delay = float(argv[2]) / 1000 if len(argv) == 3 else DEFAULT_DELAY
    with DelayProxy(_address(argv[1]), listen=listen, port=port, delay=delay) as proxy:
        print(
            f"{proxy.address}:{proxy.port} -> {argv[1]}, {delay * 1000:g} ms each way", flush=True
        )
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
