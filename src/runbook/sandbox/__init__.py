"""The sandbox: a local target on loopback that reproduces the WebSocket failure of the demo.

One `Sandbox` is one host: everything it needs lives under its root directory, and it starts,
on one loopback address,

- an OpenSSH `sshd` with its own host key, a client key for the tool and a known_hosts entry;
- a git config repository (bare origin + a clone on `main`) whose `main` proxies `/cable` without
  the upgrade headers and whose `feature/websocket-upgrade` adds them, and a second clone, the
  operator's (`config-clone`), where the runbook pins the commit it deploys;
- a private nginx serving `main`'s config;
- the ActionCable-like backend of `runbook.sandbox.backend` behind it.

As root, sshd lets in one dedicated login user (`rbsandbox`), who may run anything with sudo *with
a password*; as an ordinary user, sshd runs as that user, only that user can log in and there is no
sudo. `down()` stops only what `up()` started (pid and process start time are checked).

Nothing here prints: `up`/`down` return their lines and take an optional `say` callable for
progress and `words` for their language (runbook.words.sandboxing; errors are raised in English
and said again at the CLI boundary); the CLI prints them.

Modules, each importing only those above it:

- `files`: atomic writes, the end of a log;
- `notes`: the progress lines (`Say`, `Notes`) and the catalog's words (`english`,
  `in_english`), imported only when something is said;
- `programs`: running git, ssh-keygen, useradd and the like, with readable errors;
- `layout`: where one sandbox's files live (`Paths`, `Layout`), its address and ports
  (`Endpoints`), its `sandbox.json` settings;
- `configs`: the sshd_config and nginx.conf texts;
- `procfs`: process start times, children and listening sockets from /proc;
- `processes`: starting the servers, readiness, the pids records, stopping, port checks;
- `ssh`: keys, known_hosts, the authorized key, sshd_config, the ssh command line;
- `repository`: the git config repository and the live nginx.conf;
- `users`: root mode's login user, sudo password, sudoers drop-in and git safe.directory;
  other local users made under the same machine lock;
- `inventory`: the host entry and writing it into hosts.sandbox.yaml between marker comments;
- `host`: the `Sandbox` class, which puts the above together;
- `cli`: `up`, `down` and `status` as `inv sandbox.*` runs them.

`backend` is the ActionCable-like app, a program of its own (`python -m runbook.sandbox.backend`)
that nothing here imports. `delay` is a slow link on loopback (a TCP proxy that holds every byte
25 ms each way), for `scripts/benchmark.py --wan` and the tests of the transport over it.
"""

from __future__ import annotations

from .cli import down, status, up
from .configs import UPGRADE_LINES, sshd_config_text
from .host import Sandbox
from .inventory import (
    BEGIN_MARK,
    END_MARK,
    INVENTORY,
    host_entry,
    inventory_for,
    write_inventory,
)
from .layout import DEFAULT_ADDRESS, DEFAULT_PORTS, Endpoints, Layout, Paths, default_root
from .notes import Notes, Say
from .processes import COMPONENTS, READY_TIMEOUT, SSHD, free_port, wait_until
from .repository import BRANCH, MAIN
from .users import LOGIN_USER, MACHINE_STATE, SUDOERS_DROPIN

__all__ = [
    "BEGIN_MARK",
    "BRANCH",
    "COMPONENTS",
    "DEFAULT_ADDRESS",
    "DEFAULT_PORTS",
    "END_MARK",
    "INVENTORY",
    "LOGIN_USER",
    "MACHINE_STATE",
    "MAIN",
    "READY_TIMEOUT",
    "SSHD",
    "SUDOERS_DROPIN",
    "UPGRADE_LINES",
    "Endpoints",
    "Layout",
    "Notes",
    "Paths",
    "Sandbox",
    "Say",
    "default_root",
    "down",
    "free_port",
    "host_entry",
    "inventory_for",
    "sshd_config_text",
    "status",
    "up",
    "wait_until",
    "write_inventory",
]
