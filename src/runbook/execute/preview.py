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
    words = run.console.words
    try:
        result = remote(run, scripts.read_script(dest), sudo=step.sudo, timeout=READ_TIMEOUT)
    except RunbookError as exc:  # sudo refused, the connection gone: the step itself will say
        result = None
        body = words("preview.not-read", why=words.again(exc.message))
    new = diffs.as_text(upload.content)
    refused = "\n" + words("preview.no-backup", dest=dest) if backup_of(run, dest) is None else ""
    if result is None:
        pass
    elif result.lost or result.exit_code not in (0, scripts.MISSING, scripts.EXISTS):
        said = (result.stderr or result.stdout).strip() or words("preview.no-answer")
        body = words("preview.unreadable", why=said)
    elif result.exit_code == scripts.MISSING:
        body = words("preview.missing")
        if new is not None:
            body += "\n" + diffs.unified(None, new, "", words("preview.label-put", path=f"b{dest}"))
    elif result.exit_code == scripts.EXISTS:
        what = result.stdout.strip() or words("preview.not-regular")
        body = words("preview.not-a-file", what=what) + refused
    elif refused:
        body = words("preview.exists") + refused
    elif new is None:
        body = words("preview.binary", size=upload.size, sha=upload.sha256[:12])
    elif len(result.stdout.encode("utf-8", "replace")) > scripts.READ_MAX:
        body = words("preview.too-large", size=scripts.READ_MAX)
    else:
        live, put = (
            words("preview.label-live", path=f"a{dest}"),
            words("preview.label-put", path=f"b{dest}"),
        )
        text = diffs.unified(result.stdout, new, live, put)
        body = text or words("preview.same")
    shown = diffs.visible(run.clean(body))
    head = words("preview.head", host=run.plan.host.name, dest=run.clean(dest))
    return head + "\n" + "\n".join("    " + line for line in shown.splitlines())
