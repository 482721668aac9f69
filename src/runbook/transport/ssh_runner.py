"""One command on an open Fabric connection: the runner, the sudo watcher, the line splitter.

Invoke's runner is made for interactive use; for a release step it is changed here so that
output is decoded safely, only sudo's own prompt is answered, and a timeout, a refused
password, Ctrl-C or a connection that cannot start a session end the command at once.
"""

from __future__ import annotations

import codecs
import threading
from collections.abc import Callable, Iterator
from typing import Any

import paramiko
from fabric.runners import Remote
from invoke.exceptions import WatcherError
from invoke.watchers import StreamWatcher

__all__ = ["Lines", "NotStarted", "Secret", "StepRemote", "SudoAnswer", "SudoRefused", "unprompt"]


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


class SudoRefused(WatcherError):
    """sudo asked for a password that was not given (`missing`), or asked again."""

    def __init__(self, missing: bool) -> None:
        super().__init__("sudo needs a password" if missing else "sudo refused the password")
        self.missing = missing


class SudoAnswer(StreamWatcher):
    """Answers sudo's (unique) prompt once; a second prompt means the password was wrong."""

    def __init__(self, prompt: str, password: Secret | None) -> None:
        super().__init__()
        self.prompt = prompt
        self.password = password
        self.seen = 0
        self.answered = False
        self.scanned = 0  # no prompt starts before this index of the stream

    def submit(self, stream: str) -> list[str]:
        self.seen += stream.count(self.prompt, self.scanned)
        self.scanned = max(self.scanned, len(stream) - len(self.prompt) + 1)
        if self.seen == 0 or (self.seen == 1 and self.answered):
            return []
        if self.password is None:
            raise SudoRefused(missing=True)
        if self.seen > 1:
            raise SudoRefused(missing=False)
        self.answered = True
        return [self.password.reveal() + "\n"]


def unprompt(stderr: str, prompt: str) -> str:
    """`stderr` without sudo's prompt."""
    return stderr.replace(prompt, "") if prompt else stderr


class NotStarted(Exception):
    """The session for a command could not even be opened: nothing ran."""

    def __init__(self, reason: BaseException) -> None:
        super().__init__(str(reason))
        self.reason = reason


class Lines:
    """Chunks of output in, whole lines out (per stream), the sudo prompt taken out."""

    def __init__(self, emit: Callable[[str, str], None], prompt: str) -> None:
        self.emit = emit
        self.prompt = prompt
        self.partial = {"stdout": "", "stderr": ""}
        self.lock = threading.Lock()

    def feed(self, stream: str, text: str) -> None:
        with self.lock:
            *whole, self.partial[stream] = (self.partial[stream] + text).split("\n")
        for line in whole:
            self._out(stream, line)

    def flush(self) -> None:
        with self.lock:
            rest, self.partial = self.partial, {"stdout": "", "stderr": ""}
        for stream, line in rest.items():
            if line:
                self._out(stream, line)

    def _out(self, stream: str, line: str) -> None:
        shown = line.replace(self.prompt, "") if self.prompt else line
        if shown or not (self.prompt and self.prompt in line):
            self.emit(stream, shown)


# Fabric ships no type information, so its Remote is `Any` to mypy; subclassing it is the
# only way to change how a command is read, answered and waited for.
class StepRemote(Remote):  # type: ignore[misc]
    """Fabric's runner, fixed for release steps.

    - decodes each stream incrementally: a UTF-8 character split across two reads survives;
    - watchers see stderr only, where `sudo -S` prompts, so output cannot fake a prompt;
    - a watcher error closes the channel at once (the other reader would wait 1 s, and
      sudo would wait for a password);
    - waits on the channel's status event instead of polling every 10 ms (and so records a
      timeout itself: Invoke's check would race with its own timer thread);
    - a session that cannot even start says so, so it is never taken for a lost command.
    """

    def start(self, command: str, shell: str, env: dict[str, Any], timeout: Any = None) -> None:
        try:
            super().start(command, shell, env, timeout)
        except (paramiko.SSHException, OSError, EOFError) as exc:
            raise NotStarted(exc) from exc

    on_chunk: Callable[[str, str], None] | None = None  # (stream, text) as it arrives

    def read_proc_output(self, reader: Callable[[int], bytes | None]) -> Iterator[str]:
        decoder = codecs.getincrementaldecoder(self.encoding)("replace")
        stream = "stdout" if reader == self.read_proc_stdout else "stderr"
        while True:
            data = reader(self.read_chunk_size)
            if not data:
                break
            text = decoder.decode(data)
            if text:
                if self.on_chunk is not None:
                    self.on_chunk(stream, text)
                yield text
        tail = decoder.decode(b"", final=True)
        if tail:
            if self.on_chunk is not None:
                self.on_chunk(stream, tail)
            yield tail

    def respond(self, buffer_: list[str]) -> None:
        if buffer_ is not self.stderr:
            return
        try:
            super().respond(buffer_)
        except WatcherError:
            self.channel.close()
            raise

    def send_interrupt(self, interrupt: KeyboardInterrupt) -> None:
        # Ctrl-C: leave the command now. Close its channel first, or Invoke would wait for the
        # remote command to end before re-raising (it joins the output readers).
        self.channel.close()
        raise interrupt

    def wait(self) -> None:
        while not (self.process_is_finished or self.has_dead_threads):
            self.channel.status_event.wait(0.05)

    # Invoke calls a run timed out when its timer thread has finished; woken by the event
    # above, we can look while that thread is still closing the channel. Remember instead.
    killed = False

    def kill(self) -> None:  # only Invoke's timeout timer calls it
        self.killed = True
        super().kill()

    @property
    def timed_out(self) -> bool:
        return self.killed or bool(super().timed_out)
