"""The built-in actions as shell scripts: pure functions, shown in the review and sent as is.

Backup, restore and the host lock are plain POSIX shell run over the same connection as every
other step, so the review document can show exactly what they do.

Backups are written as if another user on the host were trying to redirect them: never beside
the file, always into a private backup directory under names no one else can create, through a
symbolic link only after resolving it once, and never in a directory another user can write.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from string import Template

# Exit codes the scripts use to say why they stopped (anything else is the shell's own).
MISSING = 3  # the file to back up, or the backup to restore, does not exist
EXISTS = 4  # where this run's backups go is taken by something that is not its directory
CORRUPT = 5  # a checksum, mode or owner did not match
REFUSED = 6  # nothing changed: a directory others can write, a backup directory not private
MOVED = 7  # the path no longer leads to the file that was backed up
LOCK_HELD = 75  # another run holds the host lock

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


def backup_script(path: str, run_id: str, backup_dir: str | None = None) -> str:
    """Copy `path` (through any symbolic link) into this run's part of the backup directory.

    The copy is `<backup dir>/<run id>/<resolved path>.<random>` with the file's mode and
    owner; the script prints what `parse_backup` reads: the resolved file, the copy, and the
    sha256 and stat of both. `backup_dir` None: the tool's default for the step's user.
    """
    if backup_dir is None:
        where = _DEFAULT_DIR.substitute(root=ROOT_BACKUP_DIR, home=HOME_BACKUP_DIR)
    else:
        where = f"d={shlex.quote(backup_dir)}"
    return _BACKUP_SCRIPT.substitute(
        _CODES,
        guard=dir_guard("backup"),
        path=shlex.quote(path),
        dir=where,
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


def lock_script(lock: str, holder: dict[str, object]) -> str:
    """Take the host lock atomically (mkdir); if held, print the holder and exit LOCK_HELD."""
    quoted = shlex.quote(lock)
    info = shlex.quote(json.dumps(holder, sort_keys=True))
    return (
        f"if mkdir {quoted} 2>/dev/null; then printf '%s\\n' {info} > {quoted}/holder.json; "
        f"else cat {quoted}/holder.json 2>/dev/null || echo '{{}}'; exit {LOCK_HELD}; fi"
    )


def unlock_script(lock: str, run_id: str) -> str:
    """Release the lock only if this run holds it."""
    quoted = shlex.quote(lock)
    return (
        f"if grep -qF {shlex.quote(run_id)} {quoted}/holder.json 2>/dev/null; "
        f"then rm -rf {quoted}; fi"
    )


def break_lock_script(lock: str) -> str:
    """Remove the lock whoever holds it (`--break-lock`), printing the holder it removes."""
    quoted = shlex.quote(lock)
    return f"cat {quoted}/holder.json 2>/dev/null || true; rm -rf {quoted}"
