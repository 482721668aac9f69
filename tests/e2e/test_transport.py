"""The SSH seam against a real OpenSSH sshd on loopback (the sandbox's).

Every Fabric / Invoke / OpenSSH trap that the transport works around is checked
here against the real thing: host keys, ssh_config aliases, sudo of a whole script with no
local stdin, timeouts, lost connections, connect errors.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import paramiko
import pytest
from fabric import Connection

from runbook.core.model import Host
from runbook.errors import ConnectError, RefusedError
from runbook.sandbox import Sandbox
from runbook.transport import SSHTransport, SudoError, connect, wrapper_command
from runbook.transport.hops import chain
from runbook.transport.ssh_connect import build_connection

from .conftest import nap, require_root

pytestmark = pytest.mark.e2e

# Walk up from the script to the sshd process serving this session (the per-user child).
SESSION_SSHD = (
    'p=$$; while [ "$(ps -o comm= -p "$p")" != sshd ]; do '
    'p=$(ps -o ppid= -p "$p" | tr -d " "); done; echo "$p"'
)


@pytest.fixture(autouse=True)
def empty_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A HOME with no ~/.ssh: the operator's own known_hosts, config and keys stay out."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    return home


def target_for(box: Sandbox, **changes: object) -> Host:
    entry = box.host_entry()
    fields: dict[str, object] = {
        "name": "sandbox",
        "address": entry["address"],
        "user": entry["user"],
        "port": entry["port"],
        "identity": entry["identity"],
        "known_hosts": (entry["known_hosts"],),
        "connect_timeout": 5.0,
    }
    fields.update(changes)
    return Host(**fields)  # type: ignore[arg-type]


@pytest.fixture
def target(sandbox_session: Sandbox) -> Host:
    return target_for(sandbox_session)


@pytest.fixture(scope="module")
def shared(
    sandbox_session: Sandbox, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SSHTransport]:
    """One connection for the plain tests of the module (as the executor holds one per host)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(tmp_path_factory.mktemp("home")))
        transport = connect(target_for(sandbox_session))
    yield transport
    close_and_wait(transport)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def close_and_wait(transport: SSHTransport) -> None:
    """Close, and wait until sshd has ended this session (child and privileged monitor).

    The sandbox's teardown waits 5 s for a session that is still exiting when it starts.
    """
    child = int(transport.run(SESSION_SSHD).stdout)
    monitor = int(Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()[1])
    transport.close()
    deadline = time.monotonic() + 3
    while _alive(child) or _alive(monitor):
        if time.monotonic() > deadline:
            break
        time.sleep(0.01)


class Password:
    """A sudo credential as the caller keeps one: asks once, then gives the cached answer."""

    def __init__(self, ask: Callable[[], str]) -> None:
        self.ask = ask
        self.value: str | None = None

    def password(self) -> str:
        if self.value is None:
            self.value = self.ask()
        return self.value

    def forget(self) -> bool:
        self.value = None
        return False


def counting(password: str) -> tuple[Password, list[int]]:
    """A credential that counts how often the operator is asked."""
    asked: list[int] = []

    def ask() -> str:
        asked.append(1)
        return password

    return Password(ask), asked


def connect_error(target: Host, **kwargs: object) -> tuple[ConnectError, float]:
    started = time.monotonic()
    with pytest.raises(ConnectError) as info:
        connect(target, **kwargs)  # type: ignore[arg-type]
    return info.value, time.monotonic() - started


def host_fingerprint(box: Sandbox) -> str:
    """The host key's fingerprint as `ssh-keygen -lf` prints it."""
    out = subprocess.run(
        ["ssh-keygen", "-lf", str(box.host_key.with_suffix(".pub"))],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    return out.split()[1]


# -- running ------------------------------------------------------------------------------------


def test_run_returns_output_and_exit_code(shared: SSHTransport) -> None:
    ok = shared.run("echo hi")
    assert (ok.exit_code, ok.stdout, ok.stderr, ok.timed_out, ok.lost) == (
        0,
        "hi\n",
        "",
        False,
        False,
    )
    assert ok.ok and ok.duration < 2

    failed = shared.run("echo partial; exit 3")
    assert (failed.exit_code, failed.stdout, failed.ok) == (3, "partial\n", False)


def test_stderr_is_captured_apart_from_stdout(shared: SSHTransport) -> None:
    result = shared.run("echo out; echo err >&2; echo out2")
    assert result.stdout == "out\nout2\n"
    assert result.stderr == "err\n"


def test_script_stops_at_the_first_failing_line(shared: SSHTransport) -> None:
    result = shared.run("echo one\nfalse\necho never")
    assert result.exit_code == 1
    assert result.stdout == "one\n"


def test_quotes_and_shell_syntax_reach_the_host_intact(shared: SSHTransport) -> None:
    script = """printf '%s|' "it's" 'a "b"' $HOME/x '$notexpanded'; echo"""
    result = shared.run(script)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("""it's|a "b"|/""")
    assert result.stdout.endswith("""/x|$notexpanded|\n""")


def test_a_command_reading_stdin_gets_eof_at_once(shared: SSHTransport) -> None:
    """No local stdin is forwarded, and nothing waits for input that never comes."""
    result = shared.run("cat; read line || echo eof", timeout=5)
    assert (result.exit_code, result.stdout, result.timed_out) == (0, "eof\n", False)
    assert result.duration < 1


def test_utf8_output_survives_reads_that_split_characters(shared: SSHTransport) -> None:
    text = "日本語のログ" * 3000  # 54 kB: many reads, characters split across them
    result = shared.run(f"printf '%s' '{text}'; printf 'エラー' >&2")
    assert result.stdout == text
    assert result.stderr == "エラー"


def test_invalid_utf8_is_replaced_not_fatal(shared: SSHTransport) -> None:
    result = shared.run(r"printf 'ok \377\376 ok\n'")
    assert result.exit_code == 0
    assert result.stdout == "ok \ufffd\ufffd ok\n"


def test_one_connection_is_reused_for_every_run(shared: SSHTransport) -> None:
    seen = {shared.run("echo $SSH_CONNECTION").stdout for _ in range(3)}
    assert len(seen) == 1, seen  # same client port: one TCP connection, one SSH session
    session = shared.session_id
    shared.run("true")
    assert shared.session_id == session


def test_nagle_is_off_on_the_socket(shared: SSHTransport) -> None:
    sock = shared._conn.transport.sock
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


def test_the_command_line_is_a_fixed_wrapper_and_the_script_is_not_on_it() -> None:
    plain = wrapper_command("0123abcd")
    wrapped = wrapper_command("0123abcd", sudo="www-data", prompt="[p] ", timeout=5)
    assert wrapped.startswith("sudo -S -p '[p] ' -u www-data -- sh -c ")
    assert wrapped.endswith(" sh 0123abcd 6")  # the nonce, then the remote timeout (5 + 1 s)
    assert plain.endswith(" sh 0123abcd ''")
    # The same text for every command, whatever its script: only nonce, user and timeout vary.
    assert wrapper_command("ffff0000", timeout=9).replace("ffff0000 10", "0123abcd ''") == plain
    with pytest.raises(ValueError, match="nonce"):
        wrapper_command("x; rm -rf /")


def test_the_script_is_on_no_command_line_on_the_host(shared: SSHTransport) -> None:
    unique = "only-in-the-script-" + os.urandom(6).hex()
    result = shared.run(
        f": {unique}\n"
        "for p in $$ $PPID; do tr '\\0' ' ' </proc/$p/cmdline; echo; done\n"
        'echo "$$ $(cut -d" " -f5 /proc/$$/stat)"'
    )
    shell, parent, ids = result.stdout.splitlines()
    assert unique not in result.stdout
    assert shell.strip() == "sh -e"  # the wrapper became the shell that read the script
    assert "sshd" in parent
    pid, group = ids.split()
    assert pid == group  # it leads a process group of its own: cancel() ends all of it


def test_a_start_mark_printed_by_the_script_is_only_its_output(shared: SSHTransport) -> None:
    result = shared.run("echo 'runbook-started 0123456789abcdef 1' >&2; echo out; exit 4")
    assert (result.exit_code, result.stdout) == (4, "out\n")
    assert result.stderr == "runbook-started 0123456789abcdef 1\n"


def test_a_script_killed_by_a_signal_has_no_exit_status(shared: SSHTransport) -> None:
    result = shared.run("echo before; kill -KILL $$")
    assert (result.exit_code, result.stdout, result.lost) == (None, "before\n", False)


def test_cancel_with_nothing_in_flight_is_confirmed_at_once(shared: SSHTransport) -> None:
    started = time.monotonic()
    assert shared.cancel() is True
    shared.run("true")
    assert shared.cancel() is True
    assert time.monotonic() - started < 1


def test_after_a_lost_link_cancel_cannot_confirm_and_the_command_runs_on(target: Host) -> None:
    transport = connect(target)
    try:
        result = transport.run(f'sleep {nap("73.31")} & kill -9 "$({SESSION_SSHD})"; wait')
        assert result.lost
        assert transport.cancel() is False  # the link is gone: nothing can be confirmed
        assert _sleeping("73.31")  # as a network failure leaves it
        with pytest.raises(ConnectError):
            transport.run("true")
    finally:
        for pid in _sleeping("73.31"):
            os.kill(pid, 9)
        transport.close()


def test_a_timed_out_command_stays_in_flight_until_cancel_confirms_it_gone(
    shared: SSHTransport,
) -> None:
    """The remote `timeout` would KILL it 3 s after ours; cancel() (as the batch calls it
    before it unlocks) does not wait for that."""
    result = shared.run(f"trap '' TERM; sleep {nap('74.11')}", timeout=0.3)
    assert result.timed_out
    assert _sleeping("74.11")
    started = time.monotonic()
    assert shared.cancel() is True
    assert _sleeping("74.11") == []
    assert time.monotonic() - started < 3.5
    assert shared.cancel() is True  # nothing in flight now


def _sleeping(seconds: str) -> list[int]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if cmdline.read_bytes() == f"sleep\0{nap(seconds)}\0".encode():
                found.append(int(cmdline.parent.name))
        except OSError:
            continue
    return found


# -- timeout and lost connections -----------------------------------------------------------------


def test_timeout_is_a_result_and_the_remote_command_ends(shared: SSHTransport) -> None:
    started = time.monotonic()
    result = shared.run(f"echo started; sleep {nap('30.4242')}", timeout=0.5)
    assert (result.exit_code, result.timed_out, result.lost) == (None, True, False)
    assert result.stdout == "started\n"
    assert 0.5 <= time.monotonic() - started < 1.5

    # The connection stays usable, and the remote sleep is ended shortly after (1 s grace).
    assert shared.run("echo alive").stdout == "alive\n"
    deadline = time.monotonic() + 5
    mine = nap("30.4242").replace(".", "[.]")
    while shared.run(f"pgrep -f 'sleep {mine}'").exit_code == 0:
        assert time.monotonic() < deadline, "the timed-out command is still running"
        time.sleep(0.2)


def test_lost_connection_mid_command_is_outcome_unknown(target: Host) -> None:
    transport = connect(target)
    result = transport.run(f'echo before; kill -9 "$({SESSION_SSHD})"; sleep 1')
    assert (result.exit_code, result.lost, result.timed_out) == (None, True, False)
    assert result.stdout == "before\n"
    assert result.duration < 3
    with pytest.raises(ConnectError, match="lost during an earlier command"):
        transport.run("echo again")
    transport.close()


def test_connection_dropped_while_idle_is_refused_not_reopened(target: Host) -> None:
    transport = connect(target)
    os.kill(int(transport.run(SESSION_SSHD).stdout), 9)
    deadline = time.monotonic() + 3
    while transport._transport_active():
        assert time.monotonic() < deadline
        time.sleep(0.02)
    for _ in range(2):
        with pytest.raises(ConnectError, match="closed by the host or the network while idle"):
            transport.run("echo again")
    transport.close()


def test_closed_transport_refuses_to_run(target: Host) -> None:
    transport = connect(target)
    transport.close()
    transport.close()  # twice is fine
    with pytest.raises(ConnectError, match="closed by this program"):
        transport.run("true")


# -- sudo ---------------------------------------------------------------------------------------


@pytest.fixture
def sudo_transport(target: Host, sudo_password: str) -> Iterator[tuple[SSHTransport, list[int]]]:
    ask, asked = counting(sudo_password)
    transport = connect(target, sudo=ask)
    yield transport, asked
    transport.close()


def test_sudo_wraps_the_whole_compound_script(
    sudo_transport: tuple[SSHTransport, list[int]],
    sudo_password: str,
    capfd: pytest.CaptureFixture[str],
) -> None:
    transport, _ = sudo_transport
    result = transport.run("id -u; cd /root && id -u && pwd", sudo=True)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "0\n0\n/root\n"
    assert result.stderr == ""  # sudo's prompt does not leak into the output
    captured = capfd.readouterr()
    assert sudo_password not in captured.out + captured.err + repr(result) + repr(transport)


def test_sudo_as_another_user(sudo_transport: tuple[SSHTransport, list[int]]) -> None:
    transport, _ = sudo_transport
    result = transport.run("id -un; echo err >&2", sudo="nobody")
    assert (result.exit_code, result.stdout, result.stderr) == (0, "nobody\n", "err\n")


def test_sudo_password_is_asked_once_and_only_for_sudo(sudo_password: str, target: Host) -> None:
    ask, asked = counting(sudo_password)
    first = connect(target, sudo=ask)
    first.run("true")
    assert asked == []  # no sudo step yet: nobody is asked
    assert first.run("id -u", sudo=True).stdout == "0\n"
    assert first.run("id -u", sudo=True).stdout == "0\n"  # timestamp_timeout=0: fed again
    second = connect(target, sudo=ask)  # another host of the same run
    assert second.run("id -u", sudo=True).stdout == "0\n"
    assert asked == [1]
    first.close()
    second.close()


def test_failing_sudo_script_is_a_result(sudo_transport: tuple[SSHTransport, list[int]]) -> None:
    transport, _ = sudo_transport
    result = transport.run("echo root-step; exit 4", sudo=True)
    assert (result.exit_code, result.stdout, result.stderr) == (4, "root-step\n", "")


def test_wrong_sudo_password_is_refused_quickly_and_never_shown(
    target: Host, sudo_password: str, capfd: pytest.CaptureFixture[str]
) -> None:
    wrong = "not-" + sudo_password
    transport = connect(target, sudo=Password(lambda: wrong))
    started = time.monotonic()
    with pytest.raises(SudoError) as info:
        transport.run("touch /root/never-created", sudo=True)
    elapsed = time.monotonic() - started
    assert elapsed < 4, elapsed  # sudo's own failure delay is ~2 s; not 3 tries, not a timeout
    error = info.value
    assert isinstance(error, RefusedError)
    assert "refused the password" in str(error) and "RUNBOOK_SUDO_PASSWORD" in str(error)
    assert transport.run("echo still usable").exit_code == 0
    captured = capfd.readouterr()
    for secret in (wrong, sudo_password):
        assert secret not in str(error) + repr(error) + captured.out + captured.err
    transport.close()


def test_sudo_without_a_password_fails_fast(target: Host) -> None:
    require_root()
    transport = connect(target)
    started = time.monotonic()
    with pytest.raises(SudoError, match="asks for a password and none was given"):
        transport.run("id -u", sudo=True)
    assert time.monotonic() - started < 1
    transport.close()


def test_sudo_works_with_no_local_stdin(target: Host, sudo_password: str) -> None:
    """CI and `</dev/null`: Invoke would close the remote stdin before sudo got its password."""
    program = textwrap.dedent(
        f"""
        import os
        from types import SimpleNamespace
        from runbook.core.model import Host
        from runbook.transport import connect
        pw = SimpleNamespace(password=lambda: os.environ["PW"], forget=lambda: False)
        t = connect(Host(**{target.__dict__!r}), sudo=pw)
        print(t.run("id -u; cd /root && id -u", sudo=True))
        """
    )
    env = dict(os.environ, PW=sudo_password)
    done = subprocess.run(
        [sys.executable, "-c", program],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env, timeout=30,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "exit_code=0, stdout='0\\n0\\n'" in done.stdout
    assert sudo_password not in done.stdout + done.stderr


# -- host keys ----------------------------------------------------------------------------------


def test_unknown_host_key_is_refused_with_its_fingerprint(
    sandbox_session: Sandbox, empty_home: Path
) -> None:
    error, _ = connect_error(target_for(sandbox_session, known_hosts=()))
    text = str(error)
    assert "is not known" in text and "sandbox" in text
    assert f"ssh-ed25519 {host_fingerprint(sandbox_session)}" in text
    port, address = sandbox_session.ssh_port, sandbox_session.address
    assert f"ssh-keyscan -p {port} -t ed25519 {address} >> ~/.ssh/known_hosts" in text
    assert not (empty_home / ".ssh").exists()  # nothing was added, silently or otherwise


def test_changed_host_key_is_refused_as_a_possible_attack(
    sandbox_session: Sandbox, tmp_path: Path
) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "k")], check=True
    )
    stale = tmp_path / "known_hosts"
    entry = f"[{sandbox_session.address}]:{sandbox_session.ssh_port}"
    stale.write_text(f"{entry} {' '.join((tmp_path / 'k.pub').read_text().split()[:2])}\n")
    before = stale.read_text()
    old = subprocess.run(
        ["ssh-keygen", "-lf", str(tmp_path / "k.pub")], check=True, capture_output=True, text=True
    ).stdout.split()[1]

    error, _ = connect_error(target_for(sandbox_session, known_hosts=(str(stale),)))
    text = str(error)
    assert "CHANGED" in text and "man-in-the-middle" in text
    assert f"expects ssh-ed25519 {old}" in text
    assert f"presented ssh-ed25519 {host_fingerprint(sandbox_session)}" in text
    assert f"ssh-keygen -R '{entry}' -f {stale}" in text
    assert stale.read_text() == before


def test_hashed_known_hosts_entries_are_trusted(sandbox_session: Sandbox, tmp_path: Path) -> None:
    hashed = tmp_path / "known_hosts"
    hashed.write_text(sandbox_session.known_hosts.read_text())
    subprocess.run(["ssh-keygen", "-H", "-f", str(hashed)], check=True, capture_output=True)
    assert hashed.read_text().startswith("|1|")
    transport = connect(target_for(sandbox_session, known_hosts=(str(hashed),)))
    assert transport.run("echo in").stdout == "in\n"
    transport.close()


def test_the_default_known_hosts_is_read(sandbox_session: Sandbox, empty_home: Path) -> None:
    (empty_home / ".ssh").mkdir()
    (empty_home / ".ssh" / "known_hosts").write_text(sandbox_session.known_hosts.read_text())
    transport = connect(target_for(sandbox_session, known_hosts=()))
    assert transport.run("true").exit_code == 0
    transport.close()


def test_no_auto_add_policy_survives_on_any_hop(sandbox_session: Sandbox, tmp_path: Path) -> None:
    config = tmp_path / "ssh_config"
    config.write_text("Host behind\n  HostName 127.0.0.1\n  ProxyJump jump1,jump2\n")
    conn, _ = build_connection(Host("x", "behind"), str(config))
    hops = chain(conn)
    assert sorted(h.original_host for h in hops) == ["behind", "jump1", "jump2"]
    for hop in hops:
        assert isinstance(hop, Connection)
        assert type(hop.client._policy) is not paramiko.AutoAddPolicy
        assert isinstance(hop.client._policy, paramiko.RejectPolicy)


def test_proxyjump_hops_are_checked_and_work(sandbox_session: Sandbox, tmp_path: Path) -> None:
    box = sandbox_session
    config = tmp_path / "ssh_config"
    config.write_text(
        f"Host jump\n  HostName localhost\n  Port {box.ssh_port}\n  User {box.user}\n"
        f"  IdentityFile {box.client_key}\n"
        f"Host behind\n  HostName {box.address}\n  Port {box.ssh_port}\n  User {box.user}\n"
        f"  IdentityFile {box.client_key}\n  ProxyJump jump\n"
    )
    # The jump host's key (as `localhost`) is not known: refused, naming the jump host.
    error, _ = connect_error(
        Host("behind", "behind", known_hosts=(str(box.known_hosts),)),
        ssh_config_path=str(config),
    )
    assert f"the jump host jump ({box.user}@localhost:{box.ssh_port}) on the way" in str(error)
    assert "is not known" in str(error)

    both = tmp_path / "known_hosts"
    key = " ".join(box.host_key.with_suffix(".pub").read_text().split()[:2])
    both.write_text(box.known_hosts.read_text() + f"[localhost]:{box.ssh_port} {key}\n")
    transport = connect(
        Host("behind", "behind", known_hosts=(str(both),)), ssh_config_path=str(config)
    )
    assert transport.run("echo through").stdout == "through\n"
    transport.close()


# -- ssh_config ---------------------------------------------------------------------------------


def test_an_ssh_config_alias_gives_host_port_user_and_key(
    sandbox_session: Sandbox, tmp_path: Path
) -> None:
    box = sandbox_session
    config = tmp_path / "ssh_config"
    config.write_text(
        f"Host web-prod\n  HostName {box.address}\n  Port {box.ssh_port}\n  User {box.user}\n"
        f"  IdentityFile {box.client_key}\n"
    )
    target = Host("prod", "web-prod", known_hosts=(str(box.known_hosts),))
    transport = connect(target, ssh_config_path=str(config))
    result = transport.run("id -un; echo $SSH_CONNECTION")
    user, connection = result.stdout.splitlines()
    assert user == box.user
    assert connection.endswith(f"{box.address} {box.ssh_port}")
    assert "prod" in repr(transport) and f"{box.user}@{box.address}:{box.ssh_port}" in repr(
        transport
    )
    transport.close()


# -- connect errors -----------------------------------------------------------------------------


def test_closed_port_is_refused_at_once(sandbox_session: Sandbox) -> None:
    with socket.socket() as s:
        s.bind((sandbox_session.address, 0))
        port = s.getsockname()[1]  # bound, not listening: refused
        error, elapsed = connect_error(target_for(sandbox_session, port=port))
    assert "connection refused" in str(error) and f"port {port}" in str(error)
    assert elapsed < 1


def test_silent_port_times_out_with_one_clear_line(
    sandbox_session: Sandbox, capfd: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as s:
        s.bind((sandbox_session.address, 0))
        s.listen()  # accepts, never speaks
        error, elapsed = connect_error(
            target_for(sandbox_session, port=s.getsockname()[1], connect_timeout=0.5)
        )
    assert "did not speak SSH within 0.5 s" in str(error)
    assert 0.4 < elapsed < 2
    time.sleep(0.2)  # paramiko's thread would print its traceback about now
    captured = capfd.readouterr()
    assert "Traceback" not in captured.err and "banner" not in captured.err


@pytest.mark.parametrize("change", ["user", "key"])
def test_wrong_user_or_key_is_refused(
    sandbox_session: Sandbox, tmp_path: Path, change: str
) -> None:
    if change == "user":
        target = target_for(sandbox_session, user="nobody")
    else:
        key = tmp_path / "stranger"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
        target = target_for(sandbox_session, identity=str(key))
    error, elapsed = connect_error(target)
    assert "refused the login as" in str(error)
    assert "authorized_keys" in str(error)
    assert elapsed < 3


def test_missing_identity_file_is_named(sandbox_session: Sandbox, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-key"
    error, _ = connect_error(target_for(sandbox_session, identity=str(missing)))
    assert str(missing) in str(error) and "does not exist" in str(error)


def test_unresolvable_address_is_named(
    sandbox_session: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS failure, simulated: the tests send nothing off loopback."""

    def no_dns(*args: object, **kwargs: object) -> object:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    error, _ = connect_error(target_for(sandbox_session, address="web.example.invalid"))
    assert "cannot resolve the address of sandbox: 'web.example.invalid'" in str(error)
