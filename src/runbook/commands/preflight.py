"""`inv preflight`: can the release run? Checked on every host, read-only, nothing taken.

Each host is connected to exactly as the release connects (`fleet.connect_ssh`), then asked,
with scripts that only read (`stat`, `readlink`, `df`, `command -v`, `sudo -n true`), about
what the release will need: sudo, the files to back up, the backup directory and its room, the
`put` destinations, the lock, the commands the `run` steps name. The check URLs are tried from
this machine. Nothing is created, written or locked on any host: no `mkdir`, no lock, no file.

One line per check, grouped per host: `ok`, or the problem and how to fix it. Exit 0 when all
pass, 2 (`BAD_INPUT`: the release would be refused or fail, nothing ran) when any does not.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field

from ..console import Console
from ..core import scripts
from ..core.markers import LATE_OPEN
from ..core.model import Action, Host, Plan, PlannedStep
from ..core.window import clock_from, clock_text
from ..errors import BAD_INPUT, DONE, RunbookError
from ..execute import hostlock
from ..gate import has_terminal
from ..options import Options
from ..transport.base import SudoCredential, SudoError, Transport, sudo_password_env
from ..words import Said, Words
from .credentials import SudoPassword, check_identities, no_sudo_password_hint
from .fleet import connect_ssh
from .inputs import command_line, plans_for
from .preflight_scripts import DIR, FILE, PUT, shell
from .reachable import reachable
from .shellwords import command_names

Connect = Callable[[Host, SudoCredential | None], Transport]

CHECK_TIMEOUT = 20.0  # seconds for one read-only script on a host
MARGIN = 1.1  # room wanted in the backup directory: the files' sizes plus 10 % ...
SPARE_KIB = 1024  # ... plus 1 MiB
LATE_NOTE = Said("preflight.late")


# Words that start a line of shell but are not commands on the PATH.
# A finding's words: said by key in the operator's language, or a text from elsewhere (a
# connection's refusal, a host's output) said again where the catalog knows it.
Text = str | Said


@dataclass(frozen=True)
class Finding:
    """One check's outcome: `problem` None is ok (then `note` may say more)."""

    check: Text
    problem: Text | None = None
    hint: Text | None = None
    note: Text = ""

    @property
    def ok(self) -> bool:
        return self.problem is None


@dataclass
class HostReport:
    """What preflight found on one host, in the order it checked."""

    host: str
    findings: list[Finding] = field(default_factory=list)

    def add(self, check: Text, problem: Text | None = None, hint: Text | None = None) -> None:
        self.findings.append(Finding(check, problem, hint))

    def ok(self, check: Text, note: Text = "") -> None:
        self.findings.append(Finding(check, note=note))

    @property
    def passed(self) -> bool:
        return all(f.ok for f in self.findings)


def preflight(
    opts: Options,
    console: Console,
    *,
    connect: Connect = connect_ssh,
    interactive: bool | None = None,
) -> int:
    """`inv preflight`: check every host of --host the way the release will reach it."""
    *_, plans = plans_for(opts)
    check_identities(plans)
    interactive = has_terminal() if interactive is None else interactive
    reports = []
    words = console.words
    for plan in plans:
        console.say(words("preflight.head", runbook=plan.runbook, host=plan.host.name), "bold")
        report = check_host(plan, connect, interactive)
        _window(plan, report)
        for finding in report.findings:
            show(console, finding)
        reports.append(report)
    failed = [r.host for r in reports if not r.passed]
    if failed:
        again = command_line("preflight", opts)
        console.say(words("preflight.failed", hosts=words.join(failed), command=again), "red")
        return BAD_INPUT
    hosts = words.join(r.host for r in reports)
    release = command_line("release", opts)
    console.say(words("preflight.passed", hosts=hosts, command=release), "green")
    return DONE


def show(console: Console, finding: Finding) -> None:
    """One line per check (made visible by the console), its hint indented under it."""
    words = console.words
    check = _said(words, finding.check)
    if finding.ok:
        note = f" ({_said(words, finding.note)})" if finding.note else ""
        console.say(words("preflight.ok", check=check, note=note), "green")
        return
    problem = _said(words, finding.problem or "")
    console.say(words("preflight.problem", check=check, problem=problem), "red")
    if finding.hint:
        console.say(words("preflight.hint", hint=_said(words, finding.hint)))


def _said(words: Words, text: Text) -> str:
    return words(text) if isinstance(text, Said) else words.again(text)


# --- one host --------------------------------------------------------------------------------


def check_host(plan: Plan, connect: Connect, interactive: bool) -> HostReport:
    report = HostReport(plan.host.name)
    remote = [s for s in (*plan.steps, *plan.rollback) if not s.local]
    sudos = _distinct(s.sudo for s in remote if s.sudo)
    given = ("RUNBOOK_SUDO_PASSWORD", sudo_password_env(plan.host.name))
    available = any(os.environ.get(name) for name in given) or interactive
    credential = (
        SudoPassword(interactive, [plan]).for_host(plan.host.name) if sudos and available else None
    )
    try:
        transport = connect(plan.host, credential)
    except RunbookError as exc:
        report.add(Said("preflight.check.connect"), exc.message, exc.hint)
        report.add(Said("preflight.check.others"), Said("preflight.skipped.no-connection"))
        _urls(plan, report)
        return report
    report.ok(Said("preflight.check.connect"), _where(plan.host))
    try:
        usable = _sudo(transport, sudos, credential, available, report)
        _backups(transport, plan, usable, report)
        _puts(transport, plan, usable, report)
        _lock(transport, plan, report)
        _commands(transport, remote, usable, report)
    except RunbookError as exc:
        report.add(Said("preflight.check.remaining"), exc.message, exc.hint)
    finally:
        transport.close()
    _urls(plan, report)
    return report


def _window(plan: Plan, report: HostReport) -> None:
    """The booked window, read on the release's clock: closed now, the release would stop
    at its first gate."""
    window = plan.host.window
    if window is None:
        return
    check = Said("preflight.check.window", {"window": window.said()})
    try:
        now = clock_from(os.environ.get("RUNBOOK_NOW"))()
    except (ValueError, OSError) as exc:
        report.add(check, Said("preflight.window.bad-clock", {"why": str(exc)}))
        return
    there = clock_text(now, window.zone)
    if window.contains(now):
        report.ok(check, Said("preflight.window.open", {"there": there}))
        return
    opens = clock_text(window.next_opening(now)[0], window.zone)
    report.add(
        check,
        Said("preflight.window.closed", {"there": there, "opens": opens}),
        Said("preflight.window.hint"),
    )


def _where(host: Host) -> str:
    user = f"{host.user}@" if host.user else ""
    port = f":{host.port}" if host.port else ""
    return f"{user}{host.address}{port}"


def _distinct(values: Iterable[bool | str]) -> list[bool | str]:
    seen: list[bool | str] = []
    for v in values:
        if v not in seen:
            seen.append(v)
    return seen


def _as(sudo: bool | str) -> Text:
    return "root" if sudo is True else str(sudo) if sudo else Said("preflight.as.login-user")


def _run(transport: Transport, script: str, sudo: bool | str = False) -> tuple[int | None, str]:
    """A read-only script's exit status and its output (stdout, then stderr)."""
    result = transport.run(script, sudo=sudo, timeout=CHECK_TIMEOUT)
    return result.exit_code, (result.stdout + result.stderr).strip()


def _last(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1] if lines else "no output"


# --- sudo ------------------------------------------------------------------------------------


def _sudo(
    transport: Transport,
    sudos: Sequence[bool | str],
    credential: SudoCredential | None,
    available: bool,
    report: HostReport,
) -> set[bool | str]:
    """Which sudo users the steps can run as; one finding per user."""
    usable: set[bool | str] = set()
    for sudo in sudos:
        name = Said("preflight.check.sudo", {"user": _as(sudo)})
        user = "" if sudo is True else f"-u {shlex.quote(str(sudo))} "
        code, out = _run(transport, f"sudo -n {user}true")
        if code == 0:
            report.ok(name, Said("preflight.sudo.no-password-needed"))
            usable.add(sudo)
            continue
        if "password" not in out:  # "a password is required"
            report.add(
                name,
                Said("preflight.sudo.refuses", {"last": _last(out)}),
                Said("preflight.sudo.refuses-hint"),
            )
            continue
        if not available or credential is None:
            report.add(
                name,
                Said("preflight.sudo.no-password"),
                no_sudo_password_hint(report.host),
            )
            continue
        try:
            result = transport.run("true", sudo=sudo, timeout=CHECK_TIMEOUT)
        except SudoError as exc:
            report.add(name, exc.message, exc.hint)
            continue
        if result.exit_code != 0:
            report.add(name, Said("preflight.sudo.failed", {"last": _last(result.stderr)}))
            continue
        report.ok(name, Said("preflight.sudo.accepted"))
        usable.add(sudo)
    return usable


def _not_checkable(
    report: HostReport,
    check: Said,
    value: str,
    sudo: bool | str = False,
    usable: Collection[bool | str] = (),
) -> bool:
    """Said and True when `value` is known only as the step runs (a late value), or the step's
    sudo user cannot be used here: nothing to ask the host."""
    if LATE_OPEN in value:
        report.ok(check, LATE_NOTE)
        return True
    if sudo and sudo not in usable:
        _skipped(report, check, sudo)
        return True
    return False


def _skipped(report: HostReport, check: Text, sudo: bool | str) -> None:
    report.add(check, Said("preflight.skipped.sudo", {"user": _as(sudo)}))


# --- backups ---------------------------------------------------------------------------------


def _backups(transport: Transport, plan: Plan, usable: set[bool | str], report: HostReport) -> None:
    sizes: dict[bool | str, int] = {}
    for step in plan.steps:
        if step.action != Action.BACKUP or step.local:
            continue
        for path in step.paths:
            check = Said("preflight.check.backup", {"path": path, "step": step.id})
            if _not_checkable(report, check, path, step.sudo, usable):
                continue
            code, out = _run(transport, shell(FILE, path=shlex.quote(path)), step.sudo)
            if code != 0:
                report.add(
                    check,
                    _last(out),
                    Said("preflight.backup.hint"),
                )
                continue
            size = int(out.split()[-1]) if out.split() and out.split()[-1].isdigit() else 0
            sizes[step.sudo] = sizes.get(step.sudo, 0) + size
            readable = {"size": size, "user": _as(step.sudo)}
            report.ok(check, Said("preflight.backup.readable", readable))
    for sudo, total in sizes.items():
        _backup_dir(transport, plan, sudo, total, report)


def _backup_dir(
    transport: Transport, plan: Plan, sudo: bool | str, total: int, report: HostReport
) -> None:
    given = plan.host.backup_dir
    shown = given or Said("preflight.dir.default")
    check = Said("preflight.check.backup-dir", {"dir": shown, "user": _as(sudo)})
    where = scripts.backup_dir_shell(given)
    script = shell(DIR, guard=scripts.dir_guard("backup directory"), dir=where)
    code, out = _run(transport, script, sudo)
    lines = dict(ln.split(" ", 1) for ln in out.splitlines() if ln.startswith(("dir ", "avail ")))
    if code != 0 or "avail" not in lines:
        report.add(
            check,
            _last(out),
            Said("preflight.backup-dir.hint"),
        )
        return
    need = int(total * MARGIN) // 1024 + SPARE_KIB
    avail = int(lines["avail"]) if lines["avail"].strip().isdigit() else 0
    check = Said("preflight.check.backup-dir", {"dir": lines.get("dir", given), "user": _as(sudo)})
    if avail < need:
        report.add(
            check,
            Said("preflight.backup-dir.short", {"avail": avail, "need": need}),
            Said("preflight.backup-dir.short-hint"),
        )
        return
    report.ok(check, Said("preflight.backup-dir.ok", {"avail": avail, "total": total}))


# --- puts ------------------------------------------------------------------------------------


def _puts(transport: Transport, plan: Plan, usable: set[bool | str], report: HostReport) -> None:
    for step in plan.steps:
        if step.action != Action.PUT or step.put is None or step.local:
            continue
        dest = step.put.dest
        check = Said("preflight.check.put", {"dest": dest, "step": step.id})
        if _not_checkable(report, check, dest, step.sudo, usable):
            continue
        folder = os.path.dirname(dest) or "/"
        code, out = _run(transport, shell(PUT, folder=shlex.quote(folder)), step.sudo)
        if code != 0:
            report.add(
                check,
                _last(out),
                Said("preflight.put.hint"),
            )
        else:
            report.ok(check, Said("preflight.put.ok", {"folder": folder, "user": _as(step.sudo)}))


# --- the lock --------------------------------------------------------------------------------


def _lock(transport: Transport, plan: Plan, report: HostReport) -> None:
    lock = plan.host.lock
    q = shlex.quote(lock)
    record = shlex.quote(f"{lock}/{scripts.HOLDER}")
    parent = shlex.quote(os.path.dirname(lock) or "/")
    shown_parent, shown_lock = scripts.shell_text(os.path.dirname(lock)), scripts.shell_text(lock)
    script = "\n".join(
        [
            f"if [ -e {q} ] || [ -L {q} ]; then",
            f'  echo "owner $(stat -c %U {q})"',
            f"  if [ -d {q} ] && [ ! -L {q} ] && [ -f {record} ]; then cat {record}; fi",
            f"  exit {scripts.LOCK_HELD}",
            "fi",
            f'[ -d {parent} ] || {{ echo "{shown_parent} does not exist"; '
            f"exit {scripts.CANNOT_LOCK}; }}",
            f'[ -w {parent} ] || {{ echo "$(id -un) cannot create {shown_lock}"; '
            f"exit {scripts.CANNOT_LOCK}; }}",
        ]
    )
    code, out = _run(transport, script)
    check = Said("preflight.check.lock", {"lock": lock})
    if code == 0:
        report.ok(check, Said("preflight.lock.free"))
    elif code == scripts.LOCK_HELD:
        owner, holder = hostlock.parse_lock(out)
        if hostlock.is_holder(holder):
            run = holder.get("run", "RUN_ID")
            report.add(
                check,
                Said("preflight.lock.held", {"holder": hostlock.describe_holder(holder)}),
                Said("preflight.lock.held-hint", {"run": run, "break_run": run}),
            )
        else:
            report.add(
                check,
                Said("preflight.lock.not-ours", {"owner": owner or "?"}),
                Said("preflight.lock.not-ours-hint"),
            )
    else:
        report.add(
            check,
            _last(out),
            Said("error.lock.cannot-create-hint"),
        )


# --- commands --------------------------------------------------------------------------------


def _commands(
    transport: Transport, steps: Sequence[PlannedStep], usable: set[bool | str], report: HostReport
) -> None:
    wanted: dict[bool | str, list[str]] = {}
    for step in steps:
        if step.action != Action.RUN or not step.command:
            continue
        for name in command_names(step.command):
            if name not in wanted.setdefault(step.sudo, []):
                wanted[step.sudo].append(name)
    for sudo, names in wanted.items():
        check = Said("preflight.check.commands", {"user": _as(sudo)})
        if sudo and sudo not in usable:
            _skipped(report, check, sudo)
            continue
        script = (
            f"for n in {' '.join(shlex.quote(n) for n in names)}; do "
            'command -v "$n" >/dev/null 2>&1 || echo "missing $n"; done'
        )
        code, out = _run(transport, script, sudo)
        missing = [
            ln.removeprefix("missing ") for ln in out.splitlines() if ln.startswith("missing ")
        ]
        if code != 0:
            report.add(check, _last(out))
        elif missing:
            report.add(
                check,
                Said(
                    "preflight.commands.missing",
                    {"missing": ", ".join(missing), "names": ", ".join(names)},
                ),
                Said("preflight.commands.missing-hint"),
            )
        else:
            report.ok(check, ", ".join(names))


# --- check URLs ------------------------------------------------------------------------------


def _urls(plan: Plan, report: HostReport) -> None:
    seen: set[str] = set()
    for step in (*plan.steps, *plan.rollback):
        if step.action != Action.CHECK or step.check is None or step.check.url in seen:
            continue
        url = step.check.url
        seen.add(url)
        check = Said("preflight.check.url", {"url": url, "step": step.id})
        if _not_checkable(report, check, url):
            continue
        problem = reachable(url)
        if problem:
            report.add(
                check,
                problem,
                Said("preflight.url.hint"),
            )
        else:
            report.ok(check, Said("preflight.url.answers"))
