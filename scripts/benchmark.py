"""Speed benchmark for developers (issue 5, "Speed"): not part of the test suite.

    .venv/bin/python scripts/benchmark.py [--runs 5] [--hosts 1,8,32] [--no-ansible]
                                          [--no-sequential] [--profile] [--keep]
    .venv/bin/python scripts/benchmark.py --output-flood [--flood-mb 200] [--runs 3]
    .venv/bin/python scripts/benchmark.py --wan [--runs 3] [--no-ansible] [--delay-ms 25]
                                          [--baseline REF]

Run from anywhere, as root (or as an ordinary user: then you are the login user). It

- starts its own sshd hosts on loopback (127.0.0.11, 127.0.0.12, ...: one sshd, host key and
  port each; one client key and known_hosts file; login user `rbbench` with a plain home, kept
  between runs) with scripts/bench_hosts.py, and stops them however it ends (Ctrl-C too);
- writes a temporary project: runbooks/bench.yaml (10 steps `run: "true"`, each behind a gate
  that `--yes` answers), hosts.yaml (h1..hN, `sudo: false`, a lock path per host, groups
  fleetN), tasks.py (`from runbook.tasks import ns`), and the same ten tasks as an Ansible play;
- times whole processes as a user runs them (wall time of the subprocess), interleaved run by
  run, and prints medians, ratios and the goals of issue 5, each met or not:
    1. `inv release --host h1 --yes` vs the ten commands by `ssh` over a ControlMaster
       connection (with and without the master's set-up) vs `ansible-playbook`
       (ansible-core in a separate venv, .venv-bench, created on first use);
    2. the runbook to every --hosts count with `--parallel N` (if `inv -h release` has it),
       and host by host;
    3. `inv check` and `inv show --host h1` against `python -c pass`.
- `--profile`: also where one `inv release --host h1` spends its time (cProfile of the
  console script, `-X importtime`, the journal's step durations).
- `--output-flood`: instead of all that, a host that prints `--flood-mb` MB without a newline
  (`head -c 200M /dev/zero`): seconds and peak RSS of `Transport.run` (with `on_output`, in a
  process of its own, peak RSS from getrusage) against `ssh HOST 'head -c 200M /dev/zero'`.
  Information, not a test: the suite asserts the bound (tests/e2e/test_hardening_transport.py).
- `--wan`: instead of all that, the same release over a link of 50 ms round trip (a delay proxy
  in front of a sandbox's sshd) against an ssh ControlMaster loop and ansible-playbook with
  pipelining, without and with sudo, as round trips per step: see scripts/bench_wan.py.

Columns: median, min and max wall time; `cpu s` the CPU time of the measured processes and
`hosts cpu` that of the sshd's and their sessions. The hosts share this machine's CPUs, so for
the fleet rows a "CPU floor" line says the least time the CPU work allows here. Other work on
the machine inflates every row: the load average is printed; prefer an idle machine.

.pyc caching: this environment sets PYTHONDONTWRITEBYTECODE=1, so the project's own modules
(src/runbook, an editable install) are compiled on every start. The benchmark runs
`compileall` once over src/ and the venvs and unsets the variable for the measured processes,
as a user's shell would have it; one extra row shows `inv check` without the cache.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pstats
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_hosts import Hosts

REPO = Path(__file__).resolve().parents[1]
VENV = REPO / ".venv"
BENCH_VENV = REPO / ".venv-bench"
PYTHON = VENV / "bin" / "python"
INV = VENV / "bin" / "inv"
RUNBOOK = VENV / "bin" / "runbook"
STEPS = 10


class BenchError(Exception):
    pass


# --- the temporary project ---------------------------------------------------------------------


def write_project(project: Path, hosts: Hosts, groups: list[int]) -> None:
    (project / "runbooks").mkdir(parents=True)
    lines = [
        "name: bench",
        "title: Ten steps that do nothing",
        "description: scripts/benchmark.py",
        "steps:",
    ]
    for i in range(1, STEPS + 1):
        lines += [f"  - id: s{i}", f"    title: step {i}", '    run: "true"']
    (project / "runbooks" / "bench.yaml").write_text("\n".join(lines) + "\n")

    locks = project.parent / "locks"
    locks.mkdir()
    with contextlib.suppress(KeyError, PermissionError):
        import pwd

        login = pwd.getpwnam(hosts.user)
        os.chown(locks, login.pw_uid, login.pw_gid)
    inventory = {
        "defaults": {
            "user": hosts.user,
            "identity": str(hosts.client_key),
            "known_hosts": str(hosts.known_hosts),
            "sudo": False,
        },
        "hosts": {
            h.name: {"address": h.address, "port": h.port, "lock": str(locks / h.name)}
            for h in hosts.hosts
        },
        "groups": {f"fleet{n}": {"hosts": [h.name for h in hosts.hosts[:n]]} for n in groups},
    }
    # JSON is YAML: no PyYAML needed here.
    (project / "hosts.yaml").write_text(json.dumps(inventory, indent=2) + "\n")
    single = {**inventory, "hosts": {"h1": inventory["hosts"]["h1"]}, "groups": {}}
    (project / "hosts-1.yaml").write_text(json.dumps(single, indent=2) + "\n")
    (project / "tasks.py").write_text("from runbook.tasks import ns\n\n__all__ = ['ns']\n")

    # The same ten commands for Ansible, against the same hosts, login and host keys.
    ssh_args = (
        f"-o UserKnownHostsFile={hosts.known_hosts} -o StrictHostKeyChecking=yes "
        "-o IdentitiesOnly=yes"
    )
    ansible_hosts = {
        h.name: {
            "ansible_host": h.address,
            "ansible_port": h.port,
            "ansible_user": hosts.user,
            "ansible_ssh_private_key_file": str(hosts.client_key),
            "ansible_ssh_common_args": ssh_args,
            "ansible_python_interpreter": "/usr/bin/python3",
        }
        for h in hosts.hosts[:1]
    }
    (project / "ansible-inventory.yml").write_text(
        json.dumps({"all": {"hosts": ansible_hosts}}, indent=2) + "\n"
    )
    play = [
        {
            "hosts": "h1",
            "gather_facts": False,
            "tasks": [{"name": f"step {i}", "command": "true"} for i in range(1, STEPS + 1)],
        }
    ]
    (project / "play.yml").write_text(json.dumps(play, indent=2) + "\n")
    (project / "ansible.cfg").write_text(
        "[defaults]\ninventory = ansible-inventory.yml\nhost_key_checking = True\n"
        "retry_files_enabled = False\n"
    )


# --- running and timing ------------------------------------------------------------------------


def run(argv: list[str | Path], *, cwd: Path, env: dict[str, str]) -> float:
    """Wall time of one whole process; BenchError with its output if it fails."""
    started = time.perf_counter()
    done = subprocess.run(
        [str(a) for a in argv],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        out = (done.stdout + done.stderr).decode(errors="replace")[-3000:]
        raise BenchError(f"{' '.join(map(str, argv))} exited {done.returncode}:\n{out}")
    return elapsed


@dataclass
class Case:
    """One measured row: `measure()` returns seconds; None means not available."""

    key: str
    label: str
    measure: Callable[[], float | None]
    times: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)  # user + sys of the child processes
    host_cpu: list[float] = field(default_factory=list)  # the same of the sshd's
    missing: str = ""

    @property
    def median(self) -> float | None:
        return statistics.median(self.times) if self.times else None


class Bench:
    def __init__(self, args: argparse.Namespace, tmp: Path, hosts: Hosts) -> None:
        self.args = args
        self.tmp = tmp
        self.hosts = hosts
        self.project = tmp / "project"
        self.sockets = tmp / "cm"  # ControlMaster sockets, ours and Ansible's
        self.sockets.mkdir()
        self.counter = 0
        env = dict(os.environ)
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # as a user's shell has it: .pyc caching on
        env.pop("RUNBOOK_DEBUG", None)
        env.update(
            RUNBOOK_STATE_DIR=str(self.project / ".runbook"), RUNBOOK_OPERATOR="bench", NO_COLOR="1"
        )
        self.env = env
        # As this environment runs the tool: no bytecode written, none there for src/runbook
        # (a copy of src/ without __pycache__ shadows the editable install's path).
        plain = tmp / "src-no-pyc"
        shutil.copytree(REPO / "src", plain, ignore=shutil.ignore_patterns("__pycache__"))
        self.env_no_pyc = {**env, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": str(plain)}
        ansible_home = tmp / "ansible-home"
        self.env_ansible = {
            **env,
            "ANSIBLE_CONFIG": str(self.project / "ansible.cfg"),
            "ANSIBLE_HOME": str(ansible_home),
            "ANSIBLE_LOCAL_TEMP": str(ansible_home / "tmp"),
            "ANSIBLE_NOCOLOR": "1",
        }
        self.env_ansible.setdefault("LANG", "C.UTF-8")

    # -- the tool --------------------------------------------------------------------------

    def inv(self, *words: str, env: dict[str, str] | None = None) -> float:
        return run([INV, *words], cwd=self.project, env=env or self.env)

    def has_parallel(self) -> bool:
        done = subprocess.run(
            [str(INV), "-h", "release"],
            cwd=self.project,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )
        return "--parallel" in done.stdout

    # -- ssh with a ControlMaster ----------------------------------------------------------

    def ssh_base(self, control: Path | None) -> list[str]:
        h = self.hosts.hosts[0]
        argv = [
            "ssh",
            "-F",
            "/dev/null",
            "-i",
            str(self.hosts.client_key),
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            f"UserKnownHostsFile={self.hosts.known_hosts}",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "BatchMode=yes",
            "-p",
            str(h.port),
            "-l",
            self.hosts.user,
        ]
        if control is not None:
            argv += [
                "-o",
                "ControlMaster=auto",
                "-o",
                f"ControlPath={control}",
                "-o",
                "ControlPersist=60",
            ]
        return [*argv, h.address]

    def new_socket(self) -> Path:
        self.counter += 1
        return self.sockets / f"s{self.counter}"

    def ssh_loop(self, *, master_open: bool) -> float:
        """Ten `ssh HOST true` over one ControlMaster; its set-up timed unless master_open."""
        control = self.new_socket()
        base = self.ssh_base(control)
        try:
            if master_open:
                run([*base, "true"], cwd=self.tmp, env=self.env)
            started = time.perf_counter()
            for _ in range(STEPS):
                run([*base, "true"], cwd=self.tmp, env=self.env)
            return time.perf_counter() - started
        finally:
            close_master(control)

    def ssh_plain(self) -> float:
        base = self.ssh_base(None)
        started = time.perf_counter()
        for _ in range(STEPS):
            run([*base, "true"], cwd=self.tmp, env=self.env)
        return time.perf_counter() - started

    # -- ansible ---------------------------------------------------------------------------

    def ansible(self, *, pipelining: bool) -> float:
        """One cold ansible-playbook: its own ControlPersist master is new and closed after."""
        self.counter += 1
        control_dir = self.sockets / f"a{self.counter}"
        control_dir.mkdir()
        env = {
            **self.env_ansible,
            "ANSIBLE_SSH_CONTROL_PATH_DIR": str(control_dir),
            "ANSIBLE_PIPELINING": "True" if pipelining else "False",
        }
        try:
            return run(
                [BENCH_VENV / "bin" / "ansible-playbook", "play.yml"], cwd=self.project, env=env
            )
        finally:
            close_masters(control_dir)


def close_masters(folder: Path) -> None:
    """End every ssh ControlMaster whose socket is under `folder` (if it exists)."""
    for sock in folder.rglob("*") if folder.is_dir() else ():
        if sock.is_socket():
            close_master(sock)


def close_master(control: Path) -> None:
    if control.exists():
        subprocess.run(
            ["ssh", "-F", "/dev/null", "-o", f"ControlPath={control}", "-O", "exit", "bench"],
            capture_output=True,
            check=False,
            timeout=10,
        )


# --- set-up ------------------------------------------------------------------------------------


def precompile() -> str:
    """Write .pyc for src/ and the venvs once (compileall writes whatever the env says)."""
    targets = [str(REPO / "src"), str(_site_packages(VENV))]
    if (BENCH_VENV / "bin" / "python").exists():
        targets.append(str(_site_packages(BENCH_VENV)))
    subprocess.run(
        [str(PYTHON), "-m", "compileall", "-q", "-j", "0", *targets],
        capture_output=True,
        check=False,
    )
    return "src/, .venv" + (", .venv-bench" if len(targets) > 2 else "")


def _site_packages(venv: Path) -> Path:
    return next((venv / "lib").glob("python3*/site-packages"))


def ensure_ansible() -> str | None:
    """ansible-core in .venv-bench (never in the project's venv); its version, or None."""
    playbook = BENCH_VENV / "bin" / "ansible-playbook"
    if not playbook.exists():
        print(f"installing ansible-core into {BENCH_VENV} (once) ...", flush=True)
        base = subprocess.run(
            [str(PYTHON), "-c", "import sys; print(sys.base_prefix)"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        subprocess.run([f"{base}/bin/python3", "-m", "venv", str(BENCH_VENV)], check=True)
        (BENCH_VENV / ".gitignore").write_text("*\n")  # never committed by accident
        done = subprocess.run(
            [str(BENCH_VENV / "bin" / "pip"), "install", "-q", "ansible-core"],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            print(f"  could not install ansible-core:\n{done.stderr[-1500:]}")
            return None
    done = subprocess.run([str(playbook), "--version"], capture_output=True, text=True, check=False)
    first = done.stdout.splitlines()[0] if done.stdout else "?"
    return first.split("core", 1)[-1].strip(" []") if "core" in first else first


def versions() -> str:
    code = (
        "import sys, importlib.metadata as m; print(sys.version.split()[0], *("
        "f'{p} {m.version(p)}' for p in ('fabric', 'invoke', 'paramiko')), sep=', ')"
    )
    py = subprocess.run([str(PYTHON), "-c", code], capture_output=True, text=True, check=False)
    ssh = subprocess.run(["ssh", "-V"], capture_output=True, text=True, check=False)
    return f"python {py.stdout.strip()}, {ssh.stderr.split(',')[0].strip()}"


# --- the report --------------------------------------------------------------------------------


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def print_table(cases: list[Case]) -> None:
    width = max(len(c.label) for c in cases) + 2
    print(f"\n{'case':<{width}}{'median s':>10}{'min':>9}{'max':>9}{'cpu s':>9}{'hosts cpu':>11}")
    for c in cases:
        if not c.times:
            print(f"{c.label:<{width}}{c.missing or 'not measured':>10}")
            continue
        print(
            f"{c.label:<{width}}{fmt(c.median):>10}{fmt(min(c.times)):>9}"
            f"{fmt(max(c.times)):>9}{fmt(statistics.median(c.cpu)):>9}"
            f"{fmt(statistics.median(c.host_cpu)):>11}"
        )


def print_goals(by: dict[str, Case], fleet_sizes: list[int]) -> None:
    def m(key: str) -> float | None:
        case = by.get(key)
        return case.median if case else None

    def ratio(a: str, b: str) -> float | None:
        x, y = m(a), m(b)
        return x / y if x is not None and y else None

    rows: list[tuple[str, float | None, str, Callable[[float], bool], str]] = [
        (
            "release h1 / ssh ControlMaster loop incl. master set-up",
            ratio("release", "ssh_cm"),
            "<= 1.5x",
            lambda r: r <= 1.5,
            "x",
        ),
        (
            "release h1 / ssh ControlMaster loop, master already open (info)",
            ratio("release", "ssh_cm_open"),
            "",
            lambda r: True,
            "x",
        ),
        (
            "ansible-playbook / release h1",
            ratio("ansible", "release"),
            ">= 5x",
            lambda r: r >= 5,
            "x",
        ),
    ]
    for n, limit in ((8, 2.0), (32, 4.0)):
        if n in fleet_sizes:
            rows.append(
                (
                    f"release {n} hosts --parallel {n} / release h1",
                    ratio(f"par{n}", "release"),
                    f"<= {limit:g}x",
                    lambda r, lim=limit: r <= lim,
                    "x",
                )
            )
    for n in fleet_sizes:
        if n not in (8, 32):
            rows.append(
                (
                    f"release {n} hosts --parallel {n} / release h1 (info)",
                    ratio(f"par{n}", "release"),
                    "",
                    lambda r: True,
                    "x",
                )
            )
    rows.append(("inv check (1 host)", m("check"), "< 0.3 s", lambda v: v < 0.3, " s"))
    if "check_all" in by:
        rows.append(
            (
                f"inv check ({max(fleet_sizes)} hosts)",
                m("check_all"),
                "< 0.3 s",
                lambda v: v < 0.3,
                " s",
            )
        )
    width = max(len(r[0]) for r in rows) + 2
    print(f"\n{'goal':<{width}}{'value':>9}  {'goal':<9}met")
    for label, value, goal, ok, unit in rows:
        if value is None:
            print(f"{label:<{width}}{'n/a':>9}  {goal:<9}{'not available' if goal else ''}")
            continue
        shown = f"{value:.2f}{unit}"
        verdict = ("met" if ok(value) else "NOT MET") if goal else ""
        print(f"{label:<{width}}{shown:>9}  {goal:<9}{verdict}")


# --- profile -----------------------------------------------------------------------------------


def profile(bench: Bench) -> None:
    """Where one `runbook release --host h1 --yes` spends its time (main thread)."""
    out = bench.tmp / "release.prof"
    argv = [
        str(PYTHON),
        "-m",
        "cProfile",
        "-o",
        str(out),
        str(RUNBOOK),
        "release",
        "--host",
        "h1",
        "--yes",
    ]
    subprocess.run(argv, cwd=bench.project, env=bench.env, capture_output=True, check=True)
    stats = pstats.Stats(str(out)).stats  # type: ignore[attr-defined]
    total = max(v[3] for v in stats.values())

    def cum(path_end: str, name: str) -> tuple[int, float]:
        found = [
            (v[1], v[3]) for (f, _, n), v in stats.items() if f.endswith(path_end) and n == name
        ]
        return (found[0][0], found[0][1]) if found else (0, 0.0)

    print(
        "\n== cProfile of `runbook release --host h1 --yes`, main thread, cumulative ms "
        f"(profiling slows it: total {total * 1000:.0f} ms)"
    )
    for path_end, name, what in PROFILE_POINTS:
        calls, seconds = cum(path_end, name)
        if calls:
            print(f"{seconds * 1000:8.1f}  {calls:>4} x  {what}")

    done = subprocess.run(
        [str(PYTHON), "-X", "importtime", str(RUNBOOK), "release", "--host", "h1", "--yes"],
        cwd=bench.project,
        env=bench.env,
        capture_output=True,
        text=True,
        check=True,
    )
    rows = []
    for line in done.stderr.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            name = parts[2].rstrip()
            depth = (len(name) - len(name.lstrip())) // 2
            rows.append((int(parts[1]), depth, name.strip()))
    print("\n== -X importtime of the same command: biggest imports (depth <= 2), cumulative ms")
    for us, depth, name in sorted((r for r in rows if r[1] <= 2), reverse=True)[:25]:
        print(f"{us / 1000:8.1f}  {'  ' * depth}{name}")
    print(f"{sum(us for us, depth, _ in rows if depth == 0) / 1000:8.1f}  (all imports)")

    runs = sorted((bench.project / ".runbook" / "runs").glob("*.jsonl"))
    events = [json.loads(line) for line in runs[-1].read_text().splitlines()]
    durations = [e.get("duration", 0.0) for e in events if e["event"] == "step_end"]
    print(
        f"\n== journal of that run: {len(events)} events (one fsync each), {len(durations)} "
        f"steps, sum of step durations {sum(durations):.3f} s, median step "
        f"{statistics.median(durations) * 1000:.1f} ms"
    )


# (file suffix, function, what it is) for the profile's breakdown
PROFILE_POINTS = [
    ("runbook/tasks.py", "main", "console script: invoke Program, parse, run the task"),
    ("runbook/commands/fleet.py", "release", "commands.release (after the imports of tasks)"),
    ("runbook/commands/inputs.py", "plans_for", "load + validate + render the review plan"),
    ("runbook/core/plan.py", "make_plan", "render (review plan, then review + actual per host)"),
    ("jinja2/environment.py", "from_string", "Jinja compile of a template string"),
    ("runbook/execute/batch.py", "run_batch", "journals, connect + lock, steps, unlock, close"),
    ("runbook/transport/ssh.py", "connect", "SSH connect: TCP, kex, host key, auth"),
    ("runbook/execute/hostlock.py", "take", "take the host lock (1 remote command)"),
    ("runbook/transport/ssh.py", "run", "remote commands (lock, steps, unlock)"),
    ("runbook/execute/steps.py", "release", "execute.release: gates and steps"),
    ("runbook/execute/hostlock.py", "give_back", "release the host lock (1 remote command)"),
    ("runbook/journal/store.py", "write", "journal events (json + write + fsync)"),
    ("~", "<built-in method posix.fsync>", "fsync"),
]


# --- main --------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5, help="runs per case (median)")
    parser.add_argument("--hosts", default="1,8,32", help="fleet sizes, e.g. 1,8,32")
    parser.add_argument("--no-ansible", action="store_true", help="skip ansible-playbook")
    parser.add_argument(
        "--no-sequential",
        action="store_true",
        help="skip the host-by-host fleet rows (32 hosts take a while)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also profile one release to h1 (cProfile, importtime, journal)",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the temporary directory (hosts are stopped anyway)",
    )
    parser.add_argument(
        "--output-flood",
        action="store_true",
        help="only: a host printing --flood-mb MB without a newline, the tool against ssh",
    )
    parser.add_argument("--flood-mb", type=int, default=200, help="MB for --output-flood")
    parser.add_argument(
        "--wan",
        action="store_true",
        help="only: the tool, an ssh loop and ansible over a link of 50 ms round trip "
        "(scripts/bench_wan.py)",
    )
    parser.add_argument(
        "--delay-ms", type=float, default=25.0, help="--wan: the proxy's delay each way"
    )
    parser.add_argument(
        "--baseline",
        metavar="REF",
        help="--wan: also the tool as of git revision REF (e.g. main), for a before and after",
    )
    args = parser.parse_args(argv)
    args.sizes = sorted({int(x) for x in args.hosts.split(",") if x.strip()} | {1})
    if args.runs < 1 or min(args.sizes) < 1:
        parser.error("--runs and --hosts must be positive")
    return args


# --- output flood -------------------------------------------------------------------------------

FLOOD = """\
import json, resource, sys, time
from runbook.core.model import Host
from runbook.transport import connect

host, mb = Host(**json.loads(sys.argv[1])), int(sys.argv[2])
pieces = [0]

def on_output(stream, line):
    pieces[0] += 1

transport = connect(host)
started = time.monotonic()
result = transport.run(f"head -c {mb}M /dev/zero", on_output=on_output)
seconds = time.monotonic() - started
transport.close()
assert result.exit_code == 0, result.stderr
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "peak_mb": peak, "kept": len(result.stdout),
                  "pieces": pieces[0]}))
"""


def output_flood(args: argparse.Namespace, hosts: Hosts, tmp: Path) -> None:
    """`--output-flood`: the tool's Transport.run against plain ssh, for one flood."""
    h = hosts.hosts[0]
    host = {
        "name": h.name,
        "address": h.address,
        "port": h.port,
        "user": hosts.user,
        "identity": str(hosts.client_key),
        "known_hosts": [str(hosts.known_hosts)],
    }
    ssh = [
        "ssh", "-F", "/dev/null", "-i", str(hosts.client_key), "-o", "IdentitiesOnly=yes",
        "-o", f"UserKnownHostsFile={hosts.known_hosts}", "-o", "StrictHostKeyChecking=yes",
        "-o", "BatchMode=yes", "-p", str(h.port), "-l", hosts.user, h.address,
        f"head -c {args.flood_mb}M /dev/zero",
    ]  # fmt: skip
    tool: list[dict[str, float]] = []
    reference: list[tuple[float, float]] = []
    for rnd in range(args.runs + 1):
        print(f"round {rnd}/{args.runs}{' (warm-up)' if rnd == 0 else ''} ...", flush=True)
        done = subprocess.run(
            [str(PYTHON), "-c", FLOOD, json.dumps(host), str(args.flood_mb)],
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        if done.returncode != 0:
            raise BenchError(f"the tool's flood run failed:\n{done.stderr[-2000:]}")
        started = time.perf_counter()
        with subprocess.Popen(ssh, stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL) as proc:
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
        elapsed = time.perf_counter() - started
        if proc.returncode != 0:
            raise BenchError(f"{' '.join(ssh)} exited {proc.returncode}")
        if rnd:
            tool.append(json.loads(done.stdout))
            reference.append((elapsed, usage.ru_maxrss / 1024))
    print(
        f"\noutput flood: {args.flood_mb} MB without a newline, medians of {args.runs} runs "
        f"(load average {loadavg()})"
    )
    print(f"{'case':<58}{'seconds':>9}{'MB/s':>8}{'peak RSS MB':>13}")
    rows = [
        (
            "Transport.run (on_output, 1 MiB tail kept)",
            statistics.median(r["seconds"] for r in tool),
            statistics.median(r["peak_mb"] for r in tool),
        ),
        (
            f"ssh HOST 'head -c {args.flood_mb}M /dev/zero' > /dev/null",
            statistics.median(s for s, _ in reference),
            statistics.median(m for _, m in reference),
        ),
    ]
    for label, seconds, peak in rows:
        print(f"{label:<58}{seconds:>9.2f}{args.flood_mb / seconds:>8.0f}{peak:>13.0f}")
    last = tool[-1]
    print(
        f"  the tool kept {last['kept']} characters and handed on {last['pieces']} pieces "
        "(a line without end comes in 64 Ki pieces); its RSS includes Python, Fabric, paramiko"
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not INV.exists():
        print(f"no {INV}: create the project venv first (pip install -e .[test])")
        return 2
    if args.output_flood:
        return main_flood(args)
    if args.wan:
        import bench_wan  # imports this module: only now

        return bench_wan.main(args)
    # SIGTERM ends us like Ctrl-C: the finally below stops every sshd and master.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with it ignored
    ansible = None if args.no_ansible else ensure_ansible()
    compiled = precompile()
    tmp = Path(tempfile.mkdtemp(prefix="rbbench-", dir="/tmp"))
    tmp.chmod(0o755)  # sshd reads the authorized keys as the login user
    hosts = Hosts(tmp / "ssh", max(args.sizes))
    bench: Bench | None = None
    try:
        started = time.monotonic()
        hosts.start()
        print(
            f"{len(hosts.hosts)} sshd on {hosts.hosts[0].address}.. started in "
            f"{time.monotonic() - started:.2f} s; login {hosts.user}",
            flush=True,
        )
        fleets = [n for n in args.sizes if n > 1]
        write_project(tmp / "project", hosts, fleets)
        bench = Bench(args, tmp, hosts)
        parallel = bench.has_parallel()
        cases = build_cases(bench, args, fleets, parallel, ansible)
        load = loadavg()
        measure(cases, args.runs, hosts)
        report(cases, args, fleets, parallel, ansible, compiled, hosts.user, load)
        if args.profile:
            profile(bench)
        return 0
    except BenchError as exc:
        print(f"\nbenchmark failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted: stopping the hosts", file=sys.stderr)
        return 130
    finally:
        close_masters(tmp / "cm")
        hosts.stop()
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def main_flood(args: argparse.Namespace) -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGINT, signal.default_int_handler)
    tmp = Path(tempfile.mkdtemp(prefix="rbbench-", dir="/tmp"))
    tmp.chmod(0o755)  # sshd reads the authorized keys as the login user
    hosts = Hosts(tmp / "ssh", 1)
    try:
        hosts.start()
        output_flood(args, hosts, tmp)
        return 0
    except BenchError as exc:
        print(f"\nbenchmark failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted: stopping the host", file=sys.stderr)
        return 130
    finally:
        hosts.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def build_cases(
    bench: Bench, args: argparse.Namespace, fleets: list[int], parallel: bool, ansible: str | None
) -> list[Case]:
    cases = [
        Case(
            "python",
            "python -c pass",
            lambda: run([PYTHON, "-c", "pass"], cwd=bench.project, env=bench.env),
        ),
        Case(
            "check",
            "inv check (1 runbook, 1 host)",
            lambda: bench.inv("check", "--inventory", "hosts-1.yaml"),
        ),
        Case(
            "check_nopyc",
            "inv check (1 host), no .pyc for src/runbook (as this env runs)",
            lambda: bench.inv("check", "--inventory", "hosts-1.yaml", env=bench.env_no_pyc),
        ),
        *(
            [
                Case(
                    "check_all",
                    f"inv check (1 runbook, {len(bench.hosts.hosts)} hosts)",
                    lambda: bench.inv("check"),
                )
            ]
            if len(bench.hosts.hosts) > 1
            else []
        ),
        Case("show", "inv show --host h1", lambda: bench.inv("show", "--host", "h1")),
        Case(
            "dry",
            "inv release --host h1 --dry-run (no connection)",
            lambda: bench.inv("release", "--host", "h1", "--dry-run"),
        ),
        Case(
            "release",
            f"inv release --host h1 --yes ({STEPS} steps)",
            lambda: bench.inv("release", "--host", "h1", "--yes"),
        ),
        Case(
            "release_script",
            "runbook release --host h1 --yes (console script)",
            lambda: run(
                [RUNBOOK, "release", "--host", "h1", "--yes"], cwd=bench.project, env=bench.env
            ),
        ),
        Case(
            "ssh_cm",
            f"ssh x{STEPS}, ControlMaster, master set-up included",
            lambda: bench.ssh_loop(master_open=False),
        ),
        Case(
            "ssh_cm_open",
            f"ssh x{STEPS}, ControlMaster, master already open",
            lambda: bench.ssh_loop(master_open=True),
        ),
        Case("ssh_plain", f"ssh x{STEPS}, a new connection each", bench.ssh_plain),
    ]
    if ansible:
        cases += [
            Case(
                "ansible",
                f"ansible-playbook {STEPS} tasks (defaults, cold)",
                lambda: bench.ansible(pipelining=False),
            ),
            Case(
                "ansible_pipe",
                f"ansible-playbook {STEPS} tasks (pipelining=True, cold)",
                lambda: bench.ansible(pipelining=True),
            ),
        ]
    else:
        cases.append(
            Case(
                "ansible",
                "ansible-playbook",
                lambda: None,
                missing="skipped" if args.no_ansible else "not installed",
            )
        )
    for n in fleets:
        if parallel:
            cases.append(
                Case(
                    f"par{n}",
                    f"inv release --host fleet{n} --yes --parallel {n}",
                    lambda n=n: bench.inv(
                        "release", "--host", f"fleet{n}", "--yes", "--parallel", str(n)
                    ),
                )
            )
        else:
            cases.append(
                Case(
                    f"par{n}",
                    f"inv release --host fleet{n} --yes --parallel {n}",
                    lambda: None,
                    missing="not available",
                )
            )
        if not args.no_sequential:
            cases.append(
                Case(
                    f"seq{n}",
                    f"inv release --host fleet{n} --yes (host by host)",
                    lambda n=n: bench.inv("release", "--host", f"fleet{n}", "--yes"),
                )
            )
    return cases


def measure(cases: list[Case], runs: int, hosts: Hosts) -> None:
    """One warm-up (not counted) then `runs` rounds, every case once per round."""
    live = [c for c in cases if not c.missing]
    for rnd in range(runs + 1):
        print(f"round {rnd}/{runs}{' (warm-up)' if rnd == 0 else ''} ...", flush=True)
        for case in live:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            host_before = hosts.cpu_seconds()
            value = case.measure()
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            host_after = hosts.cpu_seconds()
            if value is None:
                case.missing = case.missing or "not available"
                continue
            if rnd:
                case.times.append(value)
                case.cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
                case.host_cpu.append(host_after - host_before)


def report(
    cases: list[Case],
    args: argparse.Namespace,
    fleets: list[int],
    parallel: bool,
    ansible: str | None,
    compiled: str,
    user: str,
    load: str,
) -> None:
    print(
        f"\nrelease-runbook benchmark: medians of {args.runs} runs, wall time of whole "
        "processes (seconds)"
    )
    print(f"  {versions()}, ansible-core {ansible or 'absent'}; {os.cpu_count()} CPUs")
    print(
        f"  .pyc caching ON: PYTHONDONTWRITEBYTECODE unset for the measured processes; "
        f"compileall run once over {compiled}"
    )
    print(
        f"  load average before / after: {load} / {loadavg()} (other work on the machine "
        "inflates every row)"
    )
    print(
        f"  hosts: sshd per address 127.0.0.11.., login {user}; runbook: "
        f'{STEPS} steps `run: "true"` with gates answered by --yes; the tool sends '
        f"{STEPS + 2} remote commands (lock, {STEPS} steps, unlock)"
    )
    print(
        "  ssh rows: ssh -F /dev/null, one `ssh HOST true` process per command; "
        "'master set-up included' = the first ssh opens the ControlMaster inside the timing"
    )
    print(
        "  ansible: cold run (its ControlPersist master is new each run and closed after), "
        "gather_facts: false, ansible_python_interpreter=/usr/bin/python3 (no discovery)"
    )
    print(
        f"  cpu s: user + sys CPU time of the measured processes (median); hosts cpu: the "
        "same of the sshd's and their sessions, which share this machine's "
        f"{os.cpu_count()} CPUs (real hosts would not)"
    )
    print(f"  --parallel in `inv -h release`: {'yes' if parallel else 'no (rows not available)'}")
    print_table(cases)
    by = {c.key: c for c in cases}
    print_goals(by, fleets)
    print_cpu_floor(by, fleets)


def print_cpu_floor(by: dict[str, Case], fleets: list[int]) -> None:
    """The hosts share this machine's CPUs: the least wall time the CPU work allows."""
    cpus = os.cpu_count() or 1
    one = by["release"].median if by.get("release") and by["release"].times else None
    for n in fleets:
        case = by.get(f"par{n}")
        if case is None or not case.times:
            continue
        tool, hosts = statistics.median(case.cpu), statistics.median(case.host_cpu)
        limit = {8: 2.0, 32: 4.0}.get(n)
        goal = (
            f"; the goal ({limit:g} x release h1) is {limit * one:.2f} s" if limit and one else ""
        )
        print(
            f"CPU floor, {n} hosts --parallel: tool {tool:.2f} s + hosts {hosts:.2f} s of CPU "
            f"on {cpus} CPUs: no run here can take less than {(tool + hosts) / cpus:.2f} s"
            f"{goal}"
        )


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    sys.exit(main())
