"""Signature files judged: what is signed, whose it is, and which files count (and why not).

A signature counts only if `ssh-keygen -Y verify` accepts it for a principal of the signers
file, over the exact text that names this runbook, target and digest, by someone who is not the
operator, and only once per principal and key.
"""

from __future__ import annotations

import contextlib
import getpass
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
from ..journal.events import Approver
from ..words import EN
from . import sshkeygen
from .credentials import operator

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
            raise ValueError(EN("error.sign.not-the-header", header=repr(HEADER)))
        values = []
        for line, key in zip(lines[1:5], keys, strict=True):
            if not line.startswith(key):
                raise ValueError(
                    EN("error.sign.expected", key=repr(key.strip()), found=repr(line[:40]))
                )
            values.append(line.removeprefix(key))
        runbook, target, digest, signed_at = values
        if not (_NAME.fullmatch(runbook) and _NAME.fullmatch(target)):
            raise ValueError(EN("error.sign.not-a-name"))
        if not _DIGEST.fullmatch(digest):
            raise ValueError(EN("error.sign.not-a-digest"))
        try:
            when = datetime.fromisoformat(signed_at)
        except ValueError:
            when = None
        if when is None or when.tzinfo is None:
            raise ValueError(EN("error.sign.not-a-time"))
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


# --- judging the files -------------------------------------------------------------------------


def settings_of(plans: Sequence[Plan]) -> list[Approval]:
    """The distinct `approval:` settings of the plans' hosts, in host order."""
    return list(dict.fromkeys(p.host.approval for p in plans if p.host.approval is not None))


def judge(
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
            raise OSError(0, EN("error.sign.not-regular"))
    except OSError as exc:
        raise RefusedError(
            EN("error.sign.signers-unreadable", signers=signers, error=exc.strerror),
            hint=EN("error.sign.signers-hint"),
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
                why = EN("error.sign.other-runbook", runbook=said.runbook)
                not_counted.append(NotCounted(str(signed.path), why))
                continue
            if said.digest != digest:
                if said.target == target:
                    others.append(signed)
                continue
            if said.target != target:
                why = EN("error.sign.other-target", signed_for=said.target, target=target)
                not_counted.append(NotCounted(str(signed.path), why))
                continue
            who, why = _check(signers, signed, scratch, operators)
            if who is None:
                not_counted.append(NotCounted(str(signed.path), why))
            elif any(a.principal == who.principal for a in approvers):
                why = EN("error.sign.twice", principal=who.principal)
                not_counted.append(NotCounted(str(signed.path), why))
            elif who.fingerprint in counted_keys:
                why = EN("error.sign.key-counted", fingerprint=who.fingerprint)
                not_counted.append(NotCounted(str(signed.path), why))
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
            EN(
                "error.sign.older",
                principal=who.principal,
                digest=signed.message.digest[:16],
                signed_at=signed.message.signed_at,
            ),
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
        unknown = "error.sign.unknown-key-why" if why else "error.sign.unknown-key"
        return None, EN(unknown, fingerprint=anyone.fingerprint, signers=signers.name, why=why)
    named = [p for p in principals if not _PATTERN.search(p)]
    if not named:
        return None, EN("error.sign.pattern", signers=signers.name, patterns=", ".join(principals))
    checked = sshkeygen.Checked(False)
    for principal in named:
        checked = sshkeygen.verify(signers, principal, signature, message)
        if checked.ok:
            mine = [p for p in named if is_operator(p, operators)]
            if mine:
                return None, EN("error.sign.by-operator", principal=mine[0])
            return Approver(principal, checked.fingerprint, signed.message.signed_at), ""
    return None, _forged(checked.reason)


def _forged(reason: str) -> str:
    return EN("error.sign.forged-why", reason=reason) if reason else EN("error.sign.forged")


def signed_files(folder: Path) -> tuple[list[SignedFile], list[NotCounted]]:
    """The approval files of one runbook, and those that are not approvals at all."""
    if not folder.is_dir():
        return [], []
    found: list[SignedFile] = []
    bad: list[NotCounted] = []
    for path in sorted(folder.glob("*.sig"))[:MAX_FILES]:
        try:
            found.append(_read(path))
        except ValueError as exc:
            bad.append(NotCounted(str(path), EN("error.sign.not-an-approval", reason=exc)))
    return found, bad


def _read(path: Path) -> SignedFile:
    """One approval file, read with care: a regular file, not too big, in the format."""
    try:
        info = path.lstat()
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(EN("error.sign.not-regular"))
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        with os.fdopen(fd, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ValueError(EN("error.sign.unreadable", error=exc.strerror)) from exc
    if len(data) > MAX_FILE_BYTES:
        raise ValueError(EN("error.sign.too-large", size=MAX_FILE_BYTES // 1024))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(EN("error.sign.not-utf8")) from exc
    at = text.find("\n" + BEGIN)
    if at < 0:
        raise ValueError(EN("error.sign.no-signature"))
    return SignedFile(path, Message.parse(text[: at + 1]), text[at + 1 :])
