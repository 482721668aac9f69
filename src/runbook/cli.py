"""The one error boundary: calls into the package in, errors out as messages and exit codes.

Invoke's `Program.run` catches only its own exceptions; everything else would print a Python
traceback. Every task (runbook.tasks) runs its body through `guard`, which maps RunbookError to its
exit code and keeps tracebacks for `--debug` (`inv --debug TASK`, or RUNBOOK_DEBUG=1).

What it prints (a command's result, an error, a traceback) is made visible (`text.visible`)
first: an error message may quote a host, a runbook or a journal.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import re
import shutil
import sys
import traceback
from collections.abc import Callable
from types import TracebackType
from typing import Any

from invoke.exceptions import Exit

from .errors import STEP_FAILED, STOPPED, InputError, RunbookError
from .text import visible
from .words import choose


def debug_enabled() -> bool:
    # `inv --debug` turns on DEBUG logging for the root logger before the task runs.
    return bool(os.environ.get("RUNBOOK_DEBUG")) or logging.getLogger().isEnabledFor(logging.DEBUG)


def guard(body: Callable[[], Any], lang: str | None = None) -> None:
    """Run a task body; turn its result and errors into output and an exit code.

    `lang`: the task's `--lang` (None: the locale's), for the words around an error; an
    unknown one is the body's error to raise, so here it falls back to the locale's language,
    which says that error too.
    """
    try:
        words = choose(lang)
    except RunbookError:
        words = choose(None)
    try:
        result = _run(body)
    except RunbookError as exc:
        if debug_enabled():
            _traceback()
        message = (
            words.problems(exc.problems)
            if isinstance(exc, InputError)
            else words.again(exc.message)
        )
        said = words("cli.error", message=message)
        if exc.hint:
            said += "\n" + words("cli.hint", hint=words.again(exc.hint))
        raise Exit(visible(_as_invoked(said)), exc.exit_code) from None
    except KeyboardInterrupt:
        raise Exit(words("cli.interrupted"), STOPPED) from None
    except Exit:
        raise
    except Exception as exc:
        if debug_enabled():
            _traceback()
            raise Exit(words("cli.internal-error", error=visible(repr(exc))), STEP_FAILED) from None
        error = f"{type(exc).__name__}: {visible(str(exc))}"
        raise Exit(
            words("cli.internal-error", error=error) + "\n" + words("cli.internal-error-hint"),
            STEP_FAILED,
        ) from None
    if isinstance(result, str):
        result = visible(result)
        sys.stdout.write(result if result.endswith("\n") else result + "\n")
        sys.stdout.flush()
    elif isinstance(result, int) and result:
        raise Exit(code=result)


def _traceback() -> None:
    sys.stderr.write(visible(traceback.format_exc()))
    sys.stderr.flush()


def _run(body: Callable[[], Any]) -> Any:
    try:
        return body()
    finally:
        # Nothing is collected after this: freezing the heap spares the garbage collector's
        # walk over it at exit (interpreter shutdown 56 -> 11 ms).
        gc.freeze()


# The command the user typed: messages name `inv ...`; under the console script (runbook.tasks.main)
# `runbook ...`.
PROGRAM = "inv"


def typed_program(name: str) -> str:
    """The program as the operator can type it again in a printed command: `name` when PATH
    finds this very program, else the path it was started by (after `./scripts/bootstrap` the
    virtualenv is not activated: `.venv/bin/inv`)."""
    started = sys.argv[0] if sys.argv else ""
    if os.path.basename(started) != name:
        return name  # started some other way (python -m, a test harness): its name
    found = shutil.which(name)
    if found and os.path.realpath(found) == os.path.realpath(started):
        return name
    return started


def _as_invoked(text: str) -> str:
    return text if PROGRAM == "inv" else re.sub(r"\binv (?=[a-z-])", f"{PROGRAM} ", text)


def quiet_broken_pipe() -> None:
    """The reader of stdout went away (`runbook --list | head -1`): no traceback, exit 1.

    stdout is pointed at /dev/null first, so that flushing it at exit fails no more either.
    """
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    sys.exit(1)


def broken_pipe_hook(
    previous: Callable[[type[BaseException], BaseException, TracebackType | None], Any],
) -> Callable[[type[BaseException], BaseException, TracebackType | None], Any]:
    """A `sys.excepthook` for `inv` (Invoke's entry point, which this package does not run):
    a BrokenPipeError that ends it, as in `inv --list | head -1`, is quiet; others as before."""

    def hook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> Any:
        if issubclass(kind, BrokenPipeError):
            with contextlib.suppress(OSError, ValueError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return None
        return previous(kind, exc, tb)

    return hook
