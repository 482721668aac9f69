"""The built-in actions as shell scripts: pure functions, shown in the review and sent as is.

Backup, restore and the host lock are plain POSIX shell run over the same connection as every
other step, so the review document can show exactly what they do.
"""

from __future__ import annotations

import base64
import json
import posixpath
import shlex

# Exit codes the scripts use to say why they stopped (anything else is the shell's own).
MISSING = 3  # the file to back up, or the backup to restore, does not exist
EXISTS = 4  # the backup would overwrite a file
CORRUPT = 5  # a checksum, mode or owner did not match
UNSAFE = 6  # a directory another user may write to
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


# --- put -----------------------------------------------------------------------------------

# A put's content travels base64-encoded inside its script, and a script travels on the ssh
# command line, where Linux limits one argument to 128 KiB: 64 KiB of content (about 87 KiB of
# base64) leaves room for the rest. When scripts move to the channel's standard input, this
# limit goes up to the 1 MiB a source file may have.
PUT_INLINE_MAX = 64 * 1024
READ_MAX = 1024 * 1024  # bytes of a live file read back to show what a put changes

PUT_CREATED, PUT_REPLACED = "put: created", "put: replaced"


def put_script(
    dest: str,
    content: bytes | None,
    sha256: str,
    mode: str,
    owner: str | None,
    *,
    replace: bool,
) -> str:
    """Write `content` to `dest` atomically, never through a link planted at `dest`.

    A temporary file is created exclusively (mktemp) in dest's directory, written, given its
    mode and owner, checked against `sha256`, then renamed over dest (`mv -fT`: rename(2)
    replaces a symlink at dest, it does not follow it). Without `replace` (no backup of dest in
    this run), dest must not exist: the file is linked in with `ln -T`, which fails if any name
    is there, so rollback always has a way back. A directory that another user may write to is
    refused. Prints PUT_CREATED or PUT_REPLACED, then dest's mode and owner.

    `content` None shows the script as the review does, without the data.
    """
    d, folder = shlex.quote(dest), shlex.quote(posixpath.dirname(dest) or "/")
    name = posixpath.basename(dest)[:100]
    template = shlex.quote(posixpath.join(posixpath.dirname(dest), f".{name}.put.XXXXXXXXXX"))
    if content is None:
        data = f"'<the {sha256[:12]}… content shown above, base64>'"
    else:
        data = shlex.quote(base64.b64encode(content).decode("ascii"))
    where = _q(posixpath.dirname(dest) or "/")
    lines = [
        f"d={d}",
        f'test -d {folder} || {{ echo "put: directory {where} does not exist" >&2; '
        f"exit {MISSING}; }}",
        f'if test -n "$(find -H {folder} -maxdepth 0 \\( -perm -0002 -o -perm -0020 -o '
        f'! -user 0 ! -user "$(id -u)" \\) -print)"; then echo "put: {where} may be written by '
        f'a user other than $(id -un) or root: refused" >&2; exit {UNSAFE}; fi',
        f'if test -d "$d" && ! test -L "$d"; then echo "put: {_q(dest)} is a directory" >&2; '
        f"exit {EXISTS}; fi",
    ]
    if not replace:
        lines.append(
            f'if test -e "$d" || test -L "$d"; then echo "put: {_q(dest)} exists and no earlier '
            "step of this run backed it up: refused, since rollback could not restore it"
            f'" >&2; exit {EXISTS}; fi'
        )
    lines += [
        f"t=$(mktemp {template})",
        "trap 'rm -f \"$t\"' EXIT",
        f"printf '%s' {data} | base64 -d > \"$t\"",
        f'chmod {shlex.quote(mode)} "$t"',
        *([f'chown {shlex.quote(owner)} "$t"'] if owner else []),
        f'test "$(sha256sum < "$t" | cut -d " " -f 1)" = {sha256} || '
        f'{{ echo "put: the copy on the host does not match sha256 {sha256}" >&2; '
        f"exit {CORRUPT}; }}",
    ]
    if replace:
        lines += [
            f'if test -e "$d" || test -L "$d"; then was={shlex.quote(PUT_REPLACED)}; '
            f"else was={shlex.quote(PUT_CREATED)}; fi",
            'mv -fT "$t" "$d"',
        ]
    else:
        lines += [
            f'ln -T "$t" "$d" || {{ echo "put: {_q(dest)} appeared meanwhile: refused" >&2; '
            f"exit {EXISTS}; }}",
            'rm -f "$t"',
            f"was={shlex.quote(PUT_CREATED)}",
        ]
    lines += ["trap - EXIT", 'echo "$was"', "stat -c '%a %U:%G' \"$d\""]
    return "\n".join(lines)


def parse_put(output: str) -> tuple[bool, str] | None:
    """(created, "mode owner:group") from what put_script printed, or None."""
    lines = output.strip().splitlines()
    if len(lines) < 2 or lines[-2] not in (PUT_CREATED, PUT_REPLACED):
        return None
    return lines[-2] == PUT_CREATED, lines[-1]


def read_script(dest: str) -> str:
    """Read the live `dest` to show what a put changes: never through a symlink, at most
    READ_MAX + 1 bytes. Exit MISSING when it does not exist, EXISTS (with what it is) when it
    is not a regular file."""
    d = shlex.quote(dest)
    return "\n".join(
        [
            f"d={d}",
            f'if ! test -e "$d" && ! test -L "$d"; then exit {MISSING}; fi',
            f'if test -L "$d"; then printf \'a symbolic link to %s\\n\' "$(readlink -- "$d")"; '
            f"exit {EXISTS}; fi",
            f'if ! test -f "$d"; then echo "not a regular file"; exit {EXISTS}; fi',
            f'dd if="$d" iflag=nofollow,fullblock bs={READ_MAX + 1} count=1 status=none',
        ]
    )


def unput_script(dest: str, sha256: str) -> str:
    """Remove a file a put created, if it is still that file (its sha256); gone already is ok."""
    d = shlex.quote(dest)
    return "\n".join(
        [
            f"d={d}",
            f'if ! test -e "$d" && ! test -L "$d"; then echo "{_q(dest)} is already gone"; '
            "exit 0; fi",
            f'if test -L "$d" || ! test -f "$d"; then echo "remove: {_q(dest)} is no longer the '
            f'file the put created (not a regular file): left in place" >&2; exit {CORRUPT}; fi',
            f'test "$(sha256sum < "$d" | cut -d " " -f 1)" = {sha256} || {{ echo "remove: '
            f'{_q(dest)} changed since the put (its sha256 differs): left in place" >&2; '
            f"exit {CORRUPT}; }}",
            'rm -f -- "$d"',
            f'echo "removed {_q(dest)}"',
        ]
    )
