"""What the operator supplies besides options: secrets, the sudo password, who they are, and
who answers the gates. The only module of the commands that prompts (hidden, via getpass)."""

from __future__ import annotations

import getpass
import os
import threading
from collections.abc import Sequence

from ..core.model import Plan
from ..errors import InputError, Problem, RefusedError
from ..gate import Gate, TerminalGate, YesGate

NO_SUDO_PASSWORD_HINT = "export RUNBOOK_SUDO_PASSWORD=... or run on a terminal"  # noqa: S105 (a hint)


def resolve_secrets(names: tuple[str, ...], interactive: bool) -> dict[str, str]:
    """Each secret from RUNBOOK_SECRET_<NAME>, else a hidden prompt (only with a terminal)."""
    values: dict[str, str] = {}
    for name in names:
        env = f"RUNBOOK_SECRET_{name.upper()}"
        if env in os.environ:
            values[name] = os.environ[env]
        elif interactive:
            values[name] = getpass.getpass(f"secret {name}: ")
        else:
            raise RefusedError(f"secret '{name}' is not set", hint=f"export {env}=...")
        # Shorter ones are masked inside ordinary words too ("interrupted b***").
        if len(values[name]) < MIN_SECRET:
            where = env if env in os.environ else "the prompt"
            problem = "empty" if not values[name] else "too short to be masked reliably"
            raise InputError(
                [
                    Problem(
                        where,
                        None,
                        f"secret '{name}' is {problem}",
                        f"at least {MIN_SECRET} characters",
                    )
                ]
            )
    return values


MIN_SECRET = 4  # characters


class SudoPassword:
    """The sudo password (a `transport.base.SudoCredential`): RUNBOOK_SUDO_PASSWORD, else asked
    on the terminal when sudo first runs: once for every host, or again after a typo (up to
    three tries, as sudo allows). Hosts of a batch ask from their own threads: one prompt."""

    TRIES = 3  # as sudo itself allows

    def __init__(self, interactive: bool, plans: Sequence[Plan]) -> None:
        self.interactive = interactive
        self.value: str | None = os.environ.get("RUNBOOK_SUDO_PASSWORD")
        self.typed = 0  # passwords typed at the prompt so far
        self._seen: list[str] = [self.value] if self.value else []
        self._lock = threading.Lock()
        needs = [p.host.name for p in plans if any(s.sudo for s in (*p.steps, *p.rollback))]
        if needs and self.value is None and not interactive:
            # Found now, before connecting, rather than at the first sudo step.
            raise RefusedError(
                f"steps on {', '.join(needs)} need sudo and no password is set",
                hint=NO_SUDO_PASSWORD_HINT,
            )

    def password(self) -> str:
        with self._lock:
            if self.value is None:
                if not self.interactive:
                    raise RefusedError(
                        "a step needs sudo and no password is set", hint=NO_SUDO_PASSWORD_HINT
                    )
                self.value = getpass.getpass("sudo password: ")
                self.typed += 1
                self._seen.append(self.value)
            return self.value

    def forget(self) -> bool:
        """After sudo refused a typed password: True if the operator may type it again."""
        with self._lock:
            if self.typed == 0 or self.typed >= self.TRIES:
                return False
            self.value = None
            return True

    def given(self) -> tuple[str, ...]:
        return tuple(v for v in self._seen if v)


def operator() -> str:
    return os.environ.get("RUNBOOK_OPERATOR") or getpass.getuser()


def choose_gate(yes: bool, gate: Gate | None, interactive: bool) -> Gate:
    """Who answers the gates: the one given (tests), `--yes`, or the person at the terminal."""
    if gate is not None:
        return gate
    if not yes and not interactive:
        raise RefusedError(
            "no terminal to ask at the gates, and no --yes",
            hint="run it on a terminal, or pass --yes for automation",
        )
    return YesGate() if yes else TerminalGate()


def check_identities(plans: Sequence[Plan]) -> None:
    """Refuse a private key file others can read or that is not the operator's, as OpenSSH
    does ("UNPROTECTED PRIVATE KEY FILE"), before anything connects."""
    for path in sorted({p.host.identity for p in plans if p.host.identity}):
        try:
            st = os.stat(os.path.expanduser(path))
        except OSError:
            continue  # a missing key is refused, with its own message, when connecting
        if st.st_mode & 0o077 or st.st_uid not in (os.getuid(), 0):
            raise RefusedError(
                f"the identity file {path} can be read by others or is not yours (mode "
                f"{st.st_mode & 0o777:04o}): OpenSSH refuses such a key, and so does this tool",
                hint=f"chmod 600 {path}",
            )
