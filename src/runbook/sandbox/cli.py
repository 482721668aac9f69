"""What `inv sandbox.up`, `sandbox.down` and `sandbox.status` do; each returns what to print."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runbook.errors import RefusedError

from .host import Sandbox
from .inventory import write_inventory
from .layout import DEFAULT_ADDRESS, DEFAULT_PORTS, Layout, read_settings
from .notes import Notes, Say, in_english

if TYPE_CHECKING:
    from runbook.words import Words


def up(
    root: Path,
    *,
    address: str | None = None,
    ssh_port: int | None = None,
    http_port: int | None = None,
    backend_port: int | None = None,
    inventory: Path | None = None,
    host: str = "sandbox",
    say: Say | None = None,
    words: Words | None = None,
) -> str:
    """`inv sandbox.up`: start the sandbox, add it to `inventory`; return what to print.

    Address and ports not given are the ones this root used last time, else the defaults.
    `say` gets each line as it happens, in `words`' language; the return value is the same
    lines, joined.
    """
    words = words or in_english()
    try:
        saved = read_settings(Layout(Path(root).absolute()))
    except (OSError, ValueError):
        saved = {}
    defaults: dict[str, Any] = {"address": DEFAULT_ADDRESS, **DEFAULT_PORTS}

    def given_or_last(key: str, given: object) -> Any:
        return given if given is not None else saved.get(key, defaults[key])

    box = Sandbox(
        root,
        address=given_or_last("address", address),
        ssh_port=given_or_last("ssh_port", ssh_port),
        http_port=given_or_last("http_port", http_port),
        backend_port=given_or_last("backend_port", backend_port),
    )
    note = Notes(say)
    box.up(say=note, words=words)
    if inventory is not None:
        note(write_inventory(inventory, box.host_entry(), host=host, words=words))
    if box.as_root:
        note(words("sandbox.sudo-password", file=box.sudo_password_file))
    else:
        note(words("sandbox.ordinary-user", user=box.user))
    note(words("sandbox.try-ssh", command=shlex.join(box.ssh_command("true"))))
    return "\n".join(note.lines)


def down(root: Path, *, say: Say | None = None, words: Words | None = None) -> str:
    """`inv sandbox.down`: stop what `sandbox.up` started; return what to print."""
    words = words or in_english()
    try:
        box = Sandbox.load(root)
    except RefusedError:
        return words("sandbox.none-to-stop", root=Path(root).absolute())
    return "\n".join(box.down(say=say, words=words))


def status(root: Path, *, words: Words | None = None) -> str:
    """`inv sandbox.status`: one line per component."""
    words = words or in_english()
    try:
        box = Sandbox.load(root)
    except RefusedError:
        return words("sandbox.none-to-show", root=Path(root).absolute())
    state = box.status(words)
    width = max(len(k) for k in state)
    mode = "sandbox.status.root-mode" if box.as_root else "sandbox.status.user-mode"
    head = words(mode, root=box.root, address=box.address)
    return "\n".join([head, *(f"  {k:<{width}}  {v}" for k, v in state.items())])
