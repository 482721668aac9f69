"""`scripts/benchmark.py --wan`: the release over a link of 50 ms round trip (issue 12).

    .venv/bin/python scripts/benchmark.py --wan [--runs 3] [--no-ansible] [--delay-ms 25]

It starts one sandbox (`runbook.sandbox`: sshd, and as root the login user `rbsandbox` with sudo
*with a password*) on 127.0.0.70 and a delay proxy (`runbook.sandbox.delay`, 25 ms each way) on
127.0.0.71 in front of its sshd, then times, interleaved run by run, as whole processes:

- the tool: `inv release --runbook wanN --host H --yes` (N steps `run: "true"`);
- the ssh loop: N x `ssh HOST true` over a ControlMaster (ControlPersist) that the first one
  opens inside the timing; with sudo, `sudo -S -p '' true` with the password on its stdin;
- `ansible-playbook` with `pipelining = True`, N `command: true` tasks (`become: true` with
  sudo), its own ControlPersist master opened inside the timing (ansible-core in .venv-bench).

each for N = 1 and N = 10, without and with sudo, over the proxy (`wan`) and straight to sshd
(`lo`). What a step costs is the difference: per step = (wall(10) - wall(1)) / 9, so start-up,
connection, lock and unlock drop out. Round trips per step = per step over the proxy / RTT, and
net of the time the host and the tools spend themselves: (per step wan - per step lo) / RTT.
The RTT is measured first: a TCP echo through a proxy like the one in front of sshd.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from benchmark import (
    BENCH_VENV,
    INV,
    BenchError,
    close_master,
    ensure_ansible,
    loadavg,
    precompile,
    versions,
)

from runbook.sandbox import Sandbox, free_port
from runbook.sandbox.delay import DelayProxy

SANDBOX_ADDRESS = "127.0.0.70"
PROXY_ADDRESS = "127.0.0.71"
ECHO_ADDRESS = "127.0.0.72"  # the calibration's echo server and its proxy
SIZES = (1, 10)
TOOLS = ("tool", "ssh", "ansible")
LINKS = ("wan", "lo")
GOAL_RATIO = 1.2
GOAL_RT = {False: 2.0, True: 3.0}  # round trips per step without sudo, with sudo


@dataclass
class Row:
    tool: str
    link: str
    sudo: bool
    steps: int
    measure: Callable[[], float]
    times: list[float] = field(default_factory=list)

    @property
    def median(self) -> float | None:
        return statistics.median(self.times) if self.times else None


# --- calibration -------------------------------------------------------------------------------


@contextlib.contextmanager
def echo_server(address: str) -> Iterator[tuple[str, int]]:
    """A TCP echo server in a daemon thread, for the calibration."""
    server = socket.socket()
    server.bind((address, 0))
    server.listen()

    def serve() -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = server.accept()
                threading.Thread(target=echo, args=(conn,), daemon=True).start()

    def echo(conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            while data := conn.recv(65536):
                conn.sendall(data)

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield server.getsockname()
    finally:
        server.close()


def ping(address: tuple[str, int], count: int = 21) -> float:
    """Median seconds for one byte there and back."""
    with socket.create_connection(address, timeout=5) as conn:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        times = []
        for _ in range(count):
            started = time.perf_counter()
            conn.sendall(b"x")
            if conn.recv(1) != b"x":
                raise BenchError("the calibration's echo came back wrong")
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def calibrate(delay: float) -> tuple[float, float]:
    """(RTT through a delay proxy, RTT straight), both measured with a TCP echo."""
    with echo_server(ECHO_ADDRESS) as echo, DelayProxy(echo, listen=ECHO_ADDRESS, delay=delay) as p:
        return ping((p.address, p.port)), ping(echo)


# --- the project -------------------------------------------------------------------------------


def runbook_text(steps: int, sudo: bool) -> str:
    lines = [
        f"name: wan{steps}",
        f"title: {steps} steps that do nothing{' (sudo)' if sudo else ''}",
        "description: scripts/benchmark.py --wan",
        "steps:",
    ]
    for i in range(1, steps + 1):
        lines += [f"  - id: s{i}", f"    title: step {i}", '    run: "true"']
        if sudo:
            lines.append("    sudo: true")
    return "\n".join(lines) + "\n"


def write_project(project: Path, box: Sandbox, proxy: DelayProxy, password: str | None) -> None:
    (project / "runbooks").mkdir(parents=True)
    for steps in SIZES:
        for sudo in (False, True):
            name = f"wan{steps}{'-sudo' if sudo else ''}"
            (project / "runbooks" / f"{name}.yaml").write_text(runbook_text(steps, sudo))
    entry = box.host_entry()
    known_hosts = project / "known_hosts"
    write_known_hosts(Path(entry["known_hosts"]), known_hosts, (proxy.address, proxy.port))
    base = {
        "user": entry["user"],
        "identity": entry["identity"],
        "sudo": bool(password),
        "lock": entry["lock"],
    }
    inventory = {
        "hosts": {
            "lo": {**base, "address": entry["address"], "port": entry["port"],
                   "known_hosts": entry["known_hosts"]},
            "wan": {**base, "address": proxy.address, "port": proxy.port,
                    "known_hosts": str(known_hosts)},
        }
    }  # fmt: skip
    (project / "hosts.yaml").write_text(json.dumps(inventory, indent=2) + "\n")  # JSON is YAML
    (project / "tasks.py").write_text("from runbook.tasks import ns\n\n__all__ = ['ns']\n")

    ansible_hosts = {}
    for name, host in inventory["hosts"].items():
        ansible_hosts[name] = {
            "ansible_host": host["address"],
            "ansible_port": host["port"],
            "ansible_user": host["user"],
            "ansible_ssh_private_key_file": host["identity"],
            "ansible_ssh_common_args": f"-o UserKnownHostsFile={host['known_hosts']} "
            "-o StrictHostKeyChecking=yes -o IdentitiesOnly=yes",
            "ansible_python_interpreter": "/usr/bin/python3",
            **({"ansible_become_password": password} if password else {}),
        }
    (project / "ansible-inventory.yml").write_text(
        json.dumps({"all": {"hosts": ansible_hosts}}, indent=2) + "\n"
    )
    (project / "ansible.cfg").write_text(
        "[defaults]\ninventory = ansible-inventory.yml\nhost_key_checking = True\n"
        "retry_files_enabled = False\n\n[ssh_connection]\npipelining = True\n"
    )
    for steps in SIZES:
        for sudo in (False, True):
            play = [
                {
                    "hosts": "all",
                    "gather_facts": False,
                    "become": sudo,
                    "tasks": [{"name": f"step {i}", "command": "true"} for i in range(steps)],
                }
            ]
            name = f"play{steps}{'-sudo' if sudo else ''}.yml"
            (project / name).write_text(json.dumps(play, indent=2) + "\n")


def write_known_hosts(source: Path, target: Path, proxy: tuple[str, int]) -> None:
    """The sandbox's host key under the proxy's address: the same key, checked as strictly."""
    first = next(line for line in source.read_text().splitlines() if line.strip())
    key = first.split(None, 1)[1]
    target.write_text(f"[{proxy[0]}]:{proxy[1]} {key}\n")


# --- running and timing ------------------------------------------------------------------------


def run(argv: list[str | Path], *, cwd: Path, env: dict[str, str], stdin: str = "") -> float:
    """Wall time of one whole process; BenchError with its output if it fails."""
    started = time.perf_counter()
    done = subprocess.run(
        [str(a) for a in argv],
        cwd=cwd,
        env=env,
        input=stdin.encode(),
        capture_output=True,
        check=False,
        timeout=300,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        out = (done.stdout + done.stderr).decode(errors="replace")[-3000:]
        raise BenchError(f"{' '.join(map(str, argv))} exited {done.returncode}:\n{out}")
    return elapsed


class Wan:
    def __init__(self, tmp: Path, project: Path, password: str | None) -> None:
        self.tmp = tmp
        self.project = project
        self.password = password
        self.inventory = json.loads((project / "hosts.yaml").read_text())["hosts"]
        self.sockets = tmp / "cm"
        self.sockets.mkdir()
        self.counter = 0
        env = dict(os.environ)
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # as a user's shell has it: .pyc caching on
        env.pop("RUNBOOK_DEBUG", None)
        env.update(
            RUNBOOK_STATE_DIR=str(project / ".runbook"), RUNBOOK_OPERATOR="bench", NO_COLOR="1"
        )
        if password:
            env["RUNBOOK_SUDO_PASSWORD"] = password
        self.env = env
        home = tmp / "ansible-home"
        self.env_ansible = {
            **env,
            "ANSIBLE_CONFIG": str(project / "ansible.cfg"),
            "ANSIBLE_HOME": str(home),
            "ANSIBLE_LOCAL_TEMP": str(home / "tmp"),
            "ANSIBLE_NOCOLOR": "1",
        }
        self.env_ansible.setdefault("LANG", "C.UTF-8")

    def tool(self, link: str, steps: int, sudo: bool) -> float:
        name = f"wan{steps}{'-sudo' if sudo else ''}"
        argv = [INV, "release", "--runbook", name, "--host", link, "--yes"]
        return run(argv, cwd=self.project, env=self.env)

    def ssh_base(self, link: str, control: Path) -> list[str]:
        host = self.inventory[link]
        return [
            "ssh", "-F", "/dev/null", "-i", host["identity"], "-o", "IdentitiesOnly=yes",
            "-o", f"UserKnownHostsFile={host['known_hosts']}", "-o", "StrictHostKeyChecking=yes",
            "-o", "BatchMode=yes", "-p", str(host["port"]), "-l", host["user"],
            "-o", "ControlMaster=auto", "-o", f"ControlPath={control}",
            "-o", "ControlPersist=60", host["address"],
        ]  # fmt: skip

    def ssh(self, link: str, steps: int, sudo: bool) -> float:
        """`steps` x `ssh HOST true` (or `sudo -S -p '' true`, the password on stdin) over one
        ControlMaster that the first of them opens, inside the timing."""
        self.counter += 1
        control = self.sockets / f"s{self.counter}"
        base = self.ssh_base(link, control)
        command = "sudo -S -p '' true" if sudo else "true"
        stdin = f"{self.password}\n" if sudo else ""
        try:
            started = time.perf_counter()
            for _ in range(steps):
                run([*base, command], cwd=self.tmp, env=self.env, stdin=stdin)
            return time.perf_counter() - started
        finally:
            close_master(control)

    def ansible(self, link: str, steps: int, sudo: bool) -> float:
        """One cold ansible-playbook (pipelining): its ControlPersist master new, closed after."""
        self.counter += 1
        control_dir = self.sockets / f"a{self.counter}"
        control_dir.mkdir()
        env = {**self.env_ansible, "ANSIBLE_SSH_CONTROL_PATH_DIR": str(control_dir)}
        play = f"play{steps}{'-sudo' if sudo else ''}.yml"
        argv = [BENCH_VENV / "bin" / "ansible-playbook", "--limit", link, play]
        try:
            return run(argv, cwd=self.project, env=env)
        finally:
            for sock in control_dir.iterdir():
                close_master(sock)


def build_rows(wan: Wan, ansible: str | None, sudo_cases: tuple[bool, ...]) -> list[Row]:
    rows = []
    for sudo in sudo_cases:
        for tool in TOOLS:
            if tool == "ansible" and not ansible:
                continue
            measure = getattr(wan, tool)
            for link in LINKS:
                for steps in SIZES:
                    rows.append(
                        Row(
                            tool,
                            link,
                            sudo,
                            steps,
                            lambda m=measure, a=(link, steps, sudo): m(*a),
                        )
                    )
    return rows


def measure(rows: list[Row], runs: int) -> None:
    """One warm-up round (not counted) then `runs` rounds, every row once per round."""
    for rnd in range(runs + 1):
        print(f"round {rnd}/{runs}{' (warm-up)' if rnd == 0 else ''} ...", flush=True)
        for row in rows:
            value = row.measure()
            if rnd:
                row.times.append(value)


# --- the report --------------------------------------------------------------------------------


LABELS = {
    "tool": "inv release",
    "ssh": "ssh loop (ControlMaster)",
    "ansible": "ansible-playbook (pipelining)",
}


def report(
    rows: list[Row],
    *,
    rtt: float,
    rtt_lo: float,
    runs: int,
    ansible: str | None,
    sudo_note: str,
    load: str,
) -> None:
    def med(tool: str, link: str, sudo: bool, steps: int) -> float | None:
        for r in rows:
            if (r.tool, r.link, r.sudo, r.steps) == (tool, link, sudo, steps):
                return r.median
        return None

    def per_step(tool: str, link: str, sudo: bool) -> float | None:
        one, many = med(tool, link, sudo, SIZES[0]), med(tool, link, sudo, SIZES[-1])
        if one is None or many is None:
            return None
        return (many - one) / (SIZES[-1] - SIZES[0])

    print(f"\nrelease-runbook over a slow link: medians of {runs} runs, whole processes")
    print(f"  {versions()}, ansible-core {ansible or 'absent'}; {os.cpu_count()} CPUs")
    print(
        f"  RTT (TCP echo, median of 21): {rtt * 1000:.1f} ms through the delay proxy, "
        f"{rtt_lo * 1000:.2f} ms on loopback"
    )
    print(f"  load average before / after: {load} / {loadavg()}")
    print(
        f"  per step = (wall {SIZES[-1]} steps - wall {SIZES[0]}) / {SIZES[-1] - SIZES[0]}: "
        "start-up, connection, lock and unlock drop out"
    )
    print(
        "  RT/step = per step over the proxy / RTT; net = (per step over the proxy - per step "
        "on loopback) / RTT: the round trips alone"
    )
    print(f"  {sudo_note}")
    for sudo in sorted({r.sudo for r in rows}):
        print(f"\n== {'with sudo (a password asked on every use)' if sudo else 'without sudo'}")
        header = (
            f"{'':<32}{'wall 10':>9}{'wall 1':>9}{'step ms':>9}{'RT/step':>9}{'net RT':>8}"
            f"{'x ssh':>8}{'x ssh wall':>11}{'lo step':>9}"
        )
        print(header)
        ssh_step = per_step("ssh", "wan", sudo)
        ssh_wall = med("ssh", "wan", sudo, SIZES[-1])
        for tool in TOOLS:
            wall = med(tool, "wan", sudo, SIZES[-1])
            if wall is None:
                if tool == "ansible":
                    print(f"{LABELS[tool]:<32}ansible not installed: see above")
                continue
            one = med(tool, "wan", sudo, SIZES[0]) or 0.0
            step = per_step(tool, "wan", sudo) or 0.0
            lo = per_step(tool, "lo", sudo) or 0.0
            ratio = step / ssh_step if ssh_step else float("nan")
            ratio_wall = wall / ssh_wall if ssh_wall else float("nan")
            print(
                f"{LABELS[tool]:<32}{wall:>9.2f}{one:>9.2f}{step * 1000:>9.1f}"
                f"{step / rtt:>9.2f}{(step - lo) / rtt:>8.2f}{ratio:>8.2f}{ratio_wall:>11.2f}"
                f"{lo * 1000:>9.1f}"
            )
        step, lo = per_step("tool", "wan", sudo), per_step("tool", "lo", sudo)
        if step is not None and lo is not None and ssh_step:
            net = (step - lo) / rtt
            ok_ratio, ok_rt = step / ssh_step <= GOAL_RATIO, net <= GOAL_RT[sudo]
            print(
                f"goal: the tool's step <= {GOAL_RATIO}x the ssh loop's: "
                f"{step / ssh_step:.2f}x {'met' if ok_ratio else 'NOT MET'}; "
                f"<= {GOAL_RT[sudo]:g} round trips per step: {net:.2f} "
                f"{'met' if ok_rt else 'NOT MET'}"
            )


# --- main --------------------------------------------------------------------------------------


def main(args: argparse.Namespace) -> int:
    runs, delay = args.runs, args.delay_ms / 1000
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if args.no_ansible:
        ansible = None
        ansible_note = "ansible-playbook skipped (--no-ansible)"
    else:
        ansible = ensure_ansible()
        ansible_note = (
            f"ansible-core {ansible} in {BENCH_VENV.name}"
            if ansible
            else f"ansible not installed: {BENCH_VENV}/bin/pip install ansible-core "
            f"(python3 -m venv {BENCH_VENV} first), or let this script do it with network access"
        )
    print(ansible_note, flush=True)
    precompile()
    rtt, rtt_lo = calibrate(delay)
    print(f"calibration: RTT {rtt * 1000:.1f} ms through the proxy ({rtt_lo * 1000:.2f} direct)")
    tmp = Path(tempfile.mkdtemp(prefix="rbwan-bench-", dir="/tmp"))
    tmp.chmod(0o755)  # sshd reads the authorized keys as the login user
    box = Sandbox(
        tmp / "sandbox",
        address=SANDBOX_ADDRESS,
        ssh_port=free_port(SANDBOX_ADDRESS),
        http_port=free_port(SANDBOX_ADDRESS),
        backend_port=free_port(SANDBOX_ADDRESS),
    )
    proxy = DelayProxy((SANDBOX_ADDRESS, box.ssh_port), listen=PROXY_ADDRESS, delay=delay)
    try:
        box.up()
        proxy.start()
        password = box.sudo_password
        sudo_cases = (False, True) if password else (False,)
        sudo_note = (
            f"sudo: the sandbox's login {box.user}, sudo with a password on every use"
            if password
            else "sudo rows: not available (not root: the sandbox has no sudo)"
        )
        write_project(tmp / "project", box, proxy, password)
        wan = Wan(tmp, tmp / "project", password)
        rows = build_rows(wan, ansible, sudo_cases)
        load = loadavg()
        measure(rows, runs)
        report(
            rows, rtt=rtt, rtt_lo=rtt_lo, runs=runs, ansible=ansible, sudo_note=sudo_note, load=load
        )
        if not ansible:
            print(ansible_note)
        return 0
    except BenchError as exc:
        print(f"\nbenchmark failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted: stopping the sandbox and the proxy", file=sys.stderr)
        return 130
    finally:
        for sock in (tmp / "cm").rglob("*") if (tmp / "cm").is_dir() else ():
            if sock.is_socket():
                close_master(sock)
        proxy.stop()
        box.down()
        shutil.rmtree(tmp, ignore_errors=True)
