"""The hop chain as OpenSSH reads it, and the failure messages, without a network.

(The same against real sshd's, a bastion and a target only it can reach: e2e/test_hops.py.)
"""

from __future__ import annotations

from pathlib import Path

import paramiko
import pytest
from fabric import Config, Connection

from runbook.core.model import Host
from runbook.transport.hops import (
    HopError,
    ProxyReport,
    _openssh_order,
    _unbracket,
    chain,
    open_chain,
)
from runbook.transport.ssh_errors import connect_error


def built(tmp_path: Path, text: str, alias: str = "web") -> Connection:
    path = tmp_path / "ssh_config"
    path.write_text(text)
    config = Config(lazy=True, runtime_ssh_path=str(path))
    config.load_ssh_config()
    return Connection(alias, config=config)


def test_proxyjump_hops_are_taken_in_openssh_s_order(tmp_path: Path) -> None:
    conn = built(tmp_path, "Host web\n  HostName 10.0.0.9\n  ProxyJump j1,j2,j3\n")
    assert [h.original_host for h in chain(conn)] == ["web", "j1", "j2", "j3"]  # Fabric's
    _openssh_order(conn)
    # The last hop of the chain is the one connected to first: j1, as ssh -J j1,j2,j3.
    assert [h.original_host for h in chain(conn)] == ["web", "j3", "j2", "j1"]
    _openssh_order(conn)  # a chain not in Fabric's order is left alone
    assert [h.original_host for h in chain(conn)] == ["web", "j3", "j2", "j1"]


def test_a_bracketed_jump_host_gets_its_address_and_port(tmp_path: Path) -> None:
    conn = built(tmp_path, "Host web\n  ProxyJump admin@[fd00::5]:2222\n")
    jump = chain(conn)[1]
    assert jump.host == "[fd00::5]:2222"  # Fabric's reading
    _unbracket(jump)
    assert (jump.user, jump.host, jump.port) == ("admin", "fd00::5", 2222)


def test_the_jump_host_that_cannot_reach_the_target_is_named(tmp_path: Path) -> None:
    conn = built(tmp_path, "Host web\n  HostName 10.0.0.9\n  ProxyJump ops@bastion:2200\n")
    failed = HopError(
        0, "forward", paramiko.ChannelException(2, "Connect failed"), reason="No route to host"
    )
    error = connect_error(failed, Host("web1", "web"), chain(conn), [])
    assert error.message == (
        "the jump host bastion (ops@bastion:2200) could not reach web1 at 10.0.0.9:22: "
        "No route to host"
    )
    assert error.hint is not None and "ssh -p 2200 ops@bastion nc -zv 10.0.0.9 22" in error.hint


def test_a_proxycommand_s_stderr_is_its_last_lines_made_visible(tmp_path: Path) -> None:
    conn = built(tmp_path, "Host web\n  ProxyCommand connect-to %h\n")
    noise = "".join(f"line {i}\n" for i in range(100)) + "\x1b[31mdenied\x1b[0m\n"
    report = ProxyReport("connect-to web", 1, noise)
    error = connect_error(
        HopError(0, "proxy", EOFError(), proxy=report), Host("web1", "web"), chain(conn), []
    )
    assert error.message.endswith(
        "exited with status 1 before the SSH handshake: line 96 / line 97 / line 98 / line 99 / "
        "\\x1b[31mdenied\\x1b[0m"
    )
    assert "\x1b" not in str(error)


def test_a_proxycommand_with_no_shell_to_run_it_could_not_be_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHELL", str(tmp_path / "no-such-shell"))
    conn = built(tmp_path, "Host web\n  HostName 127.0.0.1\n  ProxyCommand nc %h %p\n")
    with pytest.raises(HopError) as caught:
        open_chain(conn, 1.0)
    error = connect_error(caught.value, Host("web1", "web"), chain(conn), [])
    assert error.message.startswith("the ProxyCommand of web1 (")
    assert error.message.endswith(
        "could not be started (nc 127.0.0.1 22): No such file or directory: "
        f"{tmp_path}/no-such-shell"
    )
