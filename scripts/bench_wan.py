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
The RTT is measured before every round: a TCP echo through a proxy like the one in front of
sshd (each proxy a process of its own, at nice -10 as root, so the load on the machine does not
lengthen the link much).
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
from functools import partial
from pathlib import Path
from xml.etree import ElementTree

from benchmark import (
    BENCH_VENV,
    INV,
    PYTHON,
    REPO,
    BenchError,
    close_master,
    close_masters,
    ensure_ansible,
    loadavg,
    precompile,
    versions,
)

from runbook.sandbox import Sandbox, free_port

SANDBOX_ADDRESS = "127.0.0.70"
PROXY_ADDRESS = "127.0.0.71"
ECHO_ADDRESS = "127.0.0.72"  # the calibration's echo server and its proxy
SIZES = (1, 10)
TOOLS = ("tool", "baseline", "ssh", "ansible")
LINKS = ("wan", "lo")
GOAL_RATIO = 1.2
GOAL_RT = {False: 2.0, True: 3.0}  # round trips per step without sudo, with sudo


@dataclass
class Row:
    """One measured case. `measure()` returns (wall time, the time of each step inside it)."""

    tool: str
    link: str
    sudo: bool
    steps: int
    measure: Callable[[], tuple[float, list[float]]]
    times: list[float] = field(default_factory=list)
    step_times: list[float] = field(default_factory=list)

    @property
    def median(self) -> float | None:
        return statistics.median(self.times) if self.times else None

    @property
    def step(self) -> float | None:
        return statistics.median(self.step_times) if self.step_times else None


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


class ProxyProcess:
    """A delay proxy (`python -m runbook.sandbox.delay`) in a process of its own, at a raised
    priority as root: the other work on this machine should not lengthen the link."""

    def __init__(self, upstream: tuple[str, int], listen: str, delay: float) -> None:
        argv = [
            str(PYTHON), "-m", "runbook.sandbox.delay", f"{listen}:0",
            f"{upstream[0]}:{upstream[1]}", f"{delay * 1000:g}",
        ]  # fmt: skip
        self.proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            start_new_session=True,  # Ctrl-C reaches us; we stop it
            preexec_fn=_raise_priority,
        )
        assert self.proc.stdout is not None
        first = self.proc.stdout.readline()  # "ADDRESS:PORT -> UPSTREAM, MS ms each way"
        if not first:
            raise BenchError("the delay proxy did not start")
        self.address, _, port = first.split()[0].rpartition(":")
        self.port = int(port)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def _raise_priority() -> None:
    with contextlib.suppress(OSError):  # not root: as it is
        os.nice(-10)


class Calibration:
    """The link's RTT: a TCP echo through a proxy like the one in front of sshd, measured
    before every round (the load on the machine changes), the median of all."""

    def __init__(self, delay: float) -> None:
        self._echo = echo_server(ECHO_ADDRESS)
        upstream = self._echo.__enter__()
        self.proxy = ProxyProcess(upstream, ECHO_ADDRESS, delay)
        self.direct = ping(upstream)
        self.samples: list[float] = []

    def measure(self) -> float:
        value = ping((self.proxy.address, self.proxy.port))
        self.samples.append(value)
        return value

    @property
    def rtt(self) -> float:
        return statistics.median(self.samples)

    def stop(self) -> None:
        self.proxy.stop()
        self._echo.__exit__(None, None, None)


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


def write_project(project: Path, box: Sandbox, proxy: ProxyProcess, password: str | None) -> None:
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

    def tool(
        self, link: str, steps: int, sudo: bool, *, src: Path | None = None
    ) -> tuple[float, list[float]]:
        """One release; its steps' times are the journal's (each from sending the command to
        its end: the tool's bookkeeping between steps is not in them). `src`: the package's
        source to run instead of this checkout's (--baseline)."""
        name = f"wan{steps}{'-sudo' if sudo else ''}"
        argv = [INV, "release", "--runbook", name, "--host", link, "--yes"]
        env = self.env if src is None else {**self.env, "PYTHONPATH": str(src)}
        wall = run(argv, cwd=self.project, env=env)
        runs = sorted(
            (self.project / ".runbook" / "runs").glob("*.jsonl"), key=lambda p: p.stat().st_mtime
        )
        events = [json.loads(line) for line in runs[-1].read_text().splitlines()]
        steps_done = [
            float(e["duration"])
            for e in events
            if e["event"] == "step_end" and e.get("phase", "steps") == "steps"
        ]
        if len(steps_done) != steps:
            raise BenchError(f"{runs[-1]}: {len(steps_done)} steps ended, not {steps}")
        return wall, steps_done

    def ssh_base(self, link: str, control: Path) -> list[str]:
        host = self.inventory[link]
        return [
            "ssh", "-F", "/dev/null", "-i", host["identity"], "-o", "IdentitiesOnly=yes",
            "-o", f"UserKnownHostsFile={host['known_hosts']}", "-o", "StrictHostKeyChecking=yes",
            "-o", "BatchMode=yes", "-p", str(host["port"]), "-l", host["user"],
            "-o", "ControlMaster=auto", "-o", f"ControlPath={control}",
            "-o", "ControlPersist=60", host["address"],
        ]  # fmt: skip

    def ssh(self, link: str, steps: int, sudo: bool) -> tuple[float, list[float]]:
        """`steps` x `ssh HOST true` (or `sudo -S -p '' true`, the password on stdin) over one
        ControlMaster that the first of them opens, inside the timing; the steps' times are
        those of the later ssh processes, over the open master."""
        self.counter += 1
        control = self.sockets / f"s{self.counter}"
        base = self.ssh_base(link, control)
        command = "sudo -S -p '' true" if sudo else "true"
        stdin = f"{self.password}\n" if sudo else ""
        try:
            each = [
                run([*base, command], cwd=self.tmp, env=self.env, stdin=stdin) for _ in range(steps)
            ]
            return sum(each), each[1:]
        finally:
            close_master(control)

    def ansible(self, link: str, steps: int, sudo: bool) -> tuple[float, list[float]]:
        """One cold ansible-playbook (pipelining): its ControlPersist master new, closed after;
        the steps' times are its junit callback's task times."""
        self.counter += 1
        control_dir = self.sockets / f"a{self.counter}"
        control_dir.mkdir()
        junit = self.tmp / f"junit{self.counter}"
        env = {
            **self.env_ansible,
            "ANSIBLE_SSH_CONTROL_PATH_DIR": str(control_dir),
            "ANSIBLE_CALLBACKS_ENABLED": "ansible.builtin.junit",
            "JUNIT_OUTPUT_DIR": str(junit),
        }
        play = f"play{steps}{'-sudo' if sudo else ''}.yml"
        argv = [BENCH_VENV / "bin" / "ansible-playbook", "--limit", link, play]
        try:
            wall = run(argv, cwd=self.project, env=env)
        finally:
            close_masters(control_dir)
        cases = [
            float(case.get("time", "nan"))
            for report in junit.glob("*.xml")
            for case in ElementTree.parse(report).getroot().iter("testcase")  # noqa: S314 (ours)
        ]
        if len(cases) != steps:
            raise BenchError(f"ansible's junit report has {len(cases)} tasks, not {steps}")
        return wall, cases


def build_rows(
    wan: Wan, ansible: str | None, sudo_cases: tuple[bool, ...], baseline: Path | None
) -> list[Row]:
    rows = []
    for sudo in sudo_cases:
        for tool in TOOLS:
            if (tool == "ansible" and not ansible) or (tool == "baseline" and not baseline):
                continue
            measure = getattr(wan, tool) if tool != "baseline" else partial(wan.tool, src=baseline)
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


def measure(rows: list[Row], runs: int, calibration: Calibration) -> None:
    """One warm-up round (not counted) then `runs` rounds, every row once per round; the RTT
    measured before each."""
    for rnd in range(runs + 1):
        rtt = calibration.measure()
        print(
            f"round {rnd}/{runs}{' (warm-up)' if rnd == 0 else ''}: RTT {rtt * 1000:.1f} ms ...",
            flush=True,
        )
        for row in rows:
            wall, steps = row.measure()
            if rnd:
                row.times.append(wall)
                row.step_times.extend(steps)


# --- the report --------------------------------------------------------------------------------


LABELS = {
    "tool": "inv release",
    "baseline": "inv release (--baseline)",
    "ssh": "ssh loop (ControlMaster)",
    "ansible": "ansible-playbook (pipelining)",
}


def report(
    rows: list[Row],
    *,
    rtt: float,
    rtt_lo: float,
    rtt_range: tuple[float, float],
    runs: int,
    ansible: str | None,
    sudo_note: str,
    load: str,
) -> None:
    def row(tool: str, link: str, sudo: bool, steps: int) -> Row | None:
        for r in rows:
            if (r.tool, r.link, r.sudo, r.steps) == (tool, link, sudo, steps):
                return r
        return None

    def step(tool: str, link: str, sudo: bool) -> float | None:
        times = [
            t for n in SIZES if (r := row(tool, link, sudo, n)) is not None for t in r.step_times
        ]
        return statistics.median(times) if times else None

    def wall(tool: str, sudo: bool, steps: int) -> float | None:
        r = row(tool, "wan", sudo, steps)
        return r.median if r is not None else None

    print(f"\nrelease-runbook over a slow link: medians of {runs} runs")
    print(f"  {versions()}, ansible-core {ansible or 'absent'}; {os.cpu_count()} CPUs")
    print(
        f"  RTT (TCP echo through a delay proxy, before every round): {rtt * 1000:.1f} ms, "
        f"{rtt_range[0] * 1000:.1f} to {rtt_range[1] * 1000:.1f} (loopback: "
        f"{rtt_lo * 1000:.2f} ms); the proxies run at nice -10 as root"
    )
    print(f"  load average before / after: {load} / {loadavg()}")
    print(
        "  step: the median time of one step inside a run over the proxy: the tool's journal "
        "(from sending the command to its end), each ssh over the open master, ansible's "
        "junit task times"
    )
    print(
        "  RT/step = step / RTT; net RT = (step over the proxy - step on loopback) / RTT: the "
        "round trips alone, without the time the host and the tools spend themselves"
    )
    print(
        f"  wall: whole processes ({SIZES[-1]} and {SIZES[0]} steps), the tool and ansible with "
        "their connection, the ssh loop with its master's; diff = (wall "
        f"{SIZES[-1]} - wall {SIZES[0]}) / {SIZES[-1] - SIZES[0]}, everything per step"
    )
    print(f"  {sudo_note}")
    for sudo in sorted({r.sudo for r in rows}):
        print(f"\n== {'with sudo (a password asked on every use)' if sudo else 'without sudo'}")
        print(
            f"{'':<32}{'step ms':>9}{'RT/step':>9}{'net RT':>8}{'x ssh':>7}{'lo ms':>8}"
            f"{'wall 10':>9}{'x ssh':>7}{'wall 1':>8}{'diff ms':>9}"
        )
        ssh_step, ssh_wall = step("ssh", "wan", sudo), wall("ssh", sudo, SIZES[-1])
        for tool in TOOLS:
            wan, lo = step(tool, "wan", sudo), step(tool, "lo", sudo)
            many, one = wall(tool, sudo, SIZES[-1]), wall(tool, sudo, SIZES[0])
            if wan is None or lo is None or many is None or one is None:
                if tool == "ansible":
                    print(f"{LABELS[tool]:<32}ansible not installed or skipped: see above")
                continue
            diff = (many - one) / (SIZES[-1] - SIZES[0])
            print(
                f"{LABELS[tool]:<32}{wan * 1000:>9.1f}{wan / rtt:>9.2f}{(wan - lo) / rtt:>8.2f}"
                f"{_ratio(wan, ssh_step):>7}{lo * 1000:>8.1f}{many:>9.2f}"
                f"{_ratio(many, ssh_wall):>7}{one:>8.2f}{diff * 1000:>9.1f}"
            )
        wan, lo = step("tool", "wan", sudo), step("tool", "lo", sudo)
        if wan is not None and lo is not None and ssh_step:
            # Round trips are whole: at one decimal, as well as the RTT's spread allows.
            net = round((wan - lo) / rtt, 1)
            ok_ratio, ok_rt = wan / ssh_step <= GOAL_RATIO, net <= GOAL_RT[sudo]
            print(
                f"goal: a step of the tool <= {GOAL_RATIO}x one of the ssh loop: "
                f"{wan / ssh_step:.2f}x {'met' if ok_ratio else 'NOT MET'}; "
                f"<= {GOAL_RT[sudo]:g} round trips per step: {net:.1f} "
                f"{'met' if ok_rt else 'NOT MET'}"
            )


def _ratio(value: float, reference: float | None) -> str:
    return f"{value / reference:.2f}" if reference else "-"


def export_source(ref: str, tmp: Path) -> Path:
    """src/ of git revision `ref` of this repository, for the --baseline rows."""
    target = tmp / "baseline"
    target.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", ref, "src"], capture_output=True, check=False
    )
    if archive.returncode != 0:
        raise BenchError(f"git archive {ref}: {archive.stderr.decode(errors='replace')}")
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    return target / "src"


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
    tmp = Path(tempfile.mkdtemp(prefix="rbwan-bench-", dir="/tmp"))
    tmp.chmod(0o755)  # sshd reads the authorized keys as the login user
    box = Sandbox(
        tmp / "sandbox",
        address=SANDBOX_ADDRESS,
        ssh_port=free_port(SANDBOX_ADDRESS),
        http_port=free_port(SANDBOX_ADDRESS),
        backend_port=free_port(SANDBOX_ADDRESS),
    )
    calibration: Calibration | None = None
    proxy: ProxyProcess | None = None
    try:
        calibration = Calibration(delay)
        box.up()
        proxy = ProxyProcess((SANDBOX_ADDRESS, box.ssh_port), PROXY_ADDRESS, delay)
        password = box.sudo_password
        sudo_cases = (False, True) if password else (False,)
        sudo_note = (
            f"sudo: the sandbox's login {box.user}, sudo with a password on every use"
            if password
            else "sudo rows: not available (not root: the sandbox has no sudo)"
        )
        write_project(tmp / "project", box, proxy, password)
        wan = Wan(tmp, tmp / "project", password)
        baseline = export_source(args.baseline, tmp) if args.baseline else None
        LABELS["baseline"] = f"inv release at {args.baseline}"
        rows = build_rows(wan, ansible, sudo_cases, baseline)
        load = loadavg()
        measure(rows, runs, calibration)
        calibration.measure()
        report(
            rows,
            rtt=calibration.rtt,
            rtt_lo=calibration.direct,
            rtt_range=(min(calibration.samples), max(calibration.samples)),
            runs=runs,
            ansible=ansible,
            sudo_note=sudo_note,
            load=load,
        )
        if not ansible:
            print(ansible_note)
        return 0
    except BenchError as exc:
        print(f"\nbenchmark failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted: stopping the sandbox and the proxies", file=sys.stderr)
        return 130
    finally:
        close_masters(tmp / "cm")
        for running in (proxy, calibration):
            if running is not None:
                running.stop()
        box.down()
        shutil.rmtree(tmp, ignore_errors=True)
