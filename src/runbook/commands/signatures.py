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
import itertools
import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path

from ..core.model import Approval, Plan
from ..errors import RefusedError
from ..gate import has_terminal
from ..journal.events import Approver, now_iso
from ..options import Options
from ..words import EN
from . import sshkeygen
from .approval import digest_of
from .inputs import command_line, display, plans_for
from .signed import (
    FOLDER,
    Message,
    NotCounted,
    Status,
    judge,
    operator_names,
    settings_of,
    signed_files,
)

# --- the commands ------------------------------------------------------------------------------


def approve(opts: Options, *, key: str | None, terminal: bool | None = None) -> str:
    """`inv approve`: sign the digest `inv show` prints for --host; write it under approvals/."""
    words = opts.words  # an unknown --lang is refused before anything is signed
    runbook, _, _, plans = plans_for(opts)
    target = opts.host or plans[0].host.name
    message = Message(runbook.name, target, digest_of(plans), now_iso())
    terminal = has_terminal() if terminal is None else terminal
    settings = settings_of(plans)
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
    out = [
        words("sign.signed", runbook=runbook.name, target=target, digest=message.digest),
        words(
            "sign.by",
            principal=principal or words("sign.unlisted-key"),
            fingerprint=made.fingerprint or "?",
            signed_at=message.signed_at,
        ),
        words("sign.written", path=display(path, opts.project)),
        words("sign.text"),
        *(f"    {line}" for line in message.text().splitlines()),
    ]
    if not settings:
        out.append(words("sign.no-approval", target=target))
    elif not principal:
        files = ", ".join(display(Path(a.signers), opts.project) for a in settings)
        out.append(words("sign.not-listed", files=files, fingerprint=made.fingerprint))
    for status in statuses(opts, plans, operators=()):
        if not status.problem:
            signed = ", ".join(a.principal for a in status.approvers) or words("sign.none")
            out.append(words("sign.so-far", signed=signed, required=status.required))
    return "\n".join(out)


def require(opts: Options, plans: Sequence[Plan]) -> tuple[Approver, ...]:
    """Before a release (and its dry run): the approvers, or a refusal naming what is missing.

    Hosts without `approval:` need nothing (an empty tuple); nothing runs ssh-keygen then.
    """
    if not settings_of(plans):
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

    `strict`: a problem that stops any checking (no signers file, no ssh-keygen) is a refusal
    and the reasons are English, for the refusal; otherwise (for `inv show` and `inv approve`)
    it is the status's `problem`, and the problem and the reasons are said in the operator's
    language.
    """
    words = EN if strict else opts.words
    target = opts.host or plans[0].host.name
    digest = digest_of(plans)
    runbook = plans[0].runbook
    files, unreadable = signed_files(opts.project / FOLDER / runbook)
    found = []
    for approval in settings_of(plans):
        hosts = tuple(p.host.name for p in plans if p.host.approval == approval)
        shown = display(Path(approval.signers), opts.project)
        try:
            status = judge(approval, files, runbook, target, digest, tuple(operators))
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
                    NotCounted(display(Path(n.file), opts.project), words.again(n.reason))
                    for n in (*unreadable, *status.not_counted)
                ),
                words.again(status.problem),
                tuple(operators),
            )
        )
    return found


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
            hint = EN("error.sign.key-hint")
            raise RefusedError(EN("error.sign.no-key-file", key=key), hint=hint)
        return path, key
    keys = sshkeygen.agent_keys()
    if len(keys) > 1:
        listed = _listed_keys(settings)
        keys = [k for k in keys if " ".join(k.line.split()[:2]) in listed] or keys
    if len(keys) != 1:
        listed_keys = ", ".join(f"{k.fingerprint} {k.comment}".strip() for k in keys)
        raise RefusedError(
            EN("error.sign.which-key", count=len(keys)),
            hint=EN("error.sign.which-key-hint", keys=listed_keys),
        )
    public = scratch / "agent_key.pub"
    public.write_text(keys[0].line + "\n", encoding="utf-8")
    return public, EN("error.sign.agents-key", fingerprint=keys[0].fingerprint)


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
        raise RefusedError(EN("error.output.cannot-write", path=path, error=exc.strerror)) from exc


# --- the refusal -------------------------------------------------------------------------------


def _refusal(opts: Options, plans: Sequence[Plan], status: Status) -> str:
    target = opts.host or plans[0].host.name
    which = target if len(status.hosts) == len(plans) else ", ".join(status.hosts)
    if status.problem:
        return EN("error.sign.approval-problem", which=which, problem=status.problem)
    signed = ", ".join(a.principal for a in status.approvers)
    lines = [
        EN(
            "error.sign.count-signed" if signed else "error.sign.count",
            which=which,
            count=len(status.approvers),
            required=status.required,
            signed=signed,
            missing=status.missing,
        ),
        EN(
            "error.sign.each-must",
            digest=digest_of(plans),
            signers=status.signers,
            operators=", ".join(status.operators),
        ),
    ]
    # One line each: `Words.again` says a refusal's lines again one by one.
    lines += [
        EN("error.sign.not-counted", file=n.file, reason=n.reason) for n in status.not_counted
    ]
    return "\n".join(lines)


def _hint(opts: Options) -> str:
    show, approve = command_line("show", opts), command_line("approve", opts)
    return EN("error.sign.hint", show=show, approve=approve, folder=FOLDER)
