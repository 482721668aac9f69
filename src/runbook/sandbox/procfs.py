"""What Linux's /proc says about processes: start times, children and listening sockets.

A pid alone may be reused after its process ends; a pid together with its start time names one
process for good, which is how the sandbox tells its own processes from strangers.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def _stat_fields(stat: str) -> list[str]:
    """The fields of /proc/PID/stat after the command name (which may hold spaces and ')')."""
    return stat[stat.rindex(")") + 2 :].split()


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (None if it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = _stat_fields(stat)
    if fields[0] == "Z":  # a zombie has ended
        return None
    return int(fields[19])


def children(pid: int) -> list[int]:
    """The pids whose parent is `pid`."""
    kids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(_stat_fields(stat)[1]) == pid:
            kids.append(int(entry.name))
    return kids


def descendants(pid: int) -> list[int]:
    """Children, grandchildren and so on (an sshd's sessions and their shells)."""
    found, todo = [], [pid]
    while todo:
        for kid in children(todo.pop()):
            found.append(kid)
            todo.append(kid)
    return found


def listening_inodes(port: int) -> set[str]:
    """Inodes of the sockets listening on TCP `port` (any address)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                inodes.add(fields[9])
    return inodes


def holds_socket(pid: int, inodes: set[str]) -> bool:
    """True when process `pid` has one of these sockets open (False once it is gone)."""
    wanted = {f"socket:[{inode}]" for inode in inodes}
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        with contextlib.suppress(OSError):
            if os.readlink(f"/proc/{pid}/fd/{fd}") in wanted:
                return True
    return False
