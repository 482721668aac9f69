"""What the operator supplies besides options: secrets, the sudo password, who they are, and
who answers the gates. The only module of the commands that prompts (hidden, without echo)."""

from __future__ import annotations

import contextlib
import getpass
import os
import select
import termios
import threading
import time
from collections.abc import Callable, Sequence

from ..core.model import Plan
from ..errors import InputError, Problem, RefusedError
from ..gate import Gate, TerminalGate, YesGate
from ..text import visible
from ..transport.base import PromptLeft, sudo_password_env
from ..words import EN, Words


def resolve_secrets(names: tuple[str, ...], interactive: bool, words: Words = EN) -> dict[str, str]:
    """Each secret from RUNBOOK_SECRET_<NAME>, else a hidden prompt (only with a terminal)."""
    values: dict[str, str] = {}
    for name in names:
        env = f"RUNBOOK_SECRET_{name.upper()}"
        if env in os.environ:
            values[name] = os.environ[env]
        elif interactive:
            values[name] = getpass.getpass(words("prompt.secret", name=name))
        else:
            raise RefusedError(EN("error.secret.not-set", name=name), hint=f"export {env}=...")
        # Shorter ones are masked inside ordinary words too ("interrupted b***").
        if len(values[name]) < MIN_SECRET:
            where = env if env in os.environ else "the prompt"
            problem = "input.secret.empty" if not values[name] else "input.secret.too-short"
            raise InputError(
                [
                    Problem(
                        where,
                        None,
                        EN(problem, name=name),
                        EN("input.secret.hint", count=MIN_SECRET),
                    )
                ]
            )
    return values


MIN_SECRET = 4  # characters


class SudoPassword:
    """The sudo passwords (a `transport.base.SudoCredential`), asked for only when sudo wants one.

    Nothing is asked or refused up front: a user whose sudo needs no password (NOPASSWD, the
    default user of cloud images) never gives one. When sudo on a host prompts, the password is
    `RUNBOOK_SUDO_PASSWORD_<HOST>` (see `transport.base.sudo_password_env`), else
    `RUNBOOK_SUDO_PASSWORD`, else asked on the terminal: once for each host that needs one
    (the prompt names it), or again after a typo (up to three tries, as sudo allows). Without
    a terminal and nothing set, `password()` refuses and the transport refuses the step before
    it runs. Hosts of a batch ask from their own threads: one prompt at a time.

    `for_host(name)` is the view of one host (what each host's transport is given); the object
    itself is the view of a host without a name (only `RUNBOOK_SUDO_PASSWORD`, prompt unnamed).
    """

    TRIES = 3  # as sudo itself allows

    def __init__(
        self,
        interactive: bool,
        plans: Sequence[Plan] = (),
        words: Words = EN,
        *,
        before_prompt: Callable[[], None] | None = None,
    ) -> None:
        # Nothing is checked up front: whether a host's sudo wants a password shows at its
        # first sudo step. The plans' hosts only name the passwords to scrub from the start.
        self.interactive = interactive
        self.words = words  # the prompt's language
        self._lock = threading.Lock()  # the state below
        self._asking = threading.Lock()  # one prompt on the terminal at a time
        self._values: dict[str, str | None] = {}
        self._typed: dict[str, int] = {}
        self._seen: list[str] = []
        # Ctrl-C at the prompt: the executor calls leave_prompt(), the prompt leaves
        # (PromptLeft), and no prompt opens again. The time spent at the prompt, by host, is
        # not a step's time.
        self._left = threading.Event()
        self._before_prompt = before_prompt  # clears the console's status line
        self._open = False
        self._waited: dict[str, float] = {}
        self._default = os.environ.get("RUNBOOK_SUDO_PASSWORD")
        if self._default:
            self._seen.append(self._default)
        for plan in plans:
            own = os.environ.get(sudo_password_env(plan.host.name))
            if own and own not in self._seen:
                self._seen.append(own)

    def for_host(self, name: str) -> HostSudoPassword:
        """The credential for the host named `name` (its own password, prompt and tries)."""
        return HostSudoPassword(self, name)

    # The SudoCredential of a host without a name.
    def password(self) -> str:
        return self._password("")

    def forget(self) -> bool:
        return self._forget("")

    def given(self) -> tuple[str, ...]:
        """Every password given so far, for any host: output is scrubbed of all of them."""
        with self._lock:
            return tuple(v for v in self._seen if v)

    def prompting(self) -> bool:
        """A password prompt is open on the terminal now."""
        return self._open

    def leave_prompt(self) -> bool:
        """Ctrl-C: an open prompt leaves (PromptLeft in the thread that asked), and none opens
        from now on. True if one was open."""
        self._left.set()
        return self._open

    def typing_seconds(self, host: str = "") -> float:
        """Seconds `host`'s steps waited for the password to be typed, so far."""
        with self._lock:
            return self._waited.get(host, 0.0)

    @property
    def typed(self) -> int:
        """Passwords typed at the prompt so far, all hosts together."""
        with self._lock:
            return sum(self._typed.values())

    def _from_env(self, host: str) -> str | None:
        if host:
            value = os.environ.get(sudo_password_env(host))
            if value is not None:
                with self._lock:
                    if value and value not in self._seen:
                        self._seen.append(value)
                return value
        return self._default

    def _password(self, host: str) -> str:
        with self._lock:
            value = self._values.get(host)
            typed = self._typed.get(host, 0)
        if value is not None:
            return value
        if typed == 0:
            value = self._from_env(host)
        if value is None:
            if not self.interactive:
                said = (
                    EN("error.sudo.no-password-on", host=host)
                    if host
                    else EN("error.sudo.no-password")
                )
                raise RefusedError(said, hint=no_sudo_password_hint(host))
            asked = time.monotonic()
            try:
                with self._asking:
                    with self._lock:
                        value = self._values.get(host)  # asked meanwhile by another view
                    if value is not None:
                        return value
                    self._open = True
                    try:
                        if self._before_prompt is not None:
                            self._before_prompt()
                        prompt = self.words("prompt.sudo")
                        value = ask_hidden(
                            f"{visible(host)}: {prompt}" if host else prompt, self._left
                        )
                    finally:
                        self._open = False
            finally:
                with self._lock:
                    self._waited[host] = self._waited.get(host, 0.0) + time.monotonic() - asked
            with self._lock:
                self._typed[host] = self._typed.get(host, 0) + 1
                self._seen.append(value)
        with self._lock:
            self._values[host] = value
        return value

    def _forget(self, host: str) -> bool:
        """After sudo refused a typed password: True if the operator may type it again."""
        with self._lock:
            typed = self._typed.get(host, 0)
            if typed == 0 or typed >= self.TRIES:
                return False
            self._values[host] = None
            return True


class HostSudoPassword:
    """One host's view of a `SudoPassword`: a `transport.base.SudoCredential` of its own."""

    def __init__(self, owner: SudoPassword, host: str) -> None:
        self.owner = owner
        self.host = host

    def password(self) -> str:
        return self.owner._password(self.host)

    def forget(self) -> bool:
        return self.owner._forget(self.host)

    def given(self) -> tuple[str, ...]:
        return self.owner.given()

    def prompting(self) -> bool:
        return self.owner.prompting()

    def leave_prompt(self) -> bool:
        return self.owner.leave_prompt()

    def typing_seconds(self) -> float:
        return self.owner.typing_seconds(self.host)


POLL = 0.1  # seconds: how soon a prompt sees that the operator left (Ctrl-C)


def ask_hidden(prompt: str, left: threading.Event) -> str:
    """A password typed on the terminal without echo, as getpass reads it, except that it
    leaves (PromptLeft) once `left` is set: Ctrl-C at the prompt sets it, whichever thread
    asks (signals reach the main thread only, and a blocked read would never see them)."""
    try:
        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        return getpass.getpass(prompt)  # no terminal of its own: getpass's fallback
    typed = b""
    try:
        before = termios.tcgetattr(fd)
        quiet = list(before)
        quiet[3] &= ~termios.ECHO
        termios.tcsetattr(fd, termios.TCSAFLUSH, quiet)
        try:
            os.write(fd, prompt.encode())
            while not typed.endswith(b"\n"):
                if left.is_set():
                    raise PromptLeft
                ready, _, _ = select.select([fd], [], [], POLL)
                if ready:
                    chunk = os.read(fd, 1024)
                    if not chunk:
                        raise EOFError
                    typed += chunk
        finally:
            with contextlib.suppress(OSError, termios.error):  # the terminal may be gone
                termios.tcsetattr(fd, termios.TCSAFLUSH, before)
                os.write(fd, b"\n")
    except (OSError, termios.error, EOFError) as exc:
        # The terminal went away (its window closed: EIO, end of file): nobody is there to
        # type, as when the operator leaves with Ctrl-C.
        raise PromptLeft from exc
    finally:
        os.close(fd)
    return typed[:-1].decode("utf-8", "replace")


def no_sudo_password_hint(host: str = "") -> str:
    """How to give the sudo password, or do without one."""
    env = sudo_password_env(host) if host else "RUNBOOK_SUDO_PASSWORD_<HOST>"
    return EN("error.sudo.no-password-hint", env=env)


def operator() -> str:
    return os.environ.get("RUNBOOK_OPERATOR") or getpass.getuser()


def choose_gate(yes: bool, gate: Gate | None, interactive: bool, words: Words = EN) -> Gate:
    """Who answers the gates: the one given (tests), `--yes`, or the person at the terminal
    (asked in `words`' language)."""
    if gate is not None:
        return gate
    if not yes and not interactive:
        raise RefusedError(EN("error.gate.no-terminal"), hint=EN("error.gate.no-terminal-hint"))
    return YesGate() if yes else TerminalGate(words=words)


def check_identities(plans: Sequence[Plan]) -> None:
    """Refuse a private key file others can read or that is not the operator's, as OpenSSH
    does ("UNPROTECTED PRIVATE KEY FILE"), before anything connects."""
    for path in sorted({p.host.identity for p in plans if p.host.identity}):
        try:
            st = os.stat(os.path.expanduser(path))
        except OSError:
            continue  # a missing key is refused, with its own message, when connecting
        if st.st_mode & 0o077 or st.st_uid not in (os.getuid(), 0):
            mode = f"{st.st_mode & 0o777:04o}"
            raise RefusedError(
                EN("error.identity.unprotected", path=path, mode=mode), hint=f"chmod 600 {path}"
            )
