"""The sandbox reproduces the WebSocket failure through a real nginx, and the fix cures it."""

from __future__ import annotations

import json
import os
import shlex
import site
import subprocess
import sys
from pathlib import Path

import pytest

from runbook.checks import check_websocket
from runbook.errors import RefusedError
from runbook.sandbox import (
    BRANCH,
    SUDOERS_DROPIN,
    UPGRADE_LINES,
    Sandbox,
    free_port,
    wait_until,
    write_inventory,
)
from runbook.sandbox.processes import is_ours as _is_ours
from runbook.sandbox.procfs import descendants as _descendants

from ..conftest import run_cli
from .conftest import local_user, sandbox_root, start_sandbox, stop_sandbox

pytestmark = pytest.mark.e2e

FAILED = (
    "Failed to upgrade to WebSocket (REQUEST_METHOD: GET, HTTP_CONNECTION: close, HTTP_UPGRADE: )"
)
UPGRADED = (
    "Successfully upgraded to WebSocket "
    "(REQUEST_METHOD: GET, HTTP_CONNECTION: upgrade, HTTP_UPGRADE: websocket)"
)


def ssh(box: Sandbox, script: str, *, stdin: str = "", known_hosts: Path | None = None):
    argv = box.ssh_command(script)
    if known_hosts is not None:
        argv = [a.replace(str(box.known_hosts), str(known_hosts)) for a in argv]
    return subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=20)


def log_after(path: Path, offset: int) -> str:
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read().decode()


def as_sudo(box: Sandbox, script: str) -> str:
    """`script` as the runbook's sudo steps run it: under `sudo sh -c` when the host has sudo."""
    if not box.as_root:
        return script
    return f"sudo -S -p '' sh -ec {shlex.quote(script)}"


def test_without_upgrade_headers_nginx_gets_404_and_the_backend_logs_the_failure(sandbox):
    offset = sandbox.backend_log.stat().st_size

    result = check_websocket(sandbox.cable_url, timeout=2)

    assert not result.ok
    assert "404" in result.summary and "expected 101" in result.summary
    assert FAILED in log_after(sandbox.backend_log, offset)


def test_the_feature_branch_adds_exactly_the_upgrade_lines(sandbox):
    diff = subprocess.run(
        ["git", "-C", str(sandbox.config_repo), "diff", "main", f"origin/{BRANCH}", "--",
         "confs/nginx.conf"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    lines = diff.splitlines()
    added = [line[1:].strip() for line in lines if line[:1] == "+" and line[:3] != "+++"]
    removed = [line for line in lines if line[:1] == "-" and line[:3] != "---"]
    assert added == list(UPGRADE_LINES)
    assert removed == []


def test_deploying_the_feature_branch_over_ssh_gives_101_and_the_success_line(sandbox):
    """The runbook's deploy, test and reload, typed over ssh (with sudo when there is sudo)."""
    v = sandbox.host_entry()["vars"]
    nginx = shlex.join(v["nginx"])
    repo = shlex.quote(v["config_repo"])
    script = (
        f"git -C {repo} fetch -q origin {shlex.quote(v['branch'])}\n"
        f"git -C {repo} checkout -q --detach FETCH_HEAD\n"
        f"install -m 0644 {repo}/confs/nginx.conf {shlex.quote(v['nginx_conf'])}\n"
        f"{nginx} -t\n"
        f"{nginx} -s reload\n"
    )
    offset = sandbox.backend_log.stat().st_size

    done = ssh(sandbox, as_sudo(sandbox, script), stdin=f"{sandbox.sudo_password or ''}\n")

    assert done.returncode == 0, done.stderr
    assert "test is successful" in done.stderr  # nginx -t writes to stderr
    results = []

    def upgraded() -> bool:
        results.append(check_websocket(v["cable_url"], timeout=2))
        return results[-1].ok

    wait_until(upgraded, 5.0, "the reloaded nginx to pass the upgrade")
    assert results[-1].summary == "101 Switching Protocols, Sec-WebSocket-Accept valid"
    assert UPGRADED in log_after(sandbox.backend_log, offset)


def test_reset_puts_mains_config_back(sandbox):
    sandbox.nginx_conf.write_text(sandbox.nginx_conf_text(upgrade=True))
    sandbox.reload_nginx()
    wait_until(lambda: check_websocket(sandbox.cable_url, timeout=2).ok, 5.0, "101")

    assert sandbox.reset() == ["installed main's nginx.conf", "nginx reloaded"]
    assert "404" in check_websocket(sandbox.cable_url, timeout=2).summary
    assert sandbox.reset() == []  # nothing to do the second time


def test_ssh_login_with_the_client_key_checks_the_host_key(sandbox, tmp_path):
    assert ssh(sandbox, "true").returncode == 0

    empty = tmp_path / "known_hosts"
    empty.write_text("")
    refused = ssh(sandbox, "true", known_hosts=empty)
    assert refused.returncode == 255
    assert "Host key verification failed" in refused.stderr


def test_the_login_user_reads_the_config_repo_without_sudo(sandbox):
    """The runbook's read-only `before` step runs git in the clone as the login user."""
    done = ssh(sandbox, f"git -C {shlex.quote(str(sandbox.config_repo))} log -1 --format=%s")
    assert (done.returncode, done.stdout.strip()) == (0, "nginx in front of ActionCable"), (
        done.stderr
    )


def test_the_login_user_may_sudo_with_its_password_only(sandbox, sudo_password):
    ok = ssh(sandbox, "sudo -S -p '' id -u", stdin=sudo_password + "\n")
    assert (ok.returncode, ok.stdout.strip()) == (0, "0"), ok.stderr

    wrong = ssh(sandbox, "sudo -S -p '' id -u", stdin="not-the-password\n")
    assert wrong.returncode != 0
    assert "incorrect password" in wrong.stderr


def test_host_entry_matches_the_runbook_vars(sandbox):
    entry = sandbox.host_entry()
    assert entry["sudo"] is (os.geteuid() == 0)
    assert entry["vars"]["nginx"][1:] == [
        "-p", str(sandbox.nginx_prefix), "-c", str(sandbox.nginx_conf),
        "-e", str(sandbox.nginx_error_log),
    ]  # fmt: skip
    assert entry["vars"]["cable_url"] == f"ws://{sandbox.address}:{sandbox.http_port}/cable"
    assert Path(entry["lock"]).parent.is_dir()
    assert oct(Path(entry["identity"]).stat().st_mode & 0o777) == "0o600"


def test_lifecycle_up_twice_ports_taken_status_and_down_leaves_nothing():
    box = start_sandbox("127.0.0.31")
    session = None
    try:
        assert box.up() == [f"sandbox at {box.root} is already running"]

        rival = Sandbox(
            sandbox_root(), address=box.address, ssh_port=box.ssh_port,
            http_port=box.http_port, backend_port=box.backend_port,
        )  # fmt: skip
        with pytest.raises(RefusedError, match="is in use"):
            rival.up()
        subprocess.run(["rm", "-rf", str(rival.root)], check=True)
        assert all(v.startswith("running") for k, v in box.status().items() if k != "sudo")

        # An open ssh session must not outlive down().
        session = subprocess.Popen(
            box.ssh_command("sleep 60"), stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_until(lambda: len(_descendants(_pid(box, "sshd"))) >= 2, 5.0, "the ssh session")
        records = json.loads(box.pids_file.read_text())
        pids = [r["pid"] for r in records.values()]
        pids += [p for pid in pids for p in _descendants(pid)]
    finally:
        lines = box.down()
    assert session is not None
    session.wait(timeout=5)
    assert sorted(line.split()[0] for line in lines[:3]) == ["backend", "nginx", "sshd"]
    assert not [p for p in pids if Path(f"/proc/{p}").exists() and not _zombie(p)]
    assert not any(_is_ours(r) for r in records.values())
    assert all(v.startswith("stopped") for k, v in box.status().items() if k != "sudo")
    if os.geteuid() == 0:
        assert str(box.root) not in (SUDOERS_DROPIN.read_text() if SUDOERS_DROPIN.exists() else "")
    stop_sandbox(box)


def test_sandboxes_on_two_addresses_are_separate_hosts_with_one_sudo_password(
    sandbox_factory,
):
    web1, web2 = sandbox_factory("127.0.0.21"), sandbox_factory("127.0.0.22")

    assert web1.root != web2.root and web1.lock_path != web2.lock_path
    for box in (web1, web2):
        assert ssh(box, "true").returncode == 0
        assert "404" in check_websocket(box.cable_url, timeout=2).summary
    assert web1.sudo_password == web2.sudo_password  # one login user, one password to ask
    assert sandbox_factory("127.0.0.21") is web1


def test_write_inventory_keeps_the_rest_and_replaces_its_block(tmp_path, sandbox):
    path = tmp_path / "hosts.yaml"
    path.write_text(
        "# production inventory\n"
        "defaults: {user: deploy}\n"
        "hosts:\n"
        "    prod: {address: web.example.com}  # the real one\n"
        "groups:\n"
        "    web: {hosts: [prod]}\n"
    )
    write_inventory(path, sandbox.host_entry())
    write_inventory(path, {**sandbox.host_entry(), "port": 1})

    import yaml

    data = yaml.safe_load(path.read_text())
    assert data["hosts"]["prod"] == {"address": "web.example.com"}
    assert data["hosts"]["sandbox"]["port"] == 1
    assert data["groups"] == {"web": {"hosts": ["prod"]}}
    text = path.read_text()
    assert text.count("# >>> sandbox") == 1 and text.count("# <<< sandbox") == 1
    assert "    # >>> sandbox (written by inv sandbox.up" in text

    fresh = tmp_path / "new.yaml"
    write_inventory(fresh, sandbox.host_entry())
    assert yaml.safe_load(fresh.read_text())["hosts"]["sandbox"] == sandbox.host_entry()


def test_the_sandbox_tasks_speak_the_operators_language(tmp_path):
    """`inv sandbox.up/status/down` under a Japanese locale or with --lang ja: every line of the
    tool in Japanese, values as they are; with --lang en the English lines as ever."""
    root, rival = sandbox_root("rb-e2e-ja-"), sandbox_root("rb-e2e-ja-rival-")
    ports = ["--ssh-port", str(free_port()), "--http-port", str(free_port())]
    ports += ["--backend-port", str(free_port())]
    locale = {"LANG": "ja_JP.UTF-8", "LC_ALL": "", "LC_MESSAGES": ""}
    inventory = ["--inventory", str(tmp_path / "hosts.yaml")]
    where = ["--root", str(root)]
    try:
        up = run_cli("sandbox.up", *where, *ports, *inventory, cwd=tmp_path, env=locale)
        assert up.returncode == 0, up.stdout + up.stderr
        status = run_cli("sandbox.status", *where, "--lang", "ja", cwd=tmp_path)
        english = run_cli("sandbox.status", *where, "--lang", "en", cwd=tmp_path)
        taken = run_cli("sandbox.up", "--root", str(rival), *ports, "--lang", "ja", cwd=tmp_path)
    finally:
        down = run_cli("sandbox.down", *where, "--lang", "ja", cwd=tmp_path)
        subprocess.run(["rm", "-rf", str(root), str(rival)], check=True)
    assert down.returncode == 0, down.stderr
    for line in ("backend  起動しました (pid ", "nginx    起動しました (pid ", "秒で起動しました",
                 "インベントリ:", "ssh で試す:"):  # fmt: skip
        assert line in up.stdout, up.stdout
    assert ("sudo パスワード: export" if os.geteuid() == 0 else "一般ユーザーモード") in up.stdout
    assert "  sshd     動作中 (pid " in status.stdout, status.stdout
    assert "  sshd     running (pid " in english.stdout, english.stdout
    assert english.stdout.startswith(f"sandbox {root} on 127.0.0.1 (")
    assert taken.returncode == 2 and taken.stderr.startswith("エラー: サンドボックスの "), taken
    assert "は使用中です" in taken.stderr and "ヒント: 別のサンドボックスかサービス" in taken.stderr
    assert "nginx    止めました (pid " in down.stdout, down.stdout
    said = up.stdout + status.stdout + taken.stderr + down.stdout
    for english_words in ("started", "stopped", "running", "sandbox up in", "inventory:",
                          "try ssh", "is in use", "hint", "sudo password"):  # fmt: skip
        assert english_words not in said, said


def test_ordinary_user_mode_lets_only_that_user_in_without_sudo(tmp_path):
    """sandbox up/down run as a non-root user (created here, so the test itself needs root)."""
    user = "rbsbxop"
    login = local_user(user, "--create-home", "--shell", "/bin/bash")
    root = sandbox_root("rb-e2e-user-")
    os.chown(root, login.pw_uid, login.pw_gid)
    python, env = _python_for(user)
    code = (
        "import json, sys; from runbook.sandbox import Sandbox, free_port\n"
        "a = '127.0.0.32'\n"
        f"b = Sandbox({str(root)!r}, address=a, ssh_port=free_port(a), http_port=free_port(a),"
        " backend_port=free_port(a))\n"
        "b.up(); print(json.dumps(b.host_entry()))\n"
    )
    up = _as_user(user, [python, "-c", code], env)
    try:
        assert up.returncode == 0, up.stderr
        entry = json.loads(up.stdout.splitlines()[-1])
        assert entry["user"] == user and entry["sudo"] is False
        box = Sandbox.load(root)  # as root: only for its paths and commands
        box.user = user
        who = ssh(box, "id -un")
        assert who.stdout.strip() == user, who.stderr
        assert "404" in check_websocket(entry["vars"]["cable_url"], timeout=2).summary
        records = json.loads((root / "pids.json").read_text())
        owners = {Path(f"/proc/{r['pid']}").stat().st_uid for r in records.values()}
        assert owners == {login.pw_uid}
    finally:
        code = f"from runbook import sandbox; print(sandbox.down({str(root)!r}))"
        down = _as_user(user, [python, "-c", code], env)
    assert down.returncode == 0, down.stderr
    assert "sshd     stopped" in down.stdout
    assert not any(_is_ours(r) for r in records.values())
    subprocess.run(["rm", "-rf", str(root)], check=True)


# -- helpers ------------------------------------------------------------------------------------


def _pid(box: Sandbox, name: str) -> int:
    return int(json.loads(box.pids_file.read_text())[name]["pid"])


def _zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rindex(")") + 2] == "Z"


def _as_user(user: str, argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["runuser", "-u", user, "--", "env", *(f"{k}={v}" for k, v in env.items()), *argv],
        capture_output=True, text=True, timeout=30, cwd="/",
    )  # fmt: skip


def _python_for(user: str) -> tuple[str, dict[str, str]]:
    """A Python the user can run that imports this checkout (the venv's may live under /root)."""
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {"PYTHONPATH": os.pathsep.join([src, *site.getsitepackages()]),
           "PYTHONDONTWRITEBYTECODE": "1"}  # fmt: skip
    for python in (sys.executable, f"/usr/bin/python{sys.version_info[0]}.{sys.version_info[1]}"):
        probe = _as_user(user, [python, "-c", "import runbook.sandbox, websockets"], env)
        if probe.returncode == 0:
            return python, env
    pytest.fail(f"no Python that {user} may run imports runbook: {probe.stderr.strip()}")
    raise AssertionError  # unreachable
