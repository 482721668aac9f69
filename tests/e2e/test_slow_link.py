"""A slow link: the delay proxy (`runbook.sandbox.delay`) and the transport over it.

The proxy must hand on every byte as it came, in order, each connection apart, an end of
stream after the data; SSH over it is the hardest check (one byte wrong or out of place and
the MAC fails). The transport opens each step's channel while the step before runs
(`transport.ahead`): these tests check that the later steps do take a channel opened ahead,
and that whatever happens to it (closed by us or the host, refused because the host allows
one session at a time, the exec refused on it) the step still runs, once. How much time the
proxy adds is measured by `scripts/benchmark.py --wan`, not here (no timed assertions).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import paramiko
import pytest

from runbook.core.model import Host
from runbook.sandbox import SSHD, Sandbox, free_port, sshd_config_text
from runbook.sandbox.delay import DelayProxy
from runbook.transport import SSHTransport, connect

from .conftest import require_root

pytestmark = pytest.mark.e2e

ADDRESS = "127.0.0.74"  # this module's loopback address (proxies, echo servers, the extra sshd)
DELAY = 0.005  # enough to reorder anything a proxy could reorder; keeps the tests quick


@pytest.fixture(autouse=True)
def empty_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """A HOME with no ~/.ssh: the operator's own known_hosts, config and keys stay out."""
    monkeypatch.setenv("HOME", str(tmp_path_factory.mktemp("home")))


# --- the proxy alone ---------------------------------------------------------------------------


@contextlib.contextmanager
def server(handle: Callable[[socket.socket], None]) -> Iterator[tuple[str, int]]:
    """A TCP server on ADDRESS that runs `handle(conn)` in a thread per connection."""
    listener = socket.socket()
    listener.bind((ADDRESS, 0))
    listener.listen()

    def serve() -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = listener.accept()
                threading.Thread(target=handle, args=(conn,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield listener.getsockname()
    finally:
        listener.close()


def echo(conn: socket.socket) -> None:
    with conn:
        while data := conn.recv(65536):
            conn.sendall(data)


def digest_at_end(conn: socket.socket) -> None:
    """Read to the end of stream, then answer the sha256 and length of all that came."""
    with conn:
        h, n = hashlib.sha256(), 0
        while data := conn.recv(65536):
            h.update(data)
            n += len(data)
        conn.sendall(f"{h.hexdigest()} {n}\n".encode())


def read_to_end(conn: socket.socket) -> bytes:
    chunks = []
    while data := conn.recv(65536):
        chunks.append(data)
    return b"".join(chunks)


def test_proxy_hands_on_every_byte_in_order_both_ways() -> None:
    payload = os.urandom(3 << 20)
    got: list[bytes] = []
    with (
        server(echo) as upstream,
        DelayProxy(upstream, listen=ADDRESS, delay=DELAY) as proxy,
        socket.create_connection((proxy.address, proxy.port), timeout=30) as conn,
    ):
        reader = threading.Thread(target=lambda: got.append(read_to_end(conn)))
        reader.start()
        for at in range(0, len(payload), 7919):  # odd pieces: no boundary is kept
            conn.sendall(payload[at : at + 7919])
        conn.shutdown(socket.SHUT_WR)
        reader.join(60)
    assert got and got[0] == payload


def test_proxy_passes_the_end_of_stream_after_the_data_and_keeps_the_way_back_open() -> None:
    payload = os.urandom(1 << 20)
    with (
        server(digest_at_end) as upstream,
        DelayProxy(upstream, listen=ADDRESS, delay=DELAY) as proxy,
        socket.create_connection((proxy.address, proxy.port), timeout=30) as conn,
    ):
        conn.sendall(payload)
        conn.shutdown(socket.SHUT_WR)  # half-closed: the answer must still come back
        answer = read_to_end(conn).decode()
    assert answer == f"{hashlib.sha256(payload).hexdigest()} {len(payload)}\n"


def test_proxy_keeps_connections_apart() -> None:
    with server(echo) as upstream, DelayProxy(upstream, listen=ADDRESS, delay=DELAY) as proxy:
        conns = [socket.create_connection((proxy.address, proxy.port), timeout=30) for _ in "ab"]
        try:
            for i in range(50):
                for name, conn in zip("ab", conns, strict=True):
                    conn.sendall(f"{name}{i};".encode())
            for conn in conns:
                conn.shutdown(socket.SHUT_WR)
            got = [read_to_end(conn).decode() for conn in conns]
        finally:
            for conn in conns:
                conn.close()
    assert got == ["".join(f"{name}{i};" for i in range(50)) for name in "ab"]


def test_proxy_ends_the_client_when_the_upstream_refuses_and_serves_on() -> None:
    closed = socket.socket()
    closed.bind((ADDRESS, 0))
    dead = closed.getsockname()  # bound, never listening: connections are refused
    try:
        with DelayProxy(dead, listen=ADDRESS, delay=DELAY) as proxy:
            for _ in range(2):
                with (
                    socket.create_connection((proxy.address, proxy.port), timeout=30) as conn,
                    contextlib.suppress(ConnectionResetError),  # or an end of stream
                ):
                    assert conn.recv(1) == b""
    finally:
        closed.close()


# --- the transport over it ---------------------------------------------------------------------


def host_via(box: Sandbox, proxy: DelayProxy, known_hosts: Path) -> Host:
    """The sandbox's host entry, reached through `proxy` (its host key under the proxy's name)."""
    entry = box.host_entry()
    key = Path(entry["known_hosts"]).read_text().split(None, 1)[1]
    known_hosts.write_text(f"[{proxy.address}]:{proxy.port} {key}")
    return Host(
        name="slow",
        address=proxy.address,
        port=proxy.port,
        user=entry["user"],
        identity=entry["identity"],
        known_hosts=(str(known_hosts),),
        connect_timeout=10.0,
    )


class Opens:
    """Counts the session channels opened on a connection, by the thread that opened them."""

    def __init__(self, transport: SSHTransport) -> None:
        self.threads: list[str] = []
        paramiko_transport = transport._conn.transport
        assert paramiko_transport is not None
        original = paramiko_transport.open_session

        def recorded(*args: object, **kwargs: object) -> paramiko.Channel:
            self.threads.append(threading.current_thread().name)
            return original(*args, **kwargs)  # type: ignore[arg-type]

        paramiko_transport.open_session = recorded  # type: ignore[method-assign]

    @property
    def ahead(self) -> int:
        return self.threads.count("ssh-channel-ahead")

    @property
    def in_step(self) -> int:
        return len(self.threads) - self.ahead


@pytest.fixture
def slow(sandbox_session: Sandbox, tmp_path: Path) -> Iterator[Host]:
    with DelayProxy(
        (sandbox_session.address, sandbox_session.ssh_port), listen=ADDRESS, delay=DELAY
    ) as proxy:
        yield host_via(sandbox_session, proxy, tmp_path / "known_hosts")


def test_steps_over_a_slow_link_run_on_channels_opened_ahead(slow: Host) -> None:
    script = "\n".join(f"echo line {i} {'x' * 100}" for i in range(2000))  # ~230 kB on stdin
    with connect(slow) as transport:
        opens = Opens(transport)
        results = [transport.run(script) for _ in range(4)]
    for result in results:
        assert result.ok, result
        assert result.stdout == "".join(f"line {i} {'x' * 100}\n" for i in range(2000))
    # The first step took the channel opened as the connection was made; each later one
    # the one opened while the step before ran.
    assert opens.in_step == 0
    assert opens.ahead >= 3


def test_sudo_steps_over_a_slow_link_take_channels_opened_ahead(
    slow: Host, sudo_password: str
) -> None:
    class Password:
        def password(self) -> str:
            return sudo_password

        def forget(self) -> bool:
            return False

        def given(self) -> tuple[str, ...]:
            return (sudo_password,)

    with connect(slow, sudo=Password()) as transport:
        opens = Opens(transport)
        results = [transport.run("id -u; echo done", sudo=True) for _ in range(3)]
    assert [r.stdout for r in results] == ["0\ndone\n"] * 3, results
    assert opens.in_step == 0
    assert opens.ahead >= 2


def spare(transport: SSHTransport) -> paramiko.Channel:
    """The channel opened ahead on `transport`, once it is open."""
    ahead = transport._ahead
    assert ahead is not None and ahead._opening is not None, "nothing was opened ahead"
    assert ahead._opening.done.wait(30)
    channel = ahead._opening.channel
    assert channel is not None
    return channel


def test_a_channel_opened_ahead_and_closed_since_is_passed_over(slow: Host) -> None:
    with connect(slow) as transport:
        assert transport.run("true").ok
        spare(transport).close()  # as a host's idle-channel timeout would, seen in time
        opens = Opens(transport)
        result = transport.run("echo ran")
    assert result.ok and result.stdout == "ran\n"
    assert opens.in_step == 1  # a new channel for the step


def test_a_step_the_host_will_not_start_on_the_channel_opened_ahead_runs_on_a_new_one(
    slow: Host, request: pytest.FixtureRequest
) -> None:
    """The host closed the channel while the exec went out (the race the check above misses):
    the exec is refused or unanswered there, nothing ran, so the step goes on a new channel."""
    marks = Path(tempfile.mkdtemp(prefix="rbwan-marks-", dir="/tmp"))
    marks.chmod(0o777)  # the login user writes here (pytest's tmp_path is 0700)
    request.addfinalizer(lambda: shutil.rmtree(marks, ignore_errors=True))
    with connect(slow) as transport:
        assert transport.run("true").ok
        channel = spare(transport)

        def refused(command: str) -> None:
            raise paramiko.SSHException("Channel closed.")

        channel.exec_command = refused  # type: ignore[method-assign]
        opens = Opens(transport)
        result = transport.run(f"echo x >> {marks}/ran; echo ran")
        assert channel.closed
    assert result.ok and result.stdout == "ran\n"
    assert (marks / "ran").read_text() == "x\n"  # once
    assert opens.in_step == 1


@pytest.fixture
def two_session_host(sandbox_session: Sandbox, tmp_path: Path) -> Iterator[Host]:
    """A second sshd for the sandbox's login, on ADDRESS, that allows two sessions at a time.

    (One at a time does not work, with or without channels opened ahead: sshd frees a closed
    session only after it has read the next open, which it refuses.)
    """
    require_root()  # an sshd that logs another user in
    layout = sandbox_session.layout
    folder = Path(tmp_path)
    folder.chmod(0o755)
    port = free_port(ADDRESS)
    config = folder / "sshd_config"
    config.write_text(
        sshd_config_text(
            address=ADDRESS,
            port=port,
            host_key=layout.host_key,
            pid_file=folder / "sshd.pid",
            keys_dir=layout.authorized_keys_dir,
            user=sandbox_session.user,
            extra=("MaxSessions 2",),
        )
    )
    log = folder / "sshd.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 15
        while not _answers_ssh(ADDRESS, port):
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.01)
        key = layout.host_key.with_suffix(".pub").read_text().split()
        known_hosts = folder / "known_hosts"
        known_hosts.write_text(f"[{ADDRESS}]:{port} {key[0]} {key[1]}\n")
        yield Host(
            name="two-sessions",
            address=ADDRESS,
            port=port,
            user=sandbox_session.user,
            identity=str(layout.client_key),
            known_hosts=(str(known_hosts),),
            connect_timeout=10.0,
        )
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)


def _answers_ssh(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=1.0) as s:
            return s.recv(16).startswith(b"SSH-2.0-")
    except OSError:
        return False


def test_a_host_that_allows_two_sessions_runs_every_step(two_session_host: Host) -> None:
    with connect(two_session_host) as transport:
        results = [transport.run(f"echo {i}") for i in range(6)]
    assert [r.stdout for r in results] == [f"{i}\n" for i in range(6)], results


def test_cancel_on_a_host_that_allows_two_sessions_uses_the_one_opened_ahead(
    two_session_host: Host,
) -> None:
    """A timed-out step keeps its session while it runs on; the channel opened ahead holds
    the other: cancel() must end the step over that one, not ask for a third."""
    with connect(two_session_host) as transport:
        result = transport.run("trap '' TERM; sleep 74.93", timeout=0.5)
        assert result.timed_out
        try:
            assert transport.cancel() is True
            assert not _sleeping("74.93")
        finally:
            for pid in _sleeping("74.93"):
                os.kill(pid, signal.SIGKILL)


def _sleeping(seconds: str) -> list[int]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if cmdline.read_bytes() == f"sleep\0{seconds}\0".encode():
                found.append(int(cmdline.parent.name))
        except OSError:
            continue
    return found
