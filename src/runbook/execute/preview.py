"""At a put's gate: what the put changes on the host, as a diff against the live file.

The live `dest` is read over the host's connection with the step's sudo, read-only, never
through a symlink (scripts.read_script), and compared with the reviewed content. What is shown
is masked (secret values, passwords) and made visible (control characters, escapes).
"""

from __future__ import annotations

from ..core import diffs, scripts
from ..core.model import PlannedStep
from ..errors import RunbookError
from .handlers import backup_of, remote
from .state import Run

READ_TIMEOUT = 30.0


def live_diff(run: Run, step: PlannedStep) -> str:
    """The diff from the live dest to the put's content, as the gate shows it."""
    upload = step.put
    if upload is None:
        return ""
    dest = upload.dest
    try:
        result = remote(run, scripts.read_script(dest), sudo=step.sudo, timeout=READ_TIMEOUT)
    except RunbookError as exc:  # sudo refused, the connection gone: the step itself will say
        result = None
        body = f"(not read: {exc.message})"
    new = diffs.as_text(upload.content)
    refused = (
        f"\n(no step of this run backed up {dest}: the put will be refused, since rollback "
        "could not restore it)"
        if backup_of(run, dest) is None
        else ""
    )
    if result is None:
        pass
    elif result.lost or result.exit_code not in (0, scripts.MISSING, scripts.EXISTS):
        said = (result.stderr or result.stdout).strip() or "no answer"
        body = f"(could not read it: {said})"
    elif result.exit_code == scripts.MISSING:
        body = "(it does not exist: the put creates it, and a rollback removes it)"
        if new is not None:
            body += "\n" + diffs.unified(None, new, "", f"b{dest} (put)")
    elif result.exit_code == scripts.EXISTS:
        what = result.stdout.strip() or "not a regular file"
        body = f"(it is {what}: the put replaces that, never writing through it){refused}"
    elif refused:
        body = "(it exists)" + refused
    elif new is None:
        body = f"(binary content, {upload.size} bytes, sha256:{upload.sha256[:12]})"
    elif len(result.stdout.encode("utf-8", "replace")) > scripts.READ_MAX:
        body = f"(it is larger than {scripts.READ_MAX} bytes: not shown)"
    else:
        text = diffs.unified(result.stdout, new, f"a{dest} (live)", f"b{dest} (put)")
        body = text or "(no change: it already has this content)"
    shown = diffs.visible(run.clean(body))
    head = f"  {run.plan.host.name}: {run.clean(dest)} now → after the put"
    return head + "\n" + "\n".join("    " + line for line in shown.splitlines())
