"""One command on an open SSH connection, over a paramiko channel of its own.

The command line is the fixed wrapper of `base.wrapper_command`; this module holds the other
side of its handshake:

1. exec the wrapper; read stdout and stderr as they come (one thread, `select` on the channel);
2. before the start mark, stderr is sudo's and the login shell's alone (the script has not
   been sent), and so is stdout before its own copy of the mark: what they print there (a
   chatty .bashrc) is the login output (`Ended.before`), never the command's. sudo's
   prompt (unique to this command) is answered once with the password, which is asked for
   only then (`password()`: a sudo that asks none never needs one); a second prompt,
   "Sorry, try again." or the channel ending without the mark means sudo refused, and the
   script never ran;
3. at the mark (`runbook-started NONCE PGID`) the command's process group is known (`on_start`)
   and the script is sent on stdin, then EOF. From here on everything on stderr is the
   command's own: nothing it prints is read as a prompt, a refusal or a mark;
4. the result is the exit status once both streams have ended, or a timeout, or a lost link.

On a terminal (`pty`) there is one stream: stdout carries the login output, sudo's prompt,
the mark (once) and then the command's output, stderr included.

Output goes through `output.Stream`: linear time, bounded memory, whatever the host prints.
"""

from __future__ import annotations

import contextlib
import select
import time
from collections.abc import Callable
from dataclasses import dataclass

import paramiko

from .base import START_MARK
from .output import Stream

__all__ = ["OPEN_TIMEOUT", "Ended", "NoStart", "NotStarted", "Secret", "StepChannel", "SudoRefused"]

READ_SIZE = 1 << 16
OPEN_TIMEOUT = 30.0  # to open a channel on a connection that is up: seconds, not minutes
BEFORE_MARK_KEPT = 1 << 13  # what sudo and the login shell print first: short, kept short
SORRY = "Sorry, try again."


class Secret:
    """A password that prints as *** in any repr or traceback."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def __repr__(self) -> str:
        return "***"

    __str__ = __repr__

    def reveal(self) -> str:
        return self._value


class SudoRefused(Exception):
    """sudo asked for a password that was not given (`missing`), or refused the one given."""

    def __init__(self, missing: bool) -> None:
        super().__init__("sudo needs a password" if missing else "sudo refused the password")
        self.missing = missing


class NotStarted(Exception):
    """The session for a command could not even be opened: nothing ran."""

    def __init__(self, reason: BaseException) -> None:
        super().__init__(str(reason))
        self.reason = reason


class NoStart(Exception):
    """The channel ended before the wrapper said it runs: the script was never sent.

    Attributes:
        exit_code: the channel's exit status (None: none, or the connection is gone).
        stderr: what was printed before (sudo's or the login shell's words, no prompt).
        answered: the sudo password had been sent (so sudo refused it).
    """

    def __init__(self, exit_code: int | None, stderr: str, answered: bool) -> None:
        super().__init__(stderr.strip().splitlines()[-1] if stderr.strip() else "no output")
        self.exit_code = exit_code
        self.stderr = stderr
        self.answered = answered


@dataclass(frozen=True)
class Ended:
    """How the command's channel ended (after the start mark).

    Attributes:
        exit_code: its exit status; None without one (timed out, closed by a signal, lost).
        closed: the channel closed without an exit status (`exit_code` is None).
        before: the login output: what the login shell and sudo printed before the marks
            (not part of stdout or stderr).
    """

    exit_code: int | None
    stdout: str
    stderr: str
    timed_out: bool = False
    closed: bool = False
    before: str = ""


class _Handshake:
    """A stream before the start mark: sudo's prompt, sudo's refusals, the mark itself.

    Fed text as it comes; keeps at most `BEFORE_MARK_KEPT` characters. Counting is
    incremental: each character is looked at a bounded number of times.
    """

    def __init__(self, nonce: str, prompt: str = "") -> None:
        self.mark = f"{START_MARK} {nonce} "
        self.prompt = prompt
        self.text = ""
        self.prompts = 0
        self.sorry = False
        self._scanned = 0  # no prompt, refusal or mark starts before this index of `text`

    def feed(self, text: str) -> tuple[int, str] | None:
        """(process group, stderr after the mark's line) once the mark is whole, else None."""
        self.text += text
        at = self.text.find(self.mark, max(self._scanned - len(self.mark), 0))
        end = self.text.find("\n", at) if at >= 0 else -1
        seen = self.text if end < 0 else self.text[:at]
        if self.prompt:
            self.prompts += seen.count(self.prompt, self._scanned)
        self.sorry = self.sorry or SORRY in seen[max(self._scanned - len(SORRY), 0) :]
        if end >= 0:
            pgid = self.text[at + len(self.mark) : end].strip()
            after = self.text[end + 1 :]
            self.text = seen
            return (int(pgid) if pgid.isdigit() else 0), after
        # Nothing can start before the last len(longest) - 1 characters any more.
        longest = max(len(self.mark), len(self.prompt), len(SORRY))
        self._scanned = max(len(self.text) - longest + 1, 0)
        if len(self.text) > BEFORE_MARK_KEPT:
            cut = len(self.text) - BEFORE_MARK_KEPT // 2
            self.text, self._scanned = self.text[cut:], self._scanned - cut
        return None

    def before(self) -> str:
        """What was printed before the mark, without sudo's prompts."""
        return self.text.replace(self.prompt, "") if self.prompt else self.text


class StepChannel:
    """Runs one wrapped command on `transport` and sends `script` once it has started.

    `on_start(pgid)` is called when the mark arrives (before the script is sent); `on_output`
    gets every line of the command's own output. `pty`: run it on a terminal (one stream).
    """

    def __init__(
        self,
        transport: paramiko.Transport,
        command: str,
        script: bytes,
        *,
        nonce: str,
        prompt: str = "",
        password: Callable[[], Secret | None] | None = None,
        timeout: float | None = None,
        on_output: Callable[[str, str], None] | None = None,
        on_start: Callable[[int], None] | None = None,
        open_timeout: float = OPEN_TIMEOUT,
        pty: bool = False,
        ahead: Callable[[], paramiko.Channel | None] | None = None,
    ) -> None:
        self.transport = transport
        self.pty = pty
        self.ahead = ahead  # gives a session channel opened ahead (unused), if there is one
        self.open_timeout = open_timeout
        self.command = command
        self.script = script
        self.password = password
        self.timeout = timeout
        self._deadline: float | None = None
        self.on_start = on_start
        # sudo's prompt and the mark that counts come on stderr, or on the terminal with pty.
        self.handshake = _Handshake(nonce, prompt)
        self.stdout = Stream("stdout", on_output)
        self.stderr = Stream("stderr", on_output)
        # Without pty, stdout has its own copy of the mark: what comes before it is not ours.
        self.out_shake = _Handshake(nonce)
        self.out_started = pty  # stdout's mark has come (on a terminal: there is none)
        self.started = False  # the start mark has come: the command runs
        self.answered = False  # sudo's prompt was answered
        self.sent = False  # the script and EOF were sent
        self._offset = 0  # of the script, sent so far

    def run(self) -> Ended:
        """Run it to its end. Raises NotStarted, SudoRefused, NoStart (nothing ran then)."""
        self._deadline = None if self.timeout is None else time.monotonic() + self.timeout
        started = self._exec_on_ahead()  # None: no channel opened ahead, or the host closed it
        try:
            chan = started or self.transport.open_session(timeout=self.open_timeout)
        except (paramiko.SSHException, OSError, EOFError) as exc:
            raise NotStarted(exc) from exc
        try:
            try:
                if started is None:
                    self._start(chan)
            except (paramiko.SSHException, OSError, EOFError) as exc:
                raise NotStarted(exc) from exc
            return self._until_end(chan)
        finally:
            chan.close()  # also on Ctrl-C: the command itself is ended by cancel(), if asked

    def _exec_on_ahead(self) -> paramiko.Channel | None:
        """The command started on a channel opened ahead (its open's round trip already
        taken), or None: there is none, or the host had closed it (the exec was refused, or
        the channel closed before its answer: nothing ran, so the caller opens a new one)."""
        chan = self.ahead() if self.ahead is not None else None
        if chan is None:
            return None
        try:
            self._start(chan)
        except (paramiko.SSHException, OSError, EOFError):
            chan.close()
            return None
        except BaseException:
            chan.close()
            raise
        return chan

    def _start(self, chan: paramiko.Channel) -> None:
        """Ask for the terminal, if any, then for the command (each waits for its answer)."""
        if self.pty:  # "dumb": no colour or cursor codes from programs that ask
            chan.get_pty(term="dumb", width=200, height=50)
        chan.exec_command(self.command)

    # -- the loop --------------------------------------------------------------------------

    def _until_end(self, chan: paramiko.Channel) -> Ended:
        ready = chan.fileno()  # readable while either stream has data, and after EOF
        while True:
            for _ in range(16):  # a bounded drain per turn: the deadline is looked at
                got = False
                if chan.recv_ready():
                    self._stdout(chan, chan.recv(READ_SIZE))
                    got = True
                if chan.recv_stderr_ready():
                    self._stderr(chan, chan.recv_stderr(READ_SIZE))
                    got = True
                if not got:
                    break
            if self.started and not self.sent:
                self._send(chan)
            deadline = self._deadline
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return self._end(chan, None, timed_out=True)
            if _drained(chan):
                if not self.started:
                    raise NoStart(_status(chan), self.handshake.before(), self.answered)
                # Both streams are at their end: the exit status follows (or the close).
                chan.status_event.wait(left)
                if not chan.exit_status_ready():
                    return self._end(chan, None, timed_out=True)
                status = _status(chan)
                return self._end(chan, status, closed=status is None)
            wait = 0.01 if self.started and not self.sent else left
            select.select([ready], [], [], wait if wait is None else max(wait, 0.0))

    def before(self) -> str:
        """The login output: what the login shell (and sudo) printed before the marks."""
        parts = [self.out_shake.before(), self.handshake.before()]
        text = "".join(p if p.endswith("\n") or not p else p + "\n" for p in parts)
        return text.replace("\r\n", "\n")  # a terminal's line ends, before it is made raw

    def _stdout(self, chan: paramiko.Channel, data: bytes) -> None:
        """stdout: the login shell's until its copy of the mark, the command's own after it."""
        if self.pty:
            self._control(chan, self.stdout, data)
            return
        text = self.stdout.decode(data)
        if self.out_started:
            self.stdout.add(text)
            return
        found = self.out_shake.feed(text)
        if found is not None:
            self.out_started = True
            self.stdout.add(found[1])

    def _stderr(self, chan: paramiko.Channel, data: bytes) -> None:
        if self.pty:  # nothing comes here on a terminal; should it, it is the command's
            self.stderr.feed(data)
            return
        self._control(chan, self.stderr, data)

    def _control(self, chan: paramiko.Channel, stream: Stream, data: bytes) -> None:
        """The stream of the handshake (stderr, or the terminal): until the start mark it is
        sudo's and the login shell's, after it the command's own."""
        text = stream.decode(data)
        if self.started:
            stream.add(text)
            return
        found = self.handshake.feed(text)
        shake = self.handshake
        if shake.prompts > 1 or (shake.sorry and self.answered):
            raise SudoRefused(missing=False)
        if shake.prompts == 1 and not self.answered:
            asked = time.monotonic()
            password = self.password() if self.password is not None else None
            if self._deadline is not None:  # the time the operator took to type it is not
                self._deadline += time.monotonic() - asked  # the step's: it has not started
            if password is None:
                raise SudoRefused(missing=True)
            self.answered = True
            with contextlib.suppress(OSError):  # closed: sudo gave up; NoStart says so
                chan.sendall((password.reveal() + "\n").encode())
        if found is None:
            return
        pgid, after = found
        self.started = True
        if self.on_start is not None and pgid > 1:
            self.on_start(pgid)
        stream.add(after)

    def _send(self, chan: paramiko.Channel) -> None:
        """Send as much of the script as the channel's window takes now, then EOF; never
        blocks, so output keeps being read while a long script goes out."""
        try:
            while self._offset < len(self.script) and chan.send_ready():
                sent = chan.send(self.script[self._offset : self._offset + READ_SIZE])
                if sent <= 0:
                    return
                self._offset += sent
            if self._offset >= len(self.script):
                chan.shutdown_write()
                self.sent = True
        except OSError:  # the channel closed: the command ended, or the link died
            self.sent = True

    def _end(
        self,
        chan: paramiko.Channel,
        status: int | None,
        *,
        timed_out: bool = False,
        closed: bool = False,
    ) -> Ended:
        chan.close()
        return Ended(
            status,
            self.stdout.finish(),
            self.stderr.finish(),
            timed_out=timed_out,
            closed=closed,
            before=self.before(),
        )


def _drained(chan: paramiko.Channel) -> bool:
    """Both streams are at their end (EOF or closed) and nothing is left to read."""
    ended = bool(chan.eof_received or chan.closed)
    return ended and not chan.recv_ready() and not chan.recv_stderr_ready()


def _status(chan: paramiko.Channel) -> int | None:
    """The exit status, or None: none yet, or the channel closed without one (a signal)."""
    if not chan.exit_status_ready() or chan.exit_status < 0:
        return None
    return int(chan.exit_status)
