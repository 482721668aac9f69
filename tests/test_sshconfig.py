"""Connection settings as OpenSSH resolves them (`core.sshconfig`): `ssh -G` read, the inventory on
top, defaults below an alias's own User and Port, what the digest binds.

The parsing and the precedence are checked on `ssh -G` output written here; the resolution runs
the real `ssh -G` with a config of the test's own (`-F`), never the machine's ~/.ssh/config.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from runbook.core.inventory import load_inventory
from runbook.core.model import Host
from runbook.core.sshconfig import (
    decided,
    expand_tokens,
    parse,
    resolve,
    settings_from,
)
from runbook.core.trust import key_lookup, known_hosts_files
from runbook.errors import ConnectError

from .conftest import run_cli
from .e2e.conftest import _skip_or_fail

PLAIN = """\
host web
user root
hostname web
port 22
identitiesonly no
identityfile ~/.ssh/id_rsa
identityfile ~/.ssh/id_ed25519
userknownhostsfile /home/op/.ssh/known_hosts /home/op/.ssh/known_hosts2
connecttimeout none
proxyusefdpass no
"""

CONFIGURED = """\
host web
user alice
hostname 10.1.2.3
port 2222
identitiesonly yes
identityfile ~/.ssh/work_%h
certificatefile ~/.ssh/work-cert.pub
identityagent ~/.1password/agent.sock
proxycommand nc -X connect %h %p
hostkeyalias web-key
userknownhostsfile /home/op/.ssh/known_hosts /home/op/.ssh/known_hosts2
connecttimeout 7
proxyusefdpass no
"""


def _settings(text: str, plain: str = PLAIN):  # type: ignore[no-untyped-def]
    return settings_from(parse(text), parse(plain), alias="web", home="/home/op", local_user="op")


def test_ssh_g_output_is_read_with_repeated_keywords_in_order() -> None:
    options = parse(PLAIN)
    assert options["identityfile"] == ["~/.ssh/id_rsa", "~/.ssh/id_ed25519"]
    assert options["userknownhostsfile"] == ["/home/op/.ssh/known_hosts /home/op/.ssh/known_hosts2"]
    assert options["connecttimeout"] == ["none"]


def test_settings_expand_home_and_tokens_as_ssh_does() -> None:
    s = _settings(CONFIGURED)
    assert (s.hostname, s.user, s.port) == ("10.1.2.3", "alice", 2222)
    assert s.identity_files == ("/home/op/.ssh/work_10.1.2.3",)
    assert s.certificate_files == ("/home/op/.ssh/work-cert.pub",)
    assert s.identity_agent == "/home/op/.1password/agent.sock"
    assert s.identities_only is True
    assert s.proxy_command == "nc -X connect 10.1.2.3 2222"
    assert s.host_key_alias == "web-key"
    assert s.known_hosts_files == ("/home/op/.ssh/known_hosts", "/home/op/.ssh/known_hosts2")
    assert s.connect_timeout == 7.0
    assert s.unsupported == ()


def test_no_configuration_means_openssh_defaults_and_nothing_decided() -> None:
    s = _settings(PLAIN)
    assert (s.hostname, s.user, s.port) == ("web", "root", 22)
    assert s.identity_agent is None and s.connect_timeout is None and not s.identities_only
    assert s.decided == ()


def test_identity_agent_words_are_kept_for_the_transport() -> None:
    for word in ("none", "SSH_AUTH_SOCK", "$MY_AGENT"):
        assert _settings(PLAIN + f"identityagent {word}\n").identity_agent == word


def test_what_ssh_config_decides_is_where_and_as_whom_not_how_the_login_is_proven() -> None:
    found = dict(decided(parse(CONFIGURED), parse(PLAIN), "/home/op"))
    assert found == {
        "hostname": "10.1.2.3",
        "user": "alice",
        "port": "2222",
        "proxycommand": "nc -X connect %h %p",
        "hostkeyalias": "web-key",
    }  # keys, agent, certificates and timeouts are each operator's own: not bound


def test_settings_this_tool_cannot_honour_are_named() -> None:
    s = _settings(
        PLAIN.replace("proxyusefdpass no", "proxyusefdpass yes") + "bindaddress 10.0.0.9\n"
    )
    assert s.unsupported == ("proxyusefdpass yes", "bindaddress 10.0.0.9")


def test_tokens_unknown_stay_and_percent_percent_is_one() -> None:
    assert expand_tokens("%h:%p %% %z", {"h": "a", "p": "22", "%": "%"}) == "a:22 % %z"


def test_host_key_lookup_uses_the_alias_verbatim_else_host_and_port() -> None:
    host = Host("web", "web")
    assert key_lookup(host, _settings(CONFIGURED)) == "web-key"
    no_alias = _settings(CONFIGURED.replace("hostkeyalias web-key\n", ""))
    assert key_lookup(host, no_alias) == "[10.1.2.3]:2222"
    assert key_lookup(Host("web", "web", port=22)) == "web"
    assert known_hosts_files(Host("w", "w", known_hosts=("/p/kh",)), no_alias) == [
        "/p/kh",
        "/home/op/.ssh/known_hosts",
        "/home/op/.ssh/known_hosts2",
    ]


# -- the real `ssh -G` ----------------------------------------------------------------------------


@pytest.fixture
def ssh_config(tmp_path: Path) -> Path:
    if shutil.which("ssh") is None:
        _skip_or_fail("needs the OpenSSH client (apt-get install openssh-client)")
    parts = tmp_path / "conf.d"
    parts.mkdir()
    (parts / "web.conf").write_text(
        "Host web-alias\n  HostName 10.9.9.9\n  User alice\n  Port 2200\n  HostKeyAlias web-key\n"
    )
    config = tmp_path / "ssh_config"
    config.write_text(f"Include {parts}/*.conf\n")
    return config


def _inventory(tmp_path: Path, text: str) -> dict[str, Host]:
    path = tmp_path / "hosts.yaml"
    path.write_text(text)
    return load_inventory(path).hosts


def test_defaults_do_not_override_an_alias_user_and_port(tmp_path: Path, ssh_config: Path) -> None:
    hosts = _inventory(
        tmp_path,
        "defaults: {user: deploy, port: 22}\n"
        "hosts:\n  web: {address: web-alias}\n  plain: {address: 10.0.0.5}\n",
    )
    web = resolve(hosts["web"], config=str(ssh_config))
    assert web is not None and (web.hostname, web.user, web.port) == ("10.9.9.9", "alice", 2200)
    plain = resolve(hosts["plain"], config=str(ssh_config))
    assert plain is not None and (plain.user, plain.port) == ("deploy", 22)  # no entry: defaults


def test_a_host_or_group_value_wins_and_null_hands_it_back(
    tmp_path: Path, ssh_config: Path
) -> None:
    hosts = _inventory(
        tmp_path,
        "defaults: {user: deploy}\n"
        "hosts:\n"
        "  pinned: {address: web-alias, user: root, port: 22}\n"
        "  grouped: {address: web-alias}\n"
        "  back: {address: web-alias, user: null, port: null}\n"
        "groups:\n  ops: {hosts: [grouped, back], user: ops, port: 2022}\n",
    )
    pinned = resolve(hosts["pinned"], config=str(ssh_config))
    assert pinned is not None and (pinned.user, pinned.port) == ("root", 22)
    assert dict(pinned.decided) == {"hostname": "10.9.9.9", "hostkeyalias": "web-key"}
    grouped = resolve(hosts["grouped"], config=str(ssh_config))
    assert grouped is not None and (grouped.user, grouped.port) == ("ops", 2022)
    back = resolve(hosts["back"], config=str(ssh_config))
    assert back is not None and (back.user, back.port) == ("alice", 2200)


def test_a_hostile_name_never_reaches_ssh_g_or_a_match_exec(tmp_path: Path) -> None:
    if shutil.which("ssh") is None:
        _skip_or_fail("needs the OpenSSH client (apt-get install openssh-client)")
    mark = tmp_path / "ran"
    config = tmp_path / "ssh_config"
    config.write_text(f'Match exec "touch {mark}"\n  User x\n')
    for host in (
        Host("h", "a$(touch${IFS}evil)"),
        Host("h", "-oProxyCommand=touch"),
        Host("h", "ok", user="u;touch"),
    ):
        with pytest.raises(ConnectError, match="OpenSSH would accept"):
            resolve(host, config=str(config))
    assert not mark.exists()
    resolve(Host("h", "fine.example"), config=str(config))
    assert mark.exists()  # the operator's own Match exec runs, as `ssh` runs it


def test_a_broken_ssh_config_is_named(tmp_path: Path) -> None:
    if shutil.which("ssh") is None:
        _skip_or_fail("needs the OpenSSH client (apt-get install openssh-client)")
    config = tmp_path / "ssh_config"
    config.write_text("Host x\n  NoSuchOption yes\n")
    with pytest.raises(ConnectError, match="OpenSSH cannot read the ssh configuration"):
        resolve(Host("x", "x"), config=str(config))


# -- the digest binds what ssh_config decides ------------------------------------------------


RUNBOOK = "name: demo\ntitle: Demo\nsteps:\n  - id: hello\n    run: echo hello\n"


def _digest(project: Path, config: Path) -> tuple[str, str]:
    env = {
        "RUNBOOK_STATE_DIR": str(project / "state"),
        "HOME": str(project / "home"),
        "RUNBOOK_SSH_CONFIG": str(config),
    }
    done = run_cli("show", "--host", "web", cwd=project, env=env)
    assert done.returncode == 0, done.stderr
    found = re.findall(r"--approved ([0-9a-f]{64})", done.stdout)
    return found[0], done.stdout


def test_the_digest_binds_the_alias_destination_and_the_review_shows_it(
    tmp_path: Path, ssh_config: Path
) -> None:
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "runbooks" / "demo.yaml").write_text(RUNBOOK)
    (tmp_path / "hosts.yaml").write_text(
        "defaults: {user: deploy}\nhosts:\n  web: {address: web-alias, known_hosts: kh}\n"
    )
    (tmp_path / "kh").write_text(
        "web-key ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHNyxIWpdOjmFZPK+h0HZyzNt8HaAObdGCsKPItaB0Sp\n"
    )
    first, review = _digest(tmp_path, ssh_config)
    assert "Where ssh_config sends the connection" in review
    for shown in ("`hostname`", "`10.9.9.9`", "`alice`", "`2200`", "`web-key`"):
        assert shown in review, shown
    assert "SHA256:" in review  # the key listed under the HostKeyAlias is the one trusted

    part = ssh_config.parent / "conf.d" / "web.conf"
    text = part.read_text()
    part.write_text(text + "  IdentityFile ~/.ssh/other\n  IdentityAgent none\n")
    assert _digest(tmp_path, ssh_config)[0] == first  # how the login is proven: not bound
    part.write_text(text.replace("User alice", "User mallory"))
    assert _digest(tmp_path, ssh_config)[0] != first  # who logs in: bound


def test_identity_null_drops_the_default_key(tmp_path: Path) -> None:
    hosts = _inventory(
        tmp_path,
        "defaults: {identity: keys/deploy}\nhosts:\n  a: {}\n  b: {identity: null}\n",
    )
    assert hosts["a"].identity == str(tmp_path / "keys" / "deploy")
    assert hosts["b"].identity is None
    assert hosts["a"].ssh_config_first == ("user", "port", "connect_timeout")


def test_without_an_openssh_client_nothing_is_resolved(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)
    assert resolve(Host("web", "web")) is None  # the transport falls back to paramiko's reading
