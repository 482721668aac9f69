"""The built-in actions as shell scripts: pure functions, shown in the review and sent as is.

Backup, restore and the host lock are plain POSIX shell run over the same connection as every
other step, so the review document can show exactly what they do.
"""

from __future__ import annotations

import json
import shlex

# Exit codes the scripts use to say why they stopped (anything else is the shell's own).
MISSING = 3  # the file to back up, or the backup to restore, does not exist
EXISTS = 4  # the backup would overwrite a file
CORRUPT = 5  # a checksum, mode or owner did not match
LOCK_HELD = 75  # the lock directory exists (another run's lock, or something else)
CANNOT_LOCK = 77  # the lock directory cannot be created (no parent, permission)


def backup_path(path: str, run_id: str) -> str:
    """Where the backup of `path` goes: beside it, with the run id in its name."""
    return f"{path}.{run_id}.bak"


def backup_script(path: str, run_id: str) -> str:
    """Copy `path` beside itself keeping mode and owner; print both sha256 and stat lines."""
    src, dst = shlex.quote(path), shlex.quote(backup_path(path, run_id))
    return "\n".join(
        [
            f'test -f {src} || {{ echo "backup: {_q(path)} does not exist" >&2; exit {MISSING}; }}',
            f'test ! -e {dst} || {{ echo "backup: {_q(backup_path(path, run_id))} already exists" '
            f">&2; exit {EXISTS}; }}",
            f"cp -p {src} {dst}",
            f"sha256sum {src} {dst}",
            f"stat -c '%a %U:%G' {src} {dst}",
        ]
    )


def parse_backup(output: str) -> tuple[str, str] | None:
    """(sha256, "mode owner:group") of a verified backup, or None if the copy differs."""
    lines = output.strip().splitlines()
    if len(lines) < 4:
        return None
    sums = [ln.split()[0] for ln in lines[-4:-2]]
    stats = lines[-2:]
    if sums[0] != sums[1] or stats[0] != stats[1] or len(sums[0]) != 64:
        return None
    return sums[0], stats[0]


def restore_script(path: str, backup: str, sha256: str) -> str:
    """Verify the backup, put it back atomically (copy beside, rename), verify the result."""
    src, dst, tmp = shlex.quote(backup), shlex.quote(path), shlex.quote(f"{path}.restoring")
    check_backup = shlex.quote(f"{sha256}  {backup}")
    check_live = shlex.quote(f"{sha256}  {path}")
    return "\n".join(
        [
            f'test -f {src} || {{ echo "restore: backup {_q(backup)} is missing" >&2; '
            f"exit {MISSING}; }}",
            f"echo {check_backup} | sha256sum -c --quiet - || "
            f'{{ echo "restore: backup {_q(backup)} does not match its recorded sha256" >&2; '
            f"exit {CORRUPT}; }}",
            f"cp -p {src} {tmp}",
            f"mv -f {tmp} {dst}",
            f'echo {check_live} | sha256sum -c --quiet - || {{ echo "restore: {_q(path)} does not '
            f'match after restore" >&2; exit {CORRUPT}; }}',
            f"sha256sum {dst}",
        ]
    )


HOLDER = "holder.json"


def lock_script(lock: str, holder: dict[str, object]) -> str:
    """Take the host lock atomically (mkdir, 0700, this user's); else say why not.

    Exit 0: taken. LOCK_HELD: a lock exists: prints `owner USER` and its holder record (the
    caller judges whether it is this tool's). CANNOT_LOCK: the directory cannot be created
    (no parent, no permission): prints mkdir's reason. Nothing that exists is touched.
    """
    quoted = shlex.quote(lock)
    info = shlex.quote(json.dumps(holder, sort_keys=True))
    record = f"{quoted}/{HOLDER}"
    return "\n".join(
        [
            f"if err=$(mkdir -m 0700 {quoted} 2>&1); then",
            f"  printf '%s\\n' {info} > {record}; exit 0",
            "fi",
            f"if [ -e {quoted} ] || [ -L {quoted} ]; then",
            f'  echo "owner $(stat -c %U {quoted})"',
            f"  if [ -d {quoted} ] && [ ! -L {quoted} ] && [ -f {record} ]; then cat {record}; fi",
            f"  exit {LOCK_HELD}",
            "fi",
            f'echo "$err" >&2; exit {CANNOT_LOCK}',
        ]
    )


def unlock_script(lock: str, run_id: str) -> str:
    """Release the lock only if this run holds it: its record, then the empty directory."""
    quoted = shlex.quote(lock)
    mine = shlex.quote(f'"run": {json.dumps(run_id)}')
    record = f"{quoted}/{HOLDER}"
    return f"if grep -qF {mine} {record} 2>/dev/null; then rm -f {record} && rmdir {quoted}; fi"


def break_lock_script(lock: str, record_sha256: str) -> str:
    """Remove a stale lock, only if its holder record is still the one the caller judged.

    Removes the record and then the directory with `rmdir`, which refuses a directory with
    anything else in it: a lock path that holds other files is never emptied.
    """
    quoted = shlex.quote(lock)
    record = f"{quoted}/{HOLDER}"
    check = shlex.quote(f"{record_sha256}  {lock}/{HOLDER}")
    return "\n".join(
        [
            f"[ -d {quoted} ] && [ ! -L {quoted} ] || "
            f'{{ echo "{_q(lock)} is not a directory" >&2; exit {CANNOT_LOCK}; }}',
            f"echo {check} | sha256sum -c --quiet - 2>/dev/null || "
            f'{{ echo "the lock {_q(lock)} changed hands meanwhile" >&2; exit {LOCK_HELD}; }}',
            f"rm -f {record} && rmdir {quoted}",
        ]
    )


def _q(text: str) -> str:
    """Text safe inside a double-quoted shell string."""
    return "".join("\\" + c if c in '"$`\\' else c for c in text)
