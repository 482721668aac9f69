"""The built-in actions as shell scripts: pure functions, shown in the review and sent as is.

Backup, restore and the host lock are plain POSIX shell run over the same connection as every
other step, so the review document can show exactly what they do.

Backups are written as if another user on the host were trying to redirect them: never beside
the file, always into a private backup directory under names no one else can create, through a
symbolic link only after resolving it once, and never in a directory another user can write.
"""

from __future__ import annotations

import base64
import json
import posixpath
import re
import shlex
from dataclasses import dataclass
from string import Template

from ..words import EN, Words
from .model import Action, PlannedStep, mask

# Exit codes the scripts use to say why they stopped (anything else is the shell's own).
MISSING = 3  # the file to back up, or the backup to restore, does not exist
EXISTS = 4  # where this run's backups go is taken by something that is not its directory
CORRUPT = 5  # a checksum, mode or owner did not match
REFUSED = 6  # nothing changed: a directory others can write, a backup directory not private
UNSAFE = REFUSED  # a put into a directory another user may write to
MOVED = 7  # the path no longer leads to the file that was backed up
LOCK_HELD = 75  # the lock directory exists (another run's lock, or something else)
CANNOT_LOCK = 77  # the lock directory cannot be created (no parent, permission)

# Where backups go when the inventory sets no `backup_dir` (see _DEFAULT_DIR).
ROOT_BACKUP_DIR = "/var/backups/release-runbook"
HOME_BACKUP_DIR = ".release-runbook/backups"

# Output lines of the backup script the handler reads: what it copied, where, and the proof.
_TARGET, _BACKUP = "target ", "backup "


class _Shell(Template):
    """A script with `@name` placeholders (shell has its own uses for `$`, `{}` and `%`);
    written between lines of its own, without the newlines around it."""

    delimiter = "@"

    def __init__(self, template: str) -> None:
        super().__init__(template.strip("\n"))


@dataclass(frozen=True)
class Copied:
    """A backup the host made and verified, as its script reported it.

    Attributes:
        target: the file that was copied: the path with every symbolic link resolved.
        backup: the copy, in the backup directory.
        sha256: of the file and of its copy (equal).
        mode: "MODE OWNER:GROUP" of the file and of its copy (equal).
    """

    target: str
    backup: str
    sha256: str
    mode: str


# `guard DIR` exits REFUSED unless only root, this user ($u) or the login user (the one sudo
# names, or $u without sudo) can change DIR and every directory above it. Whoever can write a
# directory on the way can swap the file, or the directory, between a check and a copy or a
# rename (a planted link), so a backup or restore there is refused before anything changes. A
# directory with the sticky bit (/tmp) is fine: others may add names but not move ours.
_GUARD = _Shell(r"""
guard() {
  g=$(readlink -f -- "$1") || { echo "@action: $1 does not exist" >&2; exit @missing; }
  while :; do
    s=$(stat -c '%a %u %U' -- "$g")
    set -- $s
    if [ "$2" != 0 ] && [ "$2" != "$u" ] && [ "$2" != "${SUDO_UID:-$u}" ] ||
      { [ $((0$1 & 022)) -ne 0 ] && [ $((0$1 & 01000)) -eq 0 ]; }; then
      echo "@action: refused: another user may write $g (mode $1, owner $3)" \
        "and could swap the file while it is copied or renamed" >&2
      exit @refused
    fi
    [ "$g" != / ] || return 0
    g=$(dirname -- "$g")
  done
}""")

# The default backup directory, when the inventory sets none: a directory of the tool's own,
# never beside the file (a directory nginx or a web server reads whole would load or serve a
# copy). Root's is in the system's backup area; any other user's is under its home, from the
# passwd database (sudo -u may keep the login user's HOME).
_DEFAULT_DIR = _Shell(r"""
if [ "$u" = 0 ]; then d=@root
else h=$(getent passwd "$u" | cut -d: -f6); d=${h:-$HOME}/@home; fi""")

# The path is resolved once (readlink -f): everything after reads, copies and checks the file
# itself, never the link again. The backup directory is private (this user's, writable by
# nobody else, not a link, its parents guarded), so no one else can add, rename or remove a
# name in it. In it, mktemp creates the copy's name exclusively (O_CREAT|O_EXCL, a random
# suffix, mode 0600): nothing can stand in for it before `cp -p` fills it and gives it the
# file's mode and owner. A name with a newline is refused: the output is read line by line.
_BACKUP_SCRIPT = _Shell(r"""
umask 077
u=$(id -u)
@guard
p=@path
if t=$(readlink -f -- "$p") && [ -f "$t" ]; then :; else
  echo "backup: $p does not exist" >&2; exit @missing
fi
case $t in *'
'*) echo "backup: $p leads to a name with a newline" >&2; exit @refused;; esac
guard "$(dirname -- "$p")"
guard "$(dirname -- "$t")"
@dir
mkdir -p -m 0700 -- "$d"
if [ -L "$d" ] || [ ! -d "$d" ] || [ "$(stat -c %u -- "$d")" != "$u" ] ||
  [ $((0$(stat -c %a -- "$d") & 022)) -ne 0 ]; then
  echo "backup: refused: the backup directory $d must be a directory of $(id -un)'s" \
    "that nobody else can write (it is: $(stat -c '%F, mode %a, owner %U' -- "$d"))" >&2
  exit @refused
fi
guard "$(dirname -- "$d")"
r=$d/@run
[ -d "$r" ] && [ ! -L "$r" ] || mkdir -m 0700 -- "$r" || {
  echo "backup: $r is taken by something that is not a directory" >&2; exit @exists; }
mkdir -p -- "$r${t%/*}"
b=$(mktemp -- "$r$t.XXXXXXXX")
cp -p -- "$t" "$b"
printf '@target%s\n@backup%s\n' "$t" "$b"
sha256sum < "$t"
sha256sum < "$b"
stat -c '%a %U:%G' -- "$t" "$b"
""")

# The copy goes to a name mktemp creates exclusively beside the target (unpredictable, so no
# name planted in advance is written through; in the same directory, so the rename is one
# rename(2) on one filesystem: the target is the old file or the restored one, never half).
# It gets its mode and owner from the backup and is checked before the rename; the result is
# checked after. The path must still lead to the file that was backed up.
_RESTORE_SCRIPT = _Shell(r"""
umask 077
u=$(id -u)
@guard
differs() {  # what of file $1 is not as the backup was recorded, if anything
  [ "$(sha256sum < "$1")" = @sum ] || echo sha256
  [ "$(stat -c '%a %U:%G' -- "$1")" = @mode ] ||
    echo "mode and owner ($(stat -c '%a %U:%G' -- "$1"))"
}
p=@path
t=@file
b=@copy
if [ ! -f "$b" ] || [ -L "$b" ]; then
  echo "restore: backup $b is missing" >&2; exit @missing
fi
w=$(differs "$b")
[ -z "$w" ] || { echo "restore: backup $b does not match its recorded $w" >&2; exit @corrupt; }
if [ "$(readlink -f -- "$p")" != "$(readlink -f -- "$t")" ] || [ -d "$t" ]; then
  echo "restore: $p no longer leads to $t, the file that was backed up" >&2; exit @moved
fi
guard "$(dirname -- "$p")"
guard "$(dirname -- "$t")"
n=$(mktemp -- "$(dirname -- "$t")/.$(basename -- "$t").XXXXXXXX")
trap 'rm -f -- "$n"' EXIT
cp -p -- "$b" "$n"
w=$(differs "$n")
[ -z "$w" ] || { echo "restore: the copy of $b differs in $w" >&2; exit @corrupt; }
mv -f -- "$n" "$t"
trap - EXIT
w=$(differs "$t")
[ -z "$w" ] || { echo "restore: $p does not match after restore: $w" >&2; exit @corrupt; }""")

_CODES = {
    "missing": MISSING,
    "exists": EXISTS,
    "corrupt": CORRUPT,
    "refused": REFUSED,
    "moved": MOVED,
}


def dir_guard(action: str) -> str:
    """The shell function `guard DIR` (see _GUARD), its messages starting with `action`:
    for any script that writes into a directory of the host (it expects `u=$(id -u)`)."""
    return _GUARD.substitute(_CODES, action=action)


def backup_dir_shell(backup_dir: str | None) -> str:
    """Shell that sets `d` to the backup directory: `backup_dir`, or (None) the tool's default
    for the user whose uid is `$u`."""
    if backup_dir is None:
        return _DEFAULT_DIR.substitute(root=ROOT_BACKUP_DIR, home=HOME_BACKUP_DIR)
    return f"d={shlex.quote(backup_dir)}"


def shell_text(text: str) -> str:
    """`text` safe inside a double-quoted shell string."""
    return _q(text)


def backup_script(path: str, run_id: str, backup_dir: str | None = None) -> str:
    """Copy `path` (through any symbolic link) into this run's part of the backup directory.

    The copy is `<backup dir>/<run id>/<resolved path>.<random>` with the file's mode and
    owner; the script prints what `parse_backup` reads: the resolved file, the copy, and the
    sha256 and stat of both. `backup_dir` None: the tool's default for the step's user.
    """
    return _BACKUP_SCRIPT.substitute(
        _CODES,
        guard=dir_guard("backup"),
        path=shlex.quote(path),
        dir=backup_dir_shell(backup_dir),
        run=shlex.quote(run_id),
        target=_TARGET,
        backup=_BACKUP,
    )


def parse_backup(output: str) -> Copied | None:
    """What a backup script reported, or None if the copy differs from the file (or the
    output is not the script's)."""
    lines = output.strip().splitlines()
    if len(lines) < 6 or not lines[-6].startswith(_TARGET) or not lines[-5].startswith(_BACKUP):
        return None
    sums = [ln.split()[0] if ln.split() else "" for ln in lines[-4:-2]]
    stats = lines[-2:]
    if sums[0] != sums[1] or stats[0] != stats[1] or not re.fullmatch(r"[0-9a-f]{64}", sums[0]):
        return None
    target, backup = lines[-6].removeprefix(_TARGET), lines[-5].removeprefix(_BACKUP)
    return Copied(target=target, backup=backup, sha256=sums[0], mode=stats[0])


def backup_output(copied: Copied) -> str:
    """What a backup script prints for `copied` (the form `parse_backup` reads), for fakes."""
    lines = [f"{_TARGET}{copied.target}", f"{_BACKUP}{copied.backup}"]
    lines += [f"{copied.sha256}  -"] * 2 + [copied.mode] * 2
    return "\n".join(lines) + "\n"


def restore_script(
    path: str, backup: str, sha256: str, mode: str | None = None, target: str | None = None
) -> str:
    """Put `backup` back over the file it was taken from, never through a planted name.

    `target` is the file `path` led to when it was backed up (None: `path` itself), `mode`
    the "MODE OWNER:GROUP" recorded then (None: the backup's own).
    """
    return _RESTORE_SCRIPT.substitute(
        _CODES,
        guard=dir_guard("restore"),
        sum=shlex.quote(f"{sha256}  -"),
        mode=shlex.quote(mode) if mode is not None else '"$(stat -c \'%a %U:%G\' -- "$b")"',
        path=shlex.quote(path),
        file=shlex.quote(target or path),
        copy=shlex.quote(backup),
    )


HOLDER = "holder.json"


def lock_script(lock: str, holder: dict[str, object]) -> str:
    """Take the host lock atomically (mkdir, 0700, this user's); else say why not.

    Exit 0: taken. LOCK_HELD: a lock exists: prints `owner USER ME` (the directory's owner,
    and the login user asking) and its holder record (the caller judges whether it is this
    tool's). CANNOT_LOCK: the directory cannot be created
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
            f'  echo "owner $(stat -c %U {quoted}) $(id -un)"',  # its owner, and who asks
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

# A put's content travels base64-encoded inside its script, and a script travels on the
# channel's standard input (never on a command line, whose one argument Linux limits to
# 128 KiB); the shell's own `printf` decodes it. So a put carries what a source may hold.
PUT_INLINE_MAX = 1024 * 1024
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


# --- what the review and the gates show --------------------------------------------------


def step_script(
    step: PlannedStep,
    run_id: str = "{run.id}",
    backup_dir: str | None = None,
    words: Words = EN,
) -> str:
    """The shell the tool sends for a step (secrets masked), or "" when nothing runs remotely.

    `backup_dir` is the host's setting (None: the default the script picks on the host). A
    restore's values come from the release's journal and show as placeholders, said in
    `words` (the review document, which must show the script as it is, keeps the English;
    the digest covers the step, not this text).
    """
    if step.action is Action.RUN:
        return mask(step.command or "")
    if step.action is Action.BACKUP:
        return "\n".join(mask(backup_script(p, run_id, backup_dir)) for p in step.paths)
    if step.action is Action.RESTORE:
        return "\n".join(
            mask(
                restore_script(
                    p,
                    words("script.backup-made"),
                    words("script.sha256-at-backup"),
                    words("script.mode-at-backup"),
                    words("script.target-at-backup"),
                )
            )
            for p in step.paths
        )
    if step.action is Action.PUT and step.put is not None:
        put = step.put
        return put_script(put.dest, None, put.sha256, put.mode, put.owner, replace=put.backed_up)
    return ""
