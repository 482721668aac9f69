"""The connection errors (transport) said in Japanese with `--lang ja`: the English the
transport raises is matched against the catalog (`Words.again`) and said again, leaving only
names, addresses, paths and commands; the English stays what it always was."""

from __future__ import annotations

import re
from pathlib import Path

import paramiko
from fabric import Config, Connection
from paramiko.ssh_exception import NoValidConnectionsError

from runbook.core.model import Host
from runbook.errors import ConnectError
from runbook.transport.hops import HopError, ProxyReport, chain
from runbook.transport.hostcert import HostCertificateRefused
from runbook.transport.ssh_auth import LoginRefused, LoginReport
from runbook.transport.ssh_errors import UnknownHostKey, connect_error, fingerprint
from runbook.words import EN, Words

JA = Words("ja")
WHO = "web1 (deploy@127.0.0.1:2222, ssh_config alias 'web')"
JA_WHO = "web1 (deploy@127.0.0.1:2222、ssh_config の別名 'web')"
# Words that are names in any language: programs, options, files, sshd's settings.
TERMS = {
    "ssh", "sshd", "SSH", "ProxyCommand", "ProxyJump", "HostName", "User", "Port",
    "IdentityFile", "IdentitiesOnly", "Host", "config", "known_hosts", "ssh_config",
    "authorized_keys", "CertificateFile", "TrustedUserCAKeys", "keygen", "keyscan", "lf",
    "etc", "pub", "key", "ssh_host_ed25519_key", "host_ed25519", "ed25519", "agent", "add",
    "KEY", "HOST", "address", "user", "port", "identity", "RUNBOOK_SUDO_PASSWORD", "sudo",
    "Defaults", "requiretty", "pty", "true", "false", "sudoers", "nc", "zv", "sed",
    "ssh-add", "yes", "CA", "Lf", "OpenSSH",
    "exec", "COMMAND", "SHELL", "bin", "sh", "MaxAuthTries", "SHA256",
}  # fmt: skip


def english_left(said: str, *values: str) -> list[str]:
    """The words of `said` that are neither a value of the message nor a name."""
    for value in sorted(values, key=len, reverse=True):
        said = said.replace(JA.again(value), " ").replace(value, " ")
    words = re.findall(r"[A-Za-z][A-Za-z_0-9]+", said)
    return [w for w in words if w not in TERMS and not re.search(r"\d", w)]


def built(tmp_path: Path, text: str, alias: str = "web") -> Connection:
    path = tmp_path / "ssh_config"
    path.write_text(text)
    config = Config(lazy=True, runtime_ssh_path=str(path))
    config.load_ssh_config()
    return Connection(alias, config=config)


def error_for(tmp_path: Path, exc: BaseException, text: str, index: int = 0) -> ConnectError:
    conn = built(tmp_path, text)
    return connect_error(HopError(index, "connect", exc), Host("web1", "web"), chain(conn), [])


DIRECT = "Host web\n  HostName 127.0.0.1\n  User deploy\n  Port 2222\n"
JUMPED = "Host web\n  HostName 10.0.0.9\n  User deploy\n  ProxyJump ops@bastion:2200\n"


def test_a_refused_connection_is_said_in_japanese(tmp_path: Path) -> None:
    refused = NoValidConnectionsError({("127.0.0.1", 2222): ConnectionRefusedError()})
    error = error_for(tmp_path, refused, DIRECT)
    assert error.message == f"cannot connect to {WHO}: connection refused"
    assert error.hint == (
        "is sshd running on 127.0.0.1 and listening on port 2222? check `address`, `user`, "
        "`port` and `identity` for this host in the inventory"
    )
    said = JA.again(error.message)
    assert said == f"{JA_WHO} に接続できません: 接続が拒否されました"
    assert english_left(said, WHO) == []
    assert english_left(JA.again(error.hint), "127.0.0.1") == []


def test_a_timeout_through_a_jump_host_names_it_in_japanese(tmp_path: Path) -> None:
    error = error_for(tmp_path, TimeoutError(), JUMPED)
    assert error.message.startswith(
        "web1 (deploy@10.0.0.9:22, ssh_config alias 'web', through the jump host bastion) "
        "did not answer within "
    )
    said = JA.again(error.message)
    assert "踏み台ホスト bastion 経由" in said and "以内に応答しませんでした" in said
    assert "web1 (deploy@10.0.0.9:22、ssh_config の別名 'web'、踏み台ホスト bastion 経由)" in said
    assert english_left(said, "web1 (deploy@10.0.0.9:22", "'web'", "bastion") == []
    assert english_left(JA.again(error.hint or ""), "10.0.0.9") == []


def test_the_jump_host_that_cannot_reach_the_target_in_japanese(tmp_path: Path) -> None:
    conn = built(tmp_path, JUMPED)
    failed = HopError(
        0, "forward", paramiko.ChannelException(2, "Connect failed"), reason="Connection refused"
    )
    error = connect_error(failed, Host("web1", "web"), chain(conn), [])
    assert error.message == (
        "the jump host bastion (ops@bastion:2200) could not reach web1 at 10.0.0.9:22: "
        "Connection refused"
    )
    said = JA.again(error.message)
    # The jump host's own words stay as it said them.
    assert english_left(said, "bastion（ops@bastion:2200）", "web1", "Connection refused") == []
    hint = JA.again(error.hint or "")
    assert english_left(hint, "10.0.0.9", "ssh -p 2200 ops@bastion nc -zv 10.0.0.9 22") == []


def test_a_proxycommand_that_ended_in_japanese(tmp_path: Path) -> None:
    conn = built(tmp_path, "Host web\n  ProxyCommand connect-to %h\n")
    report = ProxyReport("connect-to web", 1, "denied\n")
    error = connect_error(
        HopError(0, "proxy", EOFError(), proxy=report), Host("web1", "web"), chain(conn), []
    )
    assert error.message.endswith("exited with status 1 before the SSH handshake: denied")
    said = JA.again(error.message)
    assert "終了ステータス 1" in said
    assert english_left(said, "web1 (root@web:22)", "denied") == []
    assert english_left(JA.again(error.hint or ""), "connect-to web") == []


def test_a_refused_login_in_japanese(tmp_path: Path) -> None:
    report = LoginReport(user="deploy", offered=["/keys/id_ed25519"])
    error = error_for(tmp_path, LoginRefused(report), DIRECT)
    assert error.message == (
        f"{WHO} refused the login as 'deploy'; offered 1 key(s): /keys/id_ed25519 (agent: none)"
    )
    said = JA.again(error.message)
    assert (
        english_left(
            said,
            WHO,
            "'deploy'",
            "/keys/id_ed25519",
        )
        == []
    )
    assert english_left(JA.again(error.hint or "")) == []


def test_too_many_keys_in_japanese(tmp_path: Path) -> None:
    report = LoginReport(
        user="deploy",
        agent="/run/agent.sock",
        agent_keys=7,
        offered=[f"agent key {i}" for i in range(1, 7)],
        disconnect="Too many authentication failures",
    )
    error = error_for(tmp_path, LoginRefused(report), DIRECT)
    assert error.message == (
        f"{WHO} closed the connection after 6 key(s) were refused "
        '("Too many authentication failures": its MaxAuthTries); the agent offered 6 of its 7 '
        "keys"
    )
    said = JA.again(error.message)
    values = (
        WHO,
        "Too many authentication failures",
    )
    assert english_left(said, *values) == []
    assert english_left(JA.again(error.hint or "")) == []


def test_a_key_with_a_passphrase_in_japanese(tmp_path: Path) -> None:
    error = error_for(tmp_path, paramiko.PasswordRequiredException(), DIRECT)
    assert error.message == f"the key for {WHO} is protected by a passphrase"
    said = JA.again(error.message)
    assert english_left(said, WHO) == []
    assert english_left(JA.again(error.hint or "")) == []


def test_an_unknown_host_key_in_japanese(tmp_path: Path) -> None:
    key = paramiko.Ed25519Key.from_private_key_file(_a_key(tmp_path))
    missing = str(tmp_path / "known_hosts")
    conn = built(tmp_path, DIRECT)
    error = connect_error(
        UnknownHostKey("[127.0.0.1]:2222", key), Host("web1", "web"), chain(conn), [missing]
    )
    assert error.message == (
        f"the host key of {WHO} is not known: ssh-ed25519 "
        f"{fingerprint(key)}; refusing to connect (looked for [127.0.0.1]:2222 in {missing} "
        "(missing))"
    )
    said = JA.again(error.message)
    assert "(ありません)" in said
    values = (
        WHO,
        fingerprint(key),
        missing,
        "[127.0.0.1]:2222",
    )
    assert english_left(said, *values) == []
    hint = JA.again(error.hint or "")
    assert english_left(hint, "web1", "ssh-keyscan -p 2222 -t ed25519 127.0.0.1") == []


def _a_key(tmp_path: Path) -> str:
    path = tmp_path / "host_ed25519"
    import subprocess

    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return str(path)


def test_sudo_s_refusals_in_japanese() -> None:
    who = WHO
    refused = EN("error.transport.sudo.refused", who=who)
    assert refused == f"sudo on {who} refused the password"
    assert english_left(JA.again(refused), who) == []
    hint = EN("error.transport.sudo.refused.hint", user="deploy", host="127.0.0.1")
    assert hint == (
        "check RUNBOOK_SUDO_PASSWORD or the password typed at the prompt (it is deploy's "
        "password on 127.0.0.1); the step did not run"
    )
    assert english_left(JA.again(hint), "deploy", "127.0.0.1") == []
    missing = EN("error.transport.sudo.no-password", who=who)
    assert missing == f"sudo on {who} asks for a password and none was given"
    assert english_left(JA.again(missing), who) == []
    tty = EN("error.transport.sudo.requiretty", who=who, user="deploy")
    assert tty == (
        f"sudo on {who} refuses to run without a terminal (its sudoers has `Defaults "
        "requiretty` for deploy): the step did not run"
    )
    assert english_left(JA.again(tty), who, "deploy") == []


def test_the_english_of_every_transport_message_is_unchanged_by_the_catalog() -> None:
    """A host's own words inside a message are not taken for a message of ours."""
    said = JA.again("cannot connect to web1 (a@b:22): Connection reset by peer")
    assert said == "web1 (a@b:22) に接続できません: Connection reset by peer"


def test_a_refused_host_certificate_and_its_reason_in_japanese(tmp_path: Path) -> None:
    reason = EN("error.transport.cert.expired", when="2026-01-01 00:00:00 UTC")
    assert reason == "it expired at 2026-01-01 00:00:00 UTC"
    refused = HostCertificateRefused("[127.0.0.1]:2222", reason)
    error = error_for(tmp_path, refused, DIRECT)
    assert error.message == (
        f"the host certificate of {WHO} is refused: it expired at 2026-01-01 00:00:00 UTC; "
        "refusing to connect"
    )
    said = JA.again(error.message)
    assert "期限切れ" in said
    assert english_left(said, WHO, "2026-01-01 00:00:00 UTC") == []
    assert english_left(JA.again(error.hint or ""), "127.0.0.1", "CA_KEY", "HOST_KEY") == []


def test_a_connection_dropped_while_idle_in_japanese() -> None:
    dropped = EN("error.transport.dropped", who=WHO)
    assert dropped == f"the connection to {WHO} was closed by the host or the network while idle"
    assert english_left(JA.again(dropped), WHO) == []


def test_openssh_s_refusal_of_an_ssh_config_in_japanese() -> None:
    said = EN("error.sshconfig.unreadable", name="web", reason="line 3: Bad configuration option")
    assert (
        said
        == "OpenSSH cannot read the ssh configuration for web: line 3: Bad configuration option"
    )
    assert english_left(JA.again(said), "web", "line 3: Bad configuration option") == []
