"""The read-only shell scripts `inv preflight` sends: what a backup or a put would find on
the host (the file, the backup directory and its room, the put's directory), changing nothing.
Each prints its finding and exits 3 (missing) or 6 (refused)."""

from __future__ import annotations

from string import Template

# The file a backup copies: it must lead (through links) to a regular file this user can read.
FILE = r"""p=@path
t=$(readlink -f -- "$p") || { echo "it does not exist"; exit 3; }
[ -e "$t" ] || { echo "it does not exist"; exit 3; }
[ -f "$t" ] || { echo "$t is not a regular file ($(stat -c %F -- "$t"))"; exit 3; }
[ -r "$t" ] || { echo "$(id -un) cannot read $t"; exit 3; }
stat -c %s -- "$t"
"""

# The backup directory, read-only: what the backup script would create or refuse, without
# creating it. It prints the KiB available where it would be.
DIR = r"""u=$(id -u)
@guard
@dir
e=$d
while [ ! -e "$e" ] && [ ! -L "$e" ]; do e=$(dirname -- "$e"); done
if [ "$e" = "$d" ]; then
  if [ -L "$d" ] || [ ! -d "$d" ] || [ "$(stat -c %u -- "$d")" != "$u" ] ||
    [ $((0$(stat -c %a -- "$d") & 022)) -ne 0 ]; then
    echo "the backup directory $d must be a directory of $(id -un)'s that nobody else can" \
      "write (it is: $(stat -c '%F, mode %a, owner %U' -- "$d"))"
    exit 6
  fi
  [ -w "$d" ] || { echo "$(id -un) cannot write $d"; exit 6; }
  guard "$(dirname -- "$d")" 2>&1
else
  [ -d "$e" ] && [ ! -L "$e" ] || { echo "$e (on the way to $d) is not a directory"; exit 6; }
  [ -w "$e" ] || { echo "$(id -un) cannot create $d: $e is not writable"; exit 6; }
  guard "$e" 2>&1
fi
echo "dir $d"
df -P -k -- "$e" | awk 'NR == 2 { print "avail " $4 }'
"""


class _Script(Template):
    """A script with `@name` placeholders (as core.scripts writes them)."""

    delimiter = "@"


def shell(template: str, **values: str) -> str:
    return _Script(template.strip("\n")).substitute(values)


# As put_script checks the destination's directory: it exists and only root or this user
# may write it.
PUT = r"""f=@folder
test -d "$f" || { echo "the directory $f does not exist"; exit 3; }
if test -n "$(find -H "$f" -maxdepth 0 \( -perm -0002 -o -perm -0020 -o ! -user 0 \
  ! -user "$(id -u)" \) -print)"; then
  echo "$f may be written by a user other than $(id -un) or root: the put would be refused"
  exit 6
fi
test -w "$f" || { echo "$(id -un) cannot write $f"; exit 6; }
"""
