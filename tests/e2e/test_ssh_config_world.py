"""ssh_config and authentication as OpenSSH means them, against a real sshd and a real ssh-agent.

A world of its own on 127.0.0.40: an sshd (MaxAuthTries 6, the default; a user certificate
authority in TrustedUserCAKeys) that lets the sandbox's login user in with one "right" key or a
certificate; an `ssh-agent` started here on its own socket, holding six other keys before the
right one; a key with a passphrase; an ssh_config that `Include`s its Host blocks. Each case is
checked with plain `ssh` first (so the world is what the test says it is), then with the tool.
The machine's own ~/.ssh is never read: HOME is a fresh folder and every config is given with
`-F` (the tool: `ssh_config_path`, or RUNBOOK_SSH_CONFIG for a plan).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from runbook.core.inventory import load_inventory
from runbook.core.model import Host
from runbook.errors import ConnectError
from runbook.sandbox import Sandbox, free_port
from runbook.sandbox.configs import sshd_config_text
from runbook.sandbox.processes import answers
from runbook.transport import connect

from .conftest import _skip_or_fail, sandbox_root

pytestmark = pytest.mark.e2e

ADDRESS = "127.0.0.40"
DECOYS = 6  # sshd's MaxAuthTries is 6: the right key, seventh in the agent, is never reached
SSHD = "/usr/sbin/sshd"


@dataclass
class World:
    root: Path
    port: int
    two_step_port: int  # the same sshd, asking for a password after the key
    user: str
    known_hosts: Path  # [127.0.0.40]:port and the alias `rbcfg-web-key`
    agent_sock: Path  # DECOYS keys, then the right one
    right: Path  # authorized
    locked: Path  # authorized, with a passphrase, in no agent
    cert_key: Path  # not authorized: logs in with its certificate only
    certificate: Path  # cert_key's, signed by the CA, away from the key (CertificateFile)

    def ssh(self, config: Path, alias: str, env: dict[str, str] | None = None) -> str:
        """`ssh -F config alias id -un` as OpenSSH itself runs it: its stdout, or its error."""
        done = subprocess.run(
            ["ssh", "-F", str(config), "-o", "BatchMode=yes", alias, "id -un"],
            capture_output=True,
            text=True,
            timeout=60,
            env=env or _env(),
            check=False,
        )
        return done.stdout.strip() if done.returncode == 0 else done.stderr.strip()


def _env(**extra: str) -> dict[str, str]:
    keep = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    return {**keep, **extra}


def _keygen(path: Path, *extra: str, passphrase: str = "") -> Path:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-C", path.name, "-f", str(path)],
        check=True,
        capture_output=True,
    )
    path.chmod(0o600)
    return path


@pytest.fixture(autouse=True)
def fresh_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A HOME without ~/.ssh and no agent of the caller's: nothing of the machine's leaks in."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    monkeypatch.delenv("RUNBOOK_SSH_CONFIG", raising=False)
    return home


@pytest.fixture(scope="module")
def world(sandbox_session: Sandbox) -> Iterator[World]:
    for tool in (SSHD, "ssh-agent", "ssh-add", "ssh-keygen", "ssh"):
        if shutil.which(tool) is None:
            _skip_or_fail(f"needs {tool} (apt-get install openssh-server openssh-client)")
    root = sandbox_root("rbcfg-")
    user = sandbox_session.user  # the sandbox's login user: no user of our own is needed
    port = free_port(ADDRESS)
    two_step_port = free_port(ADDRESS)
    keys = root / "keys"
    keys.mkdir(mode=0o755)
    host_key = _keygen(keys / "host")
    right = _keygen(keys / "right")
    locked = _keygen(keys / "locked", passphrase="rbcfg passphrase")
    cert_key = _keygen(keys / "certkey")
    ca = _keygen(keys / "ca")
    subprocess.run(
        ["ssh-keygen", "-q", "-s", str(ca), "-I", "rbcfg", "-n", user, "-V", "-5m:+1d",
         str(cert_key) + ".pub"],
        check=True, capture_output=True,
    )  # fmt: skip
    (root / "certs").mkdir(mode=0o755)
    certificate = root / "certs" / "login-cert.pub"
    Path(str(cert_key) + "-cert.pub").rename(certificate)  # only CertificateFile finds it
    authorized = root / "authorized"
    authorized.mkdir(mode=0o755)
    (authorized / user).write_text(
        Path(str(right) + ".pub").read_text() + Path(str(locked) + ".pub").read_text()
    )
    host_pub = " ".join(Path(str(host_key) + ".pub").read_text().split()[:2])
    known_hosts = root / "known_hosts"
    known_hosts.write_text(
        f"[{ADDRESS}]:{port} {host_pub}\nrbcfg-web-key {host_pub}\n"
        f"[{ADDRESS}]:{two_step_port} {host_pub}\n"
    )
    config = root / "sshd_config"
    config.write_text(
        sshd_config_text(
            address=ADDRESS,
            port=port,
            host_key=host_key,
            pid_file=root / "sshd.pid",
            keys_dir=authorized,
            user=user,
            extra=(
                f"TrustedUserCAKeys {ca}.pub",
                "MaxAuthTries 6",
                f"Port {two_step_port}",
                f"Match LocalPort {two_step_port}",
                "  AuthenticationMethods publickey,password",
                "  PasswordAuthentication yes",
            ),
        )
    )
    agent_sock = root / "agent.sock"
    log = open(root / "out.log", "ab")  # noqa: SIM115 (closed at the end)
    sshd = subprocess.Popen(
        [SSHD, "-D", "-e", "-f", str(config)],
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    agent = subprocess.Popen(
        ["ssh-agent", "-D", "-a", str(agent_sock)],
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        _wait(
            lambda: (
                answers(ADDRESS, port, b"SSH-2.0-")
                and answers(ADDRESS, two_step_port, b"SSH-2.0-")
                and agent_sock.exists()
            ),
            sshd,
        )
        for n in range(DECOYS):  # the agent lists keys in the order they were added
            _add(_keygen(keys / f"decoy{n}"), agent_sock)
        _add(right, agent_sock)
        yield World(
            root,
            port,
            two_step_port,
            user,
            known_hosts,
            agent_sock,
            right,
            locked,
            cert_key,
            certificate,
        )
    finally:
        for proc in (sshd, agent):
            proc.terminate()
            proc.wait(timeout=30)
        log.close()
        shutil.rmtree(root, ignore_errors=True)


def _wait(ready: object, proc: subprocess.Popen[bytes]) -> None:
    import time

    for _ in range(600):
        if callable(ready) and ready():
            return
        if proc.poll() is not None:
            pytest.fail(f"sshd exited with {proc.returncode}")
        time.sleep(0.05)
    pytest.fail("the world's sshd or agent did not start")


def _add(key: Path, sock: Path) -> None:
    subprocess.run(
        ["ssh-add", "-q", str(key)],
        env=_env(SSH_AUTH_SOCK=str(sock)),
        check=True,
        capture_output=True,
        timeout=30,
    )


def _config(world: World, tmp_path: Path, *blocks: str) -> Path:
    """An ssh_config that `Include`s its Host blocks from a folder, as many people's do."""
    parts = tmp_path / "config.d"
    parts.mkdir(exist_ok=True)
    for n, block in enumerate(blocks):
        (parts / f"{n:02d}.conf").write_text(block)
    main = tmp_path / "ssh_config"
    main.write_text(
        f"Include {parts}/*.conf\n"
        f"Host *\n  UserKnownHostsFile {world.known_hosts}\n  StrictHostKeyChecking yes\n"
    )
    return main


def _direct(world: World, **changes: object) -> Host:
    fields: dict[str, object] = {
        "name": "web",
        "address": ADDRESS,
        "user": world.user,
        "port": world.port,
        "known_hosts": (str(world.known_hosts),),
        "connect_timeout": 30.0,
    }
    return Host(**{**fields, **changes})  # type: ignore[arg-type]


def _login(host: Host, config: Path | None = None) -> str:
    with connect(host, ssh_config_path=str(config) if config else os.devnull) as transport:
        return transport.run("id -un").stdout.strip()


# -- an agent with more keys than sshd's MaxAuthTries -----------------------------------------


def test_an_agent_with_too_many_keys_is_named_not_a_passphrase(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSH_AUTH_SOCK", str(world.agent_sock))
    plain = subprocess.run(
        ["ssh", "-F", "/dev/null", "-o", "BatchMode=yes", "-o",
         f"UserKnownHostsFile={world.known_hosts}", "-p", str(world.port),
         f"{world.user}@{ADDRESS}", "true"],
        capture_output=True, text=True, timeout=60, env=_env(SSH_AUTH_SOCK=str(world.agent_sock)),
        check=False,
    )  # fmt: skip
    assert "Too many authentication failures" in plain.stderr  # OpenSSH meets the same wall

    with pytest.raises(ConnectError) as caught:
        _login(_direct(world))
    said = str(caught.value)
    assert "Too many authentication failures" in said, said
    assert f"the agent offered {DECOYS} of its {DECOYS + 1} keys" in said, said
    assert "IdentitiesOnly" in said and "`identity`" in said, said
    assert "passphrase" not in said, said


def test_identities_only_offers_the_configured_key_from_the_agent(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSH_AUTH_SOCK", str(world.agent_sock))
    public_only = tmp_path / "right.pub"  # the private key is in the agent only
    public_only.write_text(Path(str(world.right) + ".pub").read_text())
    config = _config(
        world,
        tmp_path,
        f"Host rbcfg-many\n  HostName {ADDRESS}\n  Port {world.port}\n  User {world.user}\n"
        f"  IdentitiesOnly yes\n  IdentityFile {public_only}\n",
    )
    assert world.ssh(config, "rbcfg-many", _env(SSH_AUTH_SOCK=str(world.agent_sock))) == (
        world.user
    )
    assert _login(Host("web", "rbcfg-many", connect_timeout=30.0), config) == world.user


def test_the_inventory_identity_is_offered_before_the_agents_other_keys(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSH_AUTH_SOCK", str(world.agent_sock))
    assert _login(_direct(world, identity=str(world.right))) == world.user


# -- a key with a passphrase --------------------------------------------------------------------


def test_a_key_with_a_passphrase_not_in_the_agent_says_so(world: World, tmp_path: Path) -> None:
    with pytest.raises(ConnectError) as caught:
        _login(_direct(world, identity=str(world.locked)))
    said = str(caught.value)
    assert f"the key {world.locked} is protected by a passphrase and not in the agent" in said
    assert "ssh-add" in said

    # In an agent of its own (the passphrase typed once, by ssh-add), it logs in: no hint.
    sock = tmp_path / "agent.sock"
    agent = subprocess.Popen(
        ["ssh-agent", "-D", "-a", str(sock)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    try:
        _wait(sock.exists, agent)
        askpass = tmp_path / "askpass"
        askpass.write_text("#!/bin/sh\necho 'rbcfg passphrase'\n")
        askpass.chmod(0o700)
        subprocess.run(
            ["ssh-add", "-q", str(world.locked)],
            env=_env(
                SSH_AUTH_SOCK=str(sock), SSH_ASKPASS=str(askpass), SSH_ASKPASS_REQUIRE="force"
            ),
            stdin=subprocess.DEVNULL, check=True, capture_output=True, timeout=30,
        )  # fmt: skip
        os.environ["SSH_AUTH_SOCK"] = str(sock)
        try:
            assert _login(_direct(world, identity=str(world.locked))) == world.user
        finally:
            del os.environ["SSH_AUTH_SOCK"]
    finally:
        agent.terminate()
        agent.wait(timeout=30)


# -- IdentityAgent --------------------------------------------------------------------------------


def test_identity_agent_in_ssh_config_is_the_agent_asked(world: World, tmp_path: Path) -> None:
    # No SSH_AUTH_SOCK at all: the agent is found only through IdentityAgent (as 1Password's,
    # Secretive's and KeePassXC's are wired).
    config = _config(
        world,
        tmp_path,
        f"Host rbcfg-agent\n  HostName {ADDRESS}\n  Port {world.port}\n  User {world.user}\n"
        f"  IdentityAgent {world.agent_sock}\n  IdentitiesOnly yes\n"
        f"  IdentityFile {world.right}.pub\n",
        f"Host rbcfg-noagent\n  HostName {ADDRESS}\n  Port {world.port}\n  User {world.user}\n"
        "  IdentityAgent none\n",
    )
    assert world.ssh(config, "rbcfg-agent") == world.user
    assert _login(Host("web", "rbcfg-agent", connect_timeout=30.0), config) == world.user

    with pytest.raises(ConnectError) as caught:
        _login(Host("web", "rbcfg-noagent", connect_timeout=30.0), config)
    said = str(caught.value)
    assert "refused the login" in said and "agent: none" in said, said
    assert "passphrase" not in said and "Too many" not in said, said


# -- a user certificate -----------------------------------------------------------------------


def test_a_user_certificate_from_certificate_file_logs_in(world: World, tmp_path: Path) -> None:
    config = _config(
        world,
        tmp_path,
        f"Host rbcfg-cert\n  HostName {ADDRESS}\n  Port {world.port}\n  User {world.user}\n"
        f"  IdentityAgent none\n  IdentityFile {world.cert_key}\n"
        f"  CertificateFile {world.certificate}\n",
        f"Host rbcfg-nocert\n  HostName {ADDRESS}\n  Port {world.port}\n  User {world.user}\n"
        f"  IdentityAgent none\n  IdentityFile {world.cert_key}\n",
    )
    assert world.ssh(config, "rbcfg-cert") == world.user
    assert _login(Host("web", "rbcfg-cert", connect_timeout=30.0), config) == world.user

    # The same key without its certificate is not authorized: the certificate did it.
    assert "Permission denied" in world.ssh(config, "rbcfg-nocert")
    with pytest.raises(ConnectError, match="refused the login"):
        _login(Host("web", "rbcfg-nocert", connect_timeout=30.0), config)


# -- Include, HostKeyAlias, User and Port from the alias under inventory defaults ------------


def test_an_included_alias_keeps_its_user_port_and_host_key_alias_over_defaults(
    world: World, tmp_path: Path
) -> None:
    config = _config(
        world,
        tmp_path,
        f"Host rbcfg-web\n  HostName {ADDRESS}\n  Port {world.port}\n  User {world.user}\n"
        f"  HostKeyAlias rbcfg-web-key\n  IdentityAgent {world.agent_sock}\n"
        f"  IdentitiesOnly yes\n  IdentityFile {world.right}\n",
    )
    # Only the alias's entry is trusted: [127.0.0.40]:port is not in this file.
    alias_only = tmp_path / "known_hosts"
    alias_only.write_text(
        "".join(
            line + "\n"
            for line in world.known_hosts.read_text().splitlines()
            if line.startswith("rbcfg-web-key ")
        )
    )
    # The address's own entry does not count: the key is looked up under the alias alone.
    address_only = tmp_path / "known_hosts_address"
    address_only.write_text(world.known_hosts.read_text().replace("rbcfg-web-key ", "other "))
    config.write_text(config.read_text().replace(str(world.known_hosts), str(address_only)))
    assert "Host key verification failed" in world.ssh(config, "rbcfg-web")
    with pytest.raises(ConnectError) as caught:
        _login(Host("web", "rbcfg-web", connect_timeout=30.0), config)
    said = str(caught.value)
    assert "HostKeyAlias rbcfg-web-key) is not known" in said, said
    assert "sed 's/^[^ ]*/rbcfg-web-key/'" in said, said

    config.write_text(config.read_text().replace(str(address_only), str(alias_only)))
    assert world.ssh(config, "rbcfg-web") == world.user

    inventory = tmp_path / "hosts.yaml"
    inventory.write_text(
        yaml.safe_dump(
            {
                "defaults": {"user": "rbcfg-nobody", "port": 2, "connect_timeout": 30},
                "hosts": {
                    "web": {"address": "rbcfg-web"},
                    "handed-back": {"address": "rbcfg-web", "user": None, "port": None},
                },
                "groups": {"pinned": {"hosts": ["handed-back"], "user": "rbcfg-nobody"}},
            }
        )
    )
    hosts = load_inventory(inventory).hosts
    assert _login(hosts["web"], config) == world.user
    # A group's user would win over ssh_config; `user: null` on the host hands it back.
    assert hosts["handed-back"].user is None
    assert _login(hosts["handed-back"], config) == world.user


# -- ProxyCommand, run by the shell as `ssh` runs it ----------------------------------------


def test_a_proxy_command_runs_through_the_shell_with_its_tokens(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RBCFG_HOP_KEY", str(world.right))
    through = (
        "ssh -F /dev/null -o BatchMode=yes -o IdentitiesOnly=yes -i $RBCFG_HOP_KEY "
        f"-o UserKnownHostsFile={world.known_hosts} -p %p %r@%h -W %h:%p 2>/dev/null"
    )  # a variable and a redirection: only a shell reads them
    config = _config(
        world,
        tmp_path,
        f"Host rbcfg-proxied\n  HostName {ADDRESS}\n  Port {world.port}\n  User {world.user}\n"
        f"  IdentityAgent none\n  IdentityFile {world.right}\n  ProxyCommand {through}\n",
    )
    assert world.ssh(config, "rbcfg-proxied", _env(RBCFG_HOP_KEY=str(world.right))) == world.user
    assert _login(Host("web", "rbcfg-proxied", connect_timeout=30.0), config) == world.user


# -- a server that wants more than a key ----------------------------------------------------------


def test_a_server_asking_for_a_password_after_the_key_is_named(world: World) -> None:
    with pytest.raises(ConnectError) as caught:
        _login(_direct(world, port=world.two_step_port, identity=str(world.right)))
    said = str(caught.value)
    assert "asks for password to log in as" in said and "after the key" in said, said
    assert "keys and certificates only" in said and "passphrase" not in said, said
