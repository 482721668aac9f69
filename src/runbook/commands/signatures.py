"""Signed approvals: `inv approve`, and the signatures a release with `approval:` needs.

A host or group may set `approval: {signers: FILE, required: N}`, FILE an OpenSSH
allowed_signers file. A reviewer, after reading `inv show`, signs the plan's digest with
`inv approve` (`ssh-keygen -Y sign`, namespace `release-runbook`); the release then runs only
with N good signatures over that very digest by N distinct principals of FILE, none of them
the operator. Refusals name which signatures do not count and why.

What is signed is a short canonical text naming the runbook, the target (`--host`, a host or
a group), the digest (a group's digest for a group) and the signing time:

    release-runbook approval v1
    runbook: nginx-websocket
    target: prod
    digest: sha256:<64 hex digits>
    signed-at: 2024-04-16T12:00:00+00:00

A signature over another digest therefore never verifies for this one. The file
`approvals/<runbook>/<digest>.<principal>.sig` in the project holds that text followed by the
armored signature, so it can be committed with the runbook and checked by hand with
`ssh-keygen -Y verify`. Files are judged by what they say, not by their names. The approvals
are not part of the plan: signing never changes the digest.

The operator: `RUNBOOK_OPERATOR` and the login name (both, so that setting the variable does
not make one's own signature count). A principal is the operator's when its user name, the
part before any `@`, is one of those, ignoring case: `sato` and `sato@example.com` are both
Sato's.
"""

from __future__ import annotations

import contextlib
import getpass
import itertools
import os
import re
import stat
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..core.model import Approval, Plan
from ..errors import RefusedError
from ..gate import has_terminal
from ..journal.events import Approver, now_iso
from ..options import Options
from . import sshkeygen
from .approval import digest_of
from .credentials import operator
from .inputs import command_line, display, plans_for

FOLDER = "approvals"
HEADER = "release-runbook approval v1"
BEGIN = "-----BEGIN SSH SIGNATURE-----"
MAX_FILE_BYTES = 64 * 1024
MAX_FILES = 1000  # of one runbook's folder; more is not a folder of approvals
MAX_OTHER_PLANS = 10  # signatures over other digests checked, newest first, to name them
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_DIGEST = re.compile(r"[0-9a-f]{64}")
_PATTERN = re.compile(r"[*?!]")


# --- what is signed --------------------------------------------------------------------------


@dataclass(frozen=True)
class Message:
    """The text a reviewer signs: which runbook, for which target, which digest, when."""

    runbook: str
    target: str
    digest: str
    signed_at: str

    def text(self) -> str:
        return (
            f"{HEADER}\nrunbook: {self.runbook}\ntarget: {self.target}\n"
            f"digest: sha256:{self.digest}\nsigned-at: {self.signed_at}\n"
        )

    @classmethod
    def parse(cls, text: str) -> Message:
        """The message of `text`, which must be exactly as `text()` writes it (ValueError)."""
        lines = text.split("\n")
        keys = ("runbook: ", "target: ", "digest: sha256:", "signed-at: ")
        if len(lines) != 6 or lines[0] != HEADER or lines[5]:
            raise ValueError(f"it does not start with the lines of a {HEADER!r} text")
        values = []
        for line, key in zip(lines[1:5], keys, strict=True):
            if not line.startswith(key):
                raise ValueError(f"expected {key.strip()!r}, found {line[:40]!r}")
            values.append(line.removeprefix(key))
        runbook, target, digest, signed_at = values
        if not (_NAME.fullmatch(runbook) and _NAME.fullmatch(target)):
            raise ValueError("its runbook or target is not a name")
        if not _DIGEST.fullmatch(digest):
            raise ValueError("its digest is not 64 hex digits")
        try:
            when = datetime.fromisoformat(signed_at)
        except ValueError:
            when = None
        if when is None or when.tzinfo is None:
            raise ValueError("its signed-at is not a time with a zone")
        return cls(runbook, target, digest, signed_at)


@dataclass(frozen=True)
class SignedFile:
    """A file of `approvals/`: the message and the armored signature over it."""

    path: Path
    message: Message
    signature: str


@dataclass(frozen=True)
class NotCounted:
    """A signature file that does not count, and why."""

    file: str
    reason: str


@dataclass(frozen=True)
class Status:
    """Where the approval of some hosts stands: who signed this digest, what does not count.

    Attributes:
        hosts: the hosts of the target that share this `approval:` setting.
        signers: the allowed_signers file, as shown to the user.
        approvers: good signatures over the digest by distinct principals, not the operator.
        not_counted: the files that do not count, with the reason.
        problem: why the signatures could not be checked at all (no signers file...).
    """

    hosts: tuple[str, ...]
    signers: str
    required: int
    approvers: tuple[Approver, ...] = ()
    not_counted: tuple[NotCounted, ...] = ()
    problem: str = ""
    operators: tuple[str, ...] = ()

    @property
    def missing(self) -> int:
        return max(0, self.required - len(self.approvers))

    @property
    def ok(self) -> bool:
        return not self.problem and not self.missing


# --- the operator ------------------------------------------------------------------------------


def operator_names() -> tuple[str, ...]:
    """Who runs the release: RUNBOOK_OPERATOR and the login name, when they differ."""
    names = [operator()]
    with contextlib.suppress(OSError, KeyError):
        names.append(getpass.getuser())
    return tuple(dict.fromkeys(n for n in names if n))


def is_operator(principal: str, operators: Iterable[str]) -> bool:
    """Is `principal` one of `operators`? Compared by user name (before `@`), ignoring case."""
    mine = principal.partition("@")[0].casefold()
    return any(mine == name.partition("@")[0].casefold() for name in operators)


# --- the commands ------------------------------------------------------------------------------


def approve(opts: Options, *, key: str | None, terminal: bool | None = None) -> str:
    """`inv approve`: sign the digest `inv show` prints for --host; write it under approvals/."""
    runbook, _, _, plans = plans_for(opts)
    target = opts.host or plans[0].host.name
    message = Message(runbook.name, target, digest_of(plans), now_iso())
    terminal = has_terminal() if terminal is None else terminal
    settings = _settings(plans)
    with tempfile.TemporaryDirectory(prefix="runbook-approve-") as tmp:
        folder = Path(tmp)
        signing_key, shown = _signing_key(key, opts.project, settings, folder)
        text = folder / "approval.txt"
        text.write_text(message.text(), encoding="utf-8")
        signature = sshkeygen.sign(signing_key, text, shown_key=shown, terminal=terminal)
        (folder / "approval.sig").write_text(signature, encoding="ascii")
        made = sshkeygen.check_signature(folder / "approval.sig", message.text().encode())
        principal = ""
        for approval in settings:
            signers = Path(approval.signers)
            if signers.is_file():
                found, _ = sshkeygen.find_principals(signers, folder / "approval.sig")
                principal = next(iter(found), "")
                if principal:
                    break
    name = _file_name(principal or made.fingerprint or "unknown-key")
    path = opts.project / FOLDER / runbook.name / f"{message.digest}.{name}.sig"
    _write(path, message.text() + signature)
    shown_path = display(path, opts.project)
    out = [
        f"signed the plan of {runbook.name} for {target}, digest sha256:{message.digest}",
        f"  by {principal or 'a key no signers file lists'} ({made.fingerprint or '?'}) "
        f"at {message.signed_at}",
        f"  written to {shown_path} (commit it with the runbook)",
        "  the text signed:",
        *(f"    {line}" for line in message.text().splitlines()),
    ]
    if not settings:
        out.append(
            f"note: no host of {target} sets approval:, so its releases do not check "
            "signatures (yet)"
        )
    elif not principal:
        files = ", ".join(display(Path(a.signers), opts.project) for a in settings)
        out.append(
            f"warning: no principal of {files} has this key ({made.fingerprint}): "
            "the signature will not count until a line for it is added there"
        )
    for status in statuses(opts, plans, operators=()):
        if not status.problem:
            signed = ", ".join(a.principal for a in status.approvers) or "none"
            out.append(
                f"good signatures over this plan so far: {signed} ({status.required} required; "
                "the operator's own will not count)"
            )
    return "\n".join(out)


def require(opts: Options, plans: Sequence[Plan]) -> tuple[Approver, ...]:
    """Before a release (and its dry run): the approvers, or a refusal naming what is missing.

    Hosts without `approval:` need nothing (an empty tuple); nothing runs ssh-keygen then.
    """
    if not _settings(plans):
        return ()
    operators = operator_names()
    found = statuses(opts, plans, operators, strict=True)
    for status in found:
        if not status.ok:
            raise RefusedError(_refusal(opts, plans, status), hint=_hint(opts))
    return tuple(dict.fromkeys(a for s in found for a in s.approvers))


def statuses(
    opts: Options, plans: Sequence[Plan], operators: Sequence[str], *, strict: bool = False
) -> list[Status]:
    """Where the approval of each `approval:` setting of the target stands.

    `strict`: a problem that stops any checking (no signers file, no ssh-keygen) is a refusal;
    otherwise (for `inv show`) it is the status's `problem`.
    """
    target = opts.host or plans[0].host.name
    digest = digest_of(plans)
    runbook = plans[0].runbook
    files, unreadable = _signed_files(opts.project / FOLDER / runbook)
    found = []
    for approval in _settings(plans):
        hosts = tuple(p.host.name for p in plans if p.host.approval == approval)
        shown = display(Path(approval.signers), opts.project)
        try:
            status = _judge(approval, files, runbook, target, digest, tuple(operators))
        except RefusedError as exc:
            if strict:
                raise
            status = Status(hosts, shown, approval.required, problem=exc.message)
        found.append(
            Status(
                hosts,
                shown,
                approval.required,
                status.approvers,
                tuple(
                    NotCounted(display(Path(n.file), opts.project), n.reason)
                    for n in (*unreadable, *status.not_counted)
                ),
                status.problem,
                tuple(operators),
            )
        )
    return found


# --- judging the files -------------------------------------------------------------------------


def _settings(plans: Sequence[Plan]) -> list[Approval]:
    """The distinct `approval:` settings of the plans' hosts, in host order."""
    return list(dict.fromkeys(p.host.approval for p in plans if p.host.approval is not None))


def _judge(
    approval: Approval,
    files: Sequence[SignedFile],
    runbook: str,
    target: str,
    digest: str,
    operators: tuple[str, ...],
) -> Status:
    """Which of `files` approve `digest` under `approval`, and why the others do not."""
    signers = Path(approval.signers)
    try:
        if not stat.S_ISREG(signers.stat().st_mode):
            raise OSError(0, "not a regular file")
    except OSError as exc:
        raise RefusedError(
            f"the signers file {signers} of approval: cannot be read ({exc.strerror})",
            hint="approval.signers names an OpenSSH allowed_signers file, relative to the "
            "inventory",
        ) from exc
    approvers: list[Approver] = []
    not_counted: list[NotCounted] = []
    counted_keys: set[str] = set()
    others: list[SignedFile] = []
    with tempfile.TemporaryDirectory(prefix="runbook-verify-") as tmp:
        scratch = Path(tmp)
        for signed in files:
            said = signed.message
            if said.runbook != runbook:
                not_counted.append(
                    NotCounted(str(signed.path), f"it approves runbook {said.runbook}")
                )
                continue
            if said.digest != digest:
                if said.target == target:
                    others.append(signed)
                continue
            if said.target != target:
                not_counted.append(
                    NotCounted(str(signed.path), f"it was signed for {said.target}, not {target}")
                )
                continue
            who, why = _check(signers, signed, scratch, operators)
            if who is None:
                not_counted.append(NotCounted(str(signed.path), why))
            elif any(a.principal == who.principal for a in approvers):
                not_counted.append(
                    NotCounted(str(signed.path), f"{who.principal} signed twice: counted once")
                )
            elif who.fingerprint in counted_keys:
                not_counted.append(
                    NotCounted(
                        str(signed.path),
                        f"its key {who.fingerprint} already counted for another principal",
                    )
                )
            else:
                approvers.append(who)
                counted_keys.add(who.fingerprint)
        if len(approvers) < approval.required:  # say who signed an older plan instead
            not_counted += _older(signers, others, scratch, operators, approvers)
    return Status((), str(signers), approval.required, tuple(approvers), tuple(not_counted))


def _older(
    signers: Path,
    others: list[SignedFile],
    scratch: Path,
    operators: tuple[str, ...],
    approvers: list[Approver],
) -> list[NotCounted]:
    """The newest signature over another plan of each reviewer who has not signed this one."""
    named: dict[str, NotCounted] = {}
    newest = sorted(others, key=lambda s: s.message.signed_at, reverse=True)
    for signed in newest[:MAX_OTHER_PLANS]:
        who, _ = _check(signers, signed, scratch, operators)
        if who is None or who.principal in named:
            continue
        if any(a.principal == who.principal for a in approvers):
            continue
        named[who.principal] = NotCounted(
            str(signed.path),
            f"{who.principal} signed an older plan (sha256:{signed.message.digest[:16]}…, "
            f"at {signed.message.signed_at}): the runbook, the inventory or --var changed "
            "since; it needs signing again",
        )
    return list(named.values())


def _check(
    signers: Path, signed: SignedFile, scratch: Path, operators: tuple[str, ...]
) -> tuple[Approver | None, str]:
    """The approver of one signature file, or None and why it does not count."""
    signature = scratch / "signature.sig"
    signature.write_text(signed.signature, encoding="ascii", errors="replace")
    message = signed.message.text().encode("utf-8")
    principals, why = sshkeygen.find_principals(signers, signature)
    if not principals:
        anyone = sshkeygen.check_signature(signature, message)
        if not anyone.ok:
            return None, _forged(anyone.reason or why)
        detail = f" ({why})" if why else ""
        return None, (
            f"unknown key {anyone.fingerprint}: {signers.name} does not list it, or not as "
            f"valid now{detail}"
        )
    named = [p for p in principals if not _PATTERN.search(p)]
    if not named:
        return None, (
            f"{signers.name} names its key by a pattern ({', '.join(principals)}): list each "
            "reviewer by name"
        )
    checked = sshkeygen.Checked(False)
    for principal in named:
        checked = sshkeygen.verify(signers, principal, signature, message)
        if checked.ok:
            mine = [p for p in named if is_operator(p, operators)]
            if mine:
                return None, (
                    f"signed by {mine[0]}, the operator: the person who releases cannot "
                    "approve their own release"
                )
            return Approver(principal, checked.fingerprint, signed.message.signed_at), ""
    return None, _forged(checked.reason)


def _forged(reason: str) -> str:
    return "the signature does not verify: the file was altered, forged or corrupted" + (
        f" (ssh-keygen: {reason})" if reason else ""
    )


def _signed_files(folder: Path) -> tuple[list[SignedFile], list[NotCounted]]:
    """The approval files of one runbook, and those that are not approvals at all."""
    if not folder.is_dir():
        return [], []
    found: list[SignedFile] = []
    bad: list[NotCounted] = []
    for path in sorted(folder.glob("*.sig"))[:MAX_FILES]:
        try:
            found.append(_read(path))
        except ValueError as exc:
            bad.append(NotCounted(str(path), f"not an approval: {exc}"))
    return found, bad


def _read(path: Path) -> SignedFile:
    """One approval file, read with care: a regular file, not too big, in the format."""
    try:
        info = path.lstat()
        if not stat.S_ISREG(info.st_mode):
            raise ValueError("not a regular file")
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        with os.fdopen(fd, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ValueError(f"cannot be read ({exc.strerror})") from exc
    if len(data) > MAX_FILE_BYTES:
        raise ValueError(f"larger than {MAX_FILE_BYTES // 1024} KiB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError("not UTF-8 text") from exc
    at = text.find("\n" + BEGIN)
    if at < 0:
        raise ValueError("no SSH signature in it")
    return SignedFile(path, Message.parse(text[: at + 1]), text[at + 1 :])


# --- the signing key and the file --------------------------------------------------------------


def _signing_key(
    key: str | None, project: Path, settings: Sequence[Approval], scratch: Path
) -> tuple[Path, str]:
    """The key file to give `ssh-keygen -Y sign -f`, and how to name it to the user.

    With --key, that file (ssh-keygen uses the agent if it holds the key). Without, the agent's
    key: its only one, or the only one a signers file of the target lists.
    """
    if key:
        path = Path(os.path.expanduser(key))
        path = path if path.is_absolute() else project / path
        if not path.is_file():
            raise RefusedError(f"no key file {key}", hint="--key takes your private key file")
        return path, key
    keys = sshkeygen.agent_keys()
    if len(keys) > 1:
        listed = _listed_keys(settings)
        keys = [k for k in keys if " ".join(k.line.split()[:2]) in listed] or keys
    if len(keys) != 1:
        raise RefusedError(
            f"the ssh-agent holds {len(keys)} keys: say which one signs with --key",
            hint="--key takes your private key, or its .pub file when the agent holds it; "
            "the agent's keys: " + ", ".join(f"{k.fingerprint} {k.comment}".strip() for k in keys),
        )
    public = scratch / "agent_key.pub"
    public.write_text(keys[0].line + "\n", encoding="utf-8")
    return public, f"the agent's key {keys[0].fingerprint}"


def _listed_keys(settings: Sequence[Approval]) -> set[str]:
    """`type base64` of every key the signers files list (to pick among the agent's keys)."""
    listed: set[str] = set()
    for approval in settings:
        with contextlib.suppress(OSError, UnicodeDecodeError):
            for line in Path(approval.signers).read_text("utf-8").splitlines():
                words = line.split()
                listed |= {f"{a} {b}" for a, b in itertools.pairwise(words)}
    return listed


def _file_name(who: str) -> str:
    """A principal or fingerprint as part of a file name."""
    return re.sub(r"[^A-Za-z0-9@._+-]", "_", who)[:100]


def _write(path: Path, text: str) -> None:
    """Write the approval file whole (a temporary file renamed over it)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=".approve-", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(temporary, 0o644)  # a file to commit, read by everyone
        os.replace(temporary, path)
    except OSError as exc:
        raise RefusedError(f"cannot write {path}: {exc.strerror}") from exc


# --- the refusal -------------------------------------------------------------------------------


def _refusal(opts: Options, plans: Sequence[Plan], status: Status) -> str:
    target = opts.host or plans[0].host.name
    which = target if len(status.hosts) == len(plans) else ", ".join(status.hosts)
    if status.problem:
        return f"approval for {which}: {status.problem}"
    signed = ", ".join(a.principal for a in status.approvers)
    lines = [
        f"approval for {which}: {len(status.approvers)} of {status.required} signatures: "
        + (f"signed by {signed}; " if signed else "")
        + f"{status.missing} missing",
        f"  each must be over this plan, sha256:{digest_of(plans)}, by a distinct principal "
        f"of {status.signers} other than the operator ({', '.join(status.operators)})",
    ]
    lines += [f"  not counted: {n.file}: {n.reason}" for n in status.not_counted]
    return "\n".join(lines)


def _hint(opts: Options) -> str:
    return (
        f"a reviewer reads `{command_line('show', opts)}`, then signs with "
        f"`{command_line('approve', opts)}`; commit the file it writes under {FOLDER}/"
    )
