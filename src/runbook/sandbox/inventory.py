"""The sandbox as an inventory host: its entry, and writing it into a hosts.yaml.

`write_inventory` edits the file as text, between marker comments, so the user's own hosts,
comments and layout survive; the result is parsed again before it is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from runbook.errors import RefusedError

from .files import write_text
from .layout import Endpoints, Layout
from .notes import english, in_english
from .repository import BRANCH

if TYPE_CHECKING:
    from runbook.words import Words

# The inventory `inv sandbox.up` and `inv demo` write: the project's own, untracked (.gitignore),
# so that the tracked hosts.yaml stays as committed. Commands take it with `--inventory`.
INVENTORY = "hosts.sandbox.yaml"

BEGIN_MARK = "# >>> {host} (written by inv sandbox.up; inv sandbox.down leaves it)"
END_MARK = "# <<< {host}"


class InventoryHost(Protocol):
    """Anything with an inventory entry (a `Sandbox`)."""

    def host_entry(self) -> dict[str, Any]: ...


def host_entry(layout: Layout, endpoints: Endpoints, *, user: str, as_root: bool) -> dict[str, Any]:
    """The inventory entry of one sandbox, with the vars runbooks/nginx-websocket.yaml uses."""
    return {
        "address": endpoints.address,
        "port": endpoints.ssh_port,
        "user": user,
        "identity": str(layout.client_key),
        "known_hosts": str(layout.known_hosts),
        "sudo": as_root,
        "lock": str(layout.lock_path),
        "backup_dir": str(layout.backup_dir),
        "vars": {
            "nginx_conf": str(layout.nginx_conf),
            "config_repo": str(layout.config_repo),
            "config_clone": str(layout.config_clone),
            "branch": BRANCH,
            "nginx": layout.nginx_command,
            "cable_url": endpoints.cable_url,
            "app_log": str(layout.backend_log),
        },
    }


def inventory_for(hosts: Mapping[str, InventoryHost]) -> dict[str, Any]:
    """An inventory mapping with one host per sandbox."""
    return {"hosts": {name: box.host_entry() for name, box in hosts.items()}}


def write_inventory(
    path: Path, entry: Mapping[str, Any], *, host: str = "sandbox", words: Words | None = None
) -> str:
    """Put `host: entry` into the `hosts:` mapping of `path` between marker comments.

    The block is replaced on each call; the rest of the file is kept as written. The file is
    created when absent. Returns a line saying what was done, in `words`' language.
    """
    # Imported here, not at the top: PyYAML takes ~25 ms to import (measured, no bytecode cache),
    # and every start of the backend (`python -m runbook.sandbox.backend`) imports this package,
    # on the critical path of `up()`; only `inv sandbox.up` with an inventory needs YAML.
    import yaml

    path = Path(path)
    begin, end = BEGIN_MARK.format(host=host), END_MARK.format(host=host)
    lines = path.read_text().splitlines() if path.exists() else []
    body = yaml.safe_dump({host: dict(entry)}, sort_keys=False, default_flow_style=None, width=200)
    new = _with_block(path, lines, host, begin, end, body)
    result = "\n".join(new) + "\n"
    try:
        loaded = yaml.safe_load(result)
    except yaml.YAMLError as exc:
        raise RefusedError(
            english("error.sandbox.inventory-broken", path=path, host=host, reason=exc)
        ) from None
    if not isinstance(loaded, dict) or (loaded.get("hosts") or {}).get(host) != dict(entry):
        raise RefusedError(
            english("error.sandbox.inventory-taken", path=path, host=host),
            hint=english("error.sandbox.inventory-taken-hint", begin=repr(begin)),
        )
    write_text(path, result, mode=0o644)
    return (words or in_english())("sandbox.inventory-written", host=host, path=path)


def _with_block(
    path: Path, lines: list[str], host: str, begin: str, end: str, body: str
) -> list[str]:
    """`lines` with the marked block replaced, or added as the first host under `hosts:`."""
    starts = [i for i, line in enumerate(lines) if line.strip() == begin]
    if starts:
        i = starts[0]
        j = next((k for k in range(i, len(lines)) if lines[k].strip() == end), None)
        if j is None:
            raise RefusedError(
                english(
                    "error.sandbox.inventory-no-end",
                    where=f"{path}:{i + 1}",
                    host=host,
                    end=repr(end),
                )
            )
        indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
        return lines[:i] + _block(begin, end, body, indent) + lines[j + 1 :]
    keys = [i for i, line in enumerate(lines) if line.split("#")[0].rstrip() == "hosts:"]
    empty_flow = [
        i
        for i, line in enumerate(lines)
        if line.split("#")[0].replace(" ", "") in ("hosts:{}", "hosts:null", "hosts:~")
    ]
    if keys or empty_flow:
        i = (keys or empty_flow)[0]
        lines = [*lines[:i], "hosts:", *lines[i + 1 :]]
        # Indent like the hosts already there, so the block joins their mapping.
        indent = "  "
        for line in lines[i + 1 :]:
            if line.strip() and not line.lstrip().startswith("#"):
                if line[0] in " \t":
                    indent = line[: len(line) - len(line.lstrip())]
                break
        return lines[: i + 1] + _block(begin, end, body, indent) + lines[i + 1 :]
    if any(line.startswith("hosts:") for line in lines):
        raise RefusedError(
            english("error.sandbox.inventory-one-line", path=path, host=host),
            hint=english("error.sandbox.inventory-one-line-hint"),
        )
    return [*lines, "hosts:", *_block(begin, end, body, "  ")]


def _block(begin: str, end: str, body: str, indent: str) -> list[str]:
    return [indent + begin, *(indent + line for line in body.splitlines()), indent + end]
