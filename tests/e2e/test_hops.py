"""Jump hosts and ProxyCommand against real sshd's: every failure names the hop that failed.

The world (`jumpworld`): a bastion (OpenSSH sshd) and a target that only the bastion can
reach (its sshd in a network namespace of its own). Each failure is made for real: a key the
bastion does not let in, a port where nothing listens, one whose backlog is full (the kernel
drops the SYN), one that accepts and never speaks, a port behind the bastion where nothing
listens or packets are dropped, a ProxyCommand that fails, a target key nobody listed.
"""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from runbook.core.model import Host
from runbook.errors import ConnectError
from runbook.transport import connect

from ..conftest import run_cli
from .jumpworld import (
    BASTION_ADDRESS,
    TARGET_ADDRESS,
    TARGET_CLOSED_PORT,
    TARGET_DROPPING_PORT,
    TARGET_PORT,
    TARGET_SECOND_ADDRESS,
    USER,
    JumpWorld,
    jump_world,
)

pytestmark = pytest.mark.e2e

BEHIND = f"behind (rbhopuser@{TARGET_ADDRESS}:{TARGET_PORT}, ssh_config alias 'behind'"


@pytest.fixture(scope="module")
def world() -> Iterator[JumpWorld]:
    yield from jump_world()


@pytest.fixture(autouse=True)
def empty_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A HOME with no ~/.ssh: the operator's own known_hosts, config and keys stay out."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    return home


def target(world: JumpWorld, alias: str = "behind", timeout: float = 5.0) -> Host:
    return Host(alias, alias, known_hosts=(str(world.known_hosts),), connect_timeout=timeout)


def fails(world: JumpWorld, config: Path, alias: str = "behind", timeout: float = 5.0) -> str:
    with pytest.raises(ConnectError) as caught:
        connect(target(world, alias, timeout), ssh_config_path=str(config)).close()
    return str(caught.value)


def jump_host(world: JumpWorld, port: int | None = None) -> str:
    return f"the jump host bastion (rbhopuser@{BASTION_ADDRESS}:{port or world.bastion_port})"


# -- the world itself ---------------------------------------------------------------------------


def test_through_the_bastion_the_target_answers(world: JumpWorld) -> None:
    transport = connect(target(world), ssh_config_path=str(world.ssh_config()))
    try:
        result = transport.run("id -un; echo $SSH_CONNECTION")
    finally:
        transport.close()
    user, connection = result.stdout.split("\n")[:2]
    assert user == USER
    assert connection.endswith(f"{TARGET_ADDRESS} {TARGET_PORT}")


def test_the_target_is_not_reachable_but_through_the_bastion(world: JumpWorld) -> None:
    direct = world.ssh_config().with_name("direct_config")
    direct.write_text(world.ssh_config().read_text().replace("  ProxyJump bastion\n", ""))
    message = fails(world, direct)
    assert "connection refused" in message and "jump host" not in message


def test_a_proxycommand_through_the_bastion_works(world: JumpWorld) -> None:
    transport = connect(target(world, "proxied"), ssh_config_path=str(world.ssh_config()))
    try:
        assert transport.run("echo proxied").stdout == "proxied\n"
    finally:
        transport.close()


def test_a_proxyjump_to_a_bracketed_ipv6_address_and_port_works(world: JumpWorld) -> None:
    """`ProxyJump user@[::1]:PORT`, as OpenSSH writes it (Fabric took "[::1]:PORT" as a name)."""
    transport = connect(target(world, "behind6"), ssh_config_path=str(world.ssh_config()))
    try:
        assert transport.run("echo six").stdout == "six\n"
    finally:
        transport.close()


def test_two_jump_hosts_are_taken_in_openssh_s_order(world: JumpWorld) -> None:
    """`ProxyJump bastion,TARGET`: the bastion first (Fabric alone would go to TARGET first)."""
    transport = connect(target(world, "twohops"), ssh_config_path=str(world.ssh_config()))
    try:
        assert transport.run("echo $SSH_CONNECTION").stdout.split()[2] == TARGET_SECOND_ADDRESS
    finally:
        transport.close()


def test_a_bracketed_hostname_in_ssh_config_says_to_drop_the_brackets(
    world: JumpWorld, tmp_path: Path
) -> None:
    config = tmp_path / "ssh_config"
    config.write_text(f"Host six\n  HostName [::1]\n  Port {world.bastion_port6}\n")
    message = fails(world, config, "six")
    assert "cannot resolve the address of six: '[::1]'" in message
    assert "hint: write the address without brackets (::1)" in message


# -- the jump host fails ------------------------------------------------------------------------


def test_a_bastion_refusing_the_login_is_named_not_the_target(world: JumpWorld) -> None:
    message = fails(world, world.ssh_config(bastion_key=world.stranger_key))
    assert message.startswith(f"{jump_host(world)} on the way to {BEHIND}) refused the login")
    assert "Host bastion: HostName, User, Port, IdentityFile" in message
    assert "authorized_keys on the jump host" in message


def test_a_bastion_that_is_down_is_named(world: JumpWorld) -> None:
    message = fails(world, world.ssh_config(bastion_port=world.closed_port))
    assert message.startswith(f"cannot connect to {jump_host(world, world.closed_port)} on the way")
    assert "connection refused" in message
    assert f"listening on port {world.closed_port}" in message


def test_a_bastion_dropping_packets_is_named(world: JumpWorld) -> None:
    message = fails(world, world.ssh_config(bastion_port=world.dropping_port), timeout=1)
    assert message.startswith(f"{jump_host(world, world.dropping_port)} on the way to {BEHIND})")
    assert "did not answer within 1 s" in message


def test_a_bastion_that_never_speaks_ssh_is_named(world: JumpWorld) -> None:
    message = fails(world, world.ssh_config(bastion_port=world.silent_port), timeout=1)
    assert message.startswith(f"{jump_host(world, world.silent_port)} on the way")
    assert "did not speak SSH within 1 s" in message


def test_a_changed_bastion_key_is_named_and_scanned_directly(world: JumpWorld) -> None:
    entry = f"[{BASTION_ADDRESS}]:{world.bastion_port}"
    wrong = world.target_host_key.with_suffix(".pub").read_text().split()[:2]
    world.known_hosts.write_text(f"{entry} {' '.join(wrong)}\n")
    try:
        message = fails(world, world.ssh_config())
    finally:
        world.write_known_hosts(target=True)
    assert message.startswith(f"the host key of {jump_host(world)} on the way to {BEHIND})")
    assert "has CHANGED" in message
    # The bastion is reachable from here: a plain ssh-keyscan is the right hint for it.
    assert f"(ssh-keyscan -p {world.bastion_port} -t ed25519 {BASTION_ADDRESS} >>" in message


# -- the target behind it fails -----------------------------------------------------------------


def test_a_target_down_behind_the_bastion_is_what_the_bastion_could_not_reach(
    world: JumpWorld,
) -> None:
    message = fails(world, world.ssh_config(target_port=TARGET_CLOSED_PORT))
    assert message.startswith(
        f"{jump_host(world)} could not reach behind at {TARGET_ADDRESS}:{TARGET_CLOSED_PORT}: "
        "Connection refused"
    )
    assert "Connect failed" not in message and "ChannelException" not in message
    # The hint's check runs on the bastion, where the target is reachable: try it.
    probe = message.split("check from there (")[1].rstrip(")")
    assert probe.endswith(f"nc -zv {TARGET_ADDRESS} {TARGET_CLOSED_PORT}")


def test_a_target_dropping_packets_behind_the_bastion_ends_at_the_connect_timeout(
    world: JumpWorld,
) -> None:
    # paramiko's own wait for the jump host's answer is an hour: the connect timeout bounds it.
    message = fails(world, world.ssh_config(target_port=TARGET_DROPPING_PORT), timeout=2)
    assert message.startswith(
        f"{jump_host(world)} could not reach behind at {TARGET_ADDRESS}:{TARGET_DROPPING_PORT}: "
        "no answer within 2 s"
    )


def test_a_second_jump_host_the_first_cannot_reach_is_named(world: JumpWorld) -> None:
    message = fails(world, world.ssh_config(), "behind2")
    assert message.startswith(
        f"{jump_host(world)} could not reach the jump host ::1 at [::1]:{world.bastion_port6}: "
        "Connection refused"
    )


def test_an_unknown_target_key_behind_the_bastion_gets_a_scan_through_the_bastion(
    world: JumpWorld,
) -> None:
    world.write_known_hosts(target=False)
    try:
        message = fails(world, world.ssh_config())
        assert message.startswith(f"the host key of {BEHIND}, through the jump host bastion)")
        assert "is not known" in message
        scan = message.split("then add the key: ")[1].split(" >> ")[0]
        assert scan.startswith(f"ssh -F {world.root / 'ssh_config'} bastion ssh-keyscan")
        # A direct scan cannot reach the target; the hint's, run on the bastion, can.
        direct = subprocess.run(
            ["ssh-keyscan", "-T", "3", "-p", str(TARGET_PORT), TARGET_ADDRESS],
            capture_output=True,
            text=True,
        )
        assert direct.stdout == ""
        scanned = subprocess.run(shlex.split(scan), capture_output=True, text=True, timeout=60)
        assert scanned.stdout.startswith(f"[{TARGET_ADDRESS}]:{TARGET_PORT} ssh-ed25519 ")
        with world.known_hosts.open("a") as known:
            known.write(scanned.stdout)
        transport = connect(target(world), ssh_config_path=str(world.ssh_config()))
        transport.close()
    finally:
        world.write_known_hosts(target=True)


# -- ProxyCommand -------------------------------------------------------------------------------


def test_a_proxycommand_that_fails_is_reported_at_once_with_its_stderr(world: JumpWorld) -> None:
    # A connect timeout of two minutes: paramiko's own ProxyCommand would sit it out, then
    # say the host "did not speak SSH".
    config = world.ssh_config(bastion_port=world.closed_port)
    message = fails(world, config, "proxied", timeout=120)
    assert message.startswith("the ProxyCommand of proxied (")
    assert "exited with status 255 before the SSH handshake: " in message
    assert f"connect to host {BASTION_ADDRESS} port {world.closed_port}: Connection refused" in (
        message
    )
    assert "did not speak SSH" not in message
    assert "hint: run it by hand to see why: ssh -F " in message


def test_a_proxycommand_s_stderr_is_bounded_and_made_visible(world: JumpWorld) -> None:
    noisy = (
        "sh -c 'i=0; while [ $i -lt 500 ]; do echo line $i >&2; i=$((i+1)); done; "
        'printf "\\033]0;owned\\007 the end\\n" >&2; exit 3\''
    )
    message = fails(world, world.ssh_config(proxy_command=noisy), "proxied", timeout=120)
    assert "exited with status 3 before the SSH handshake: " in message
    assert "line 499 / \\x1b]0;owned\\x07 the end" in message
    assert "line 400" not in message and "\x1b" not in message
    assert len(message) < 2000


def test_a_proxycommand_that_cannot_start_says_so(world: JumpWorld) -> None:
    config = world.ssh_config(proxy_command="/nonexistent/rbhop-proxy %h %p")
    message = fails(world, config, "proxied", timeout=120)
    assert message.startswith("the ProxyCommand of proxied (")
    assert "exited with status 127 before the SSH handshake: " in message
    said = message.split("before the SSH handshake: ")[1]
    # The shell's own words (sh: "not found", bash: "No such file or directory").
    assert "/nonexistent/rbhop-proxy: " in said.split("\n")[0]
    assert "key file" not in message


def test_a_proxycommand_runs_in_the_shell_as_openssh_runs_it(world: JumpWorld) -> None:
    """A redirection and a variable, as in many ssh_configs (paramiko passed them as words)."""
    log = world.root / "proxy.err"
    command = f"ssh -F {world.root / 'ssh_config'} -v -W %h:%p bastion 2>>{log}"
    config = world.ssh_config(proxy_command=command)
    transport = connect(target(world, "proxied"), ssh_config_path=str(config))
    try:
        assert transport.run("echo shell").stdout == "shell\n"
    finally:
        transport.close()
    assert "debug1:" in log.read_text()


def test_an_unknown_target_key_over_a_proxycommand_gets_the_line_to_add(
    world: JumpWorld,
) -> None:
    world.write_known_hosts(target=False)
    try:
        message = fails(world, world.ssh_config(), "proxied")
    finally:
        world.write_known_hosts(target=True)
    assert "through its ProxyCommand `ssh -F " in message and "is not known" in message
    key = " ".join(world.target_host_key.with_suffix(".pub").read_text().split()[:2])
    assert f"echo '[{TARGET_ADDRESS}]:{TARGET_PORT} {key}' >> ~/.ssh/known_hosts" in message


# -- a release -----------------------------------------------------------------------------------


def _project_behind(world: JumpWorld, tmp_path: Path, config: Path) -> dict[str, str]:
    """A project releasing to `behind` with `config` as ~/.ssh/config: the CLI's environment."""
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "config").write_text(config.read_text())
    project = tmp_path / "project"
    (project / "runbooks").mkdir(parents=True)
    (project / "runbooks" / "hop.yaml").write_text(
        "name: hop\nsteps:\n  - {id: where, run: 'echo on $(hostname) as $(id -un)'}\n"
    )
    inventory = {
        "hosts": {
            "behind": {"address": "behind", "known_hosts": [str(world.known_hosts)], "sudo": False}
        }
    }
    (project / "hosts.yaml").write_text(yaml.safe_dump(inventory))
    return {
        "HOME": str(home),
        "RUNBOOK_STATE_DIR": str(tmp_path / "state"),
        "RUNBOOK_OPERATOR": "e2e-operator",
    }


def test_a_release_through_the_bastion_runs_end_to_end(world: JumpWorld, tmp_path: Path) -> None:
    env = _project_behind(world, tmp_path, world.ssh_config())
    project = tmp_path / "project"
    done = run_cli("preflight", "--host", "behind", cwd=project, env=env, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "every check passed on behind" in done.stdout
    done = run_cli("release", "--host", "behind", "--yes", cwd=project, env=env, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"as {USER}" in done.stdout


def test_preflight_names_the_jump_host_that_refuses_the_login(
    world: JumpWorld, tmp_path: Path
) -> None:
    env = _project_behind(world, tmp_path, world.ssh_config(bastion_key=world.stranger_key))
    done = run_cli("preflight", "--host", "behind", cwd=tmp_path / "project", env=env, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    said = done.stdout + done.stderr
    assert "the jump host bastion" in said and "refused the login" in said, said
    assert not list((tmp_path / "state").glob("runs/*.jsonl"))  # preflight runs nothing
