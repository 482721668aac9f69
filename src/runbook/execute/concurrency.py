"""Hosts at once, and signals: the one fan-out helper and the one signal guard.

Both exist because a batch of hosts runs in threads while the operator, the terminal or a CI
runner may signal the process at any moment; each is used by the batch (connect, lock,
release) and by every step.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")


def together(calls: Sequence[Callable[[], T]]) -> list[T | Exception]:
    """Call each at once in its own thread; return each result, or the Exception it raised.

    A single call runs in the caller's thread. A BaseException that is not an Exception
    (KeyboardInterrupt, SystemExit) raised in a thread is raised again here once every
    thread has ended, so Ctrl-C is never lost.
    """
    if len(calls) == 1:
        try:
            return [calls[0]()]
        except Exception as exc:  # handed back like the threads' below
            return [exc]
    results: list[T | Exception] = []
    slots: list[T | BaseException | None] = [None] * len(calls)

    def one(i: int) -> None:
        try:
            slots[i] = calls[i]()
        except BaseException as exc:  # handed to the caller's thread below
            slots[i] = exc

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()  # a second Ctrl-C (see guard_signals) leaves here; the caller ends the steps
    for slot in slots:
        if isinstance(slot, BaseException) and not isinstance(slot, Exception):
            raise slot
        results.append(slot)  # type: ignore[arg-type]  # T or Exception, as filled in above
    return results


def all_or_raise(results: list[T | Exception]) -> list[T]:
    """The results of `together`, or the first exception raised, raised here."""
    for item in results:
        if isinstance(item, Exception):
            raise item
    return results  # type: ignore[return-value]  # no Exception left in the list


@contextlib.contextmanager
def guard_signals(
    on_first_ctrl_c: Callable[[], None] | None = None,
    leave_prompt: Callable[[], bool] | None = None,
) -> Iterator[None]:
    """End the run cleanly on SIGTERM and SIGHUP, and, with `on_first_ctrl_c`, soften Ctrl-C.

    By default SIGTERM or SIGHUP kills the process at once, leaving the host locked and the
    journal without its end (a closed terminal or a CI timeout is enough): here they raise
    KeyboardInterrupt as Ctrl-C does, so the run is recorded and the lock released. After
    SIGHUP the terminal is gone, so the output goes to /dev/null.

    With `on_first_ctrl_c`, the first Ctrl-C calls it (a step is running: it stops once the
    step has ended and its outcome is recorded) and a second one raises KeyboardInterrupt
    (the steps in flight are then ended on their hosts: `execute.steps._leave`).
    With `leave_prompt`, SIGTERM or SIGHUP while a sudo prompt is open makes the prompt leave
    (it returns True) instead: no step has started, and the run ends as when the operator
    leaves at the prompt, rather than as a step ended on the host.
    Outside the main thread signals cannot be handled: nothing changes.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def end(signum: int, frame: object) -> None:
        if signum == signal.SIGHUP:
            _output_to_null()
        if leave_prompt is not None and leave_prompt():
            return
        # Once: a closed terminal may send SIGHUP after SIGTERM, or twice; a second one must
        # not cut the recording of the end short.
        for sig in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, left_already)
        raise KeyboardInterrupt(signal.Signals(signum).name)

    def left_already(signum: int, frame: object) -> None:
        if signum == signal.SIGHUP:
            _output_to_null()

    def first_ctrl_c(signum: int, frame: object) -> None:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        if on_first_ctrl_c is not None:
            on_first_ctrl_c()

    handlers = {signal.SIGTERM: end, signal.SIGHUP: end}
    if on_first_ctrl_c is not None:
        handlers[signal.SIGINT] = first_ctrl_c
    previous = {sig: signal.signal(sig, handler) for sig, handler in handlers.items()}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def deferred_signals() -> Iterator[None]:
    """Hold off Ctrl-C, SIGTERM and SIGHUP for a short, bounded piece of work that must end.

    Used while steps are ended on the hosts and recorded after the operator left: a third
    Ctrl-C must not skip that. The work is bounded (a few seconds); a signal that comes
    meanwhile is dropped, as the run is being left already. After SIGHUP the terminal is gone:
    the output goes to /dev/null, as `guard_signals` does. Outside the main thread: nothing
    changes.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def hold(signum: int, frame: object) -> None:
        if signum == signal.SIGHUP:
            _output_to_null()

    signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {sig: signal.signal(sig, hold) for sig in signals}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _output_to_null() -> None:
    with contextlib.suppress(OSError):
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
