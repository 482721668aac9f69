"""LocalTransport: `local: true` steps run with `sh -ec` on this machine."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from runbook.transport import CommandResult, LocalTransport, Transport
from runbook.transport.base import OUTPUT_TAIL
from runbook.transport.output import LINE_PIECE


@pytest.fixture
def local() -> LocalTransport:
    return LocalTransport()


def test_it_is_a_transport(local: LocalTransport) -> None:
    seam: Transport = local
    seam.close()
    seam.close()  # nothing to release, twice is fine
    assert seam.run("true").ok


def test_exit_status_and_sh_e(local: LocalTransport) -> None:
    ok = local.run("echo hi")
    assert (ok.exit_code, ok.stdout, ok.stderr, ok.timed_out, ok.lost) == (
        0,
        "hi\n",
        "",
        False,
        False,
    )
    assert ok.ok and 0 <= ok.duration < 2
    failed = local.run("echo one\nexit 3\necho never")
    assert (failed.exit_code, failed.stdout, failed.ok) == (3, "one\n", False)
    stopped = local.run("echo one\nfalse\necho never")  # -e: the first failing line ends it
    assert (stopped.exit_code, stopped.stdout) == (1, "one\n")


def test_stdout_and_stderr_apart(local: LocalTransport) -> None:
    result = local.run("echo out; echo err >&2; echo out2")
    assert (result.stdout, result.stderr) == ("out\nout2\n", "err\n")


def test_utf8_split_across_reads_and_bad_bytes(local: LocalTransport) -> None:
    # 360 kB: many reads; then one character written in two parts, read apart
    seen: list[str] = []
    result = local.run(
        "for i in $(seq 20000); do printf '日本語のログ'; done; printf 'ok \\377 ok' >&2; "
        "echo; printf '\\346'; sleep 0.1; printf '\\227\\245 end\\n'",
        on_output=lambda stream, line: seen.append(line),
    )
    assert result.stdout == "日本語のログ" * 20000 + "\n日 end\n"
    assert result.stderr == "ok \ufffd ok"
    assert "日 end" in seen and "ok \ufffd ok" in seen


def test_on_output_gets_each_line_per_stream_as_it_comes(local: LocalTransport) -> None:
    seen: list[tuple[str, str, float]] = []
    started = time.monotonic()

    def on_output(stream: str, line: str) -> None:
        seen.append((stream, line, time.monotonic() - started))

    result = local.run(
        "echo one; echo warn >&2; printf 'two\\n\\nthree'; sleep 0.5; echo four",
        on_output=on_output,
    )
    lines = [(stream, line) for stream, line, _ in seen]
    assert sorted(lines) == sorted(
        [("stdout", "one"), ("stderr", "warn"), ("stdout", "two"), ("stdout", ""),
         ("stdout", "threefour")]
    )  # fmt: skip
    stdout_lines = [line for stream, line in lines if stream == "stdout"]
    assert stdout_lines == ["one", "two", "", "threefour"]  # in order, partial line joined
    first = next(at for stream, line, at in seen if line == "one")
    assert first < 0.4  # as it came, not when the script ended
    assert result.stdout == "one\ntwo\n\nthreefour\n"  # the result is whole all the same


def test_a_last_line_without_newline_is_given_at_the_end(local: LocalTransport) -> None:
    seen: list[tuple[str, str]] = []
    local.run("printf 'a\\nb'; printf 'c' >&2", on_output=lambda s, line: seen.append((s, line)))
    assert sorted(seen) == [("stderr", "c"), ("stdout", "a"), ("stdout", "b")]


def test_timeout_is_a_result_with_the_output_so_far(local: LocalTransport) -> None:
    seen: list[str] = []
    started = time.monotonic()
    result = local.run(
        "echo started; echo e >&2; sleep 30",
        timeout=0.5,
        on_output=lambda s, line: seen.append(line),
    )
    elapsed = time.monotonic() - started
    assert (result.exit_code, result.timed_out, result.lost) == (None, True, False)
    assert (result.stdout, result.stderr) == ("started\n", "e\n")
    assert sorted(seen) == ["e", "started"]
    assert 0.5 <= elapsed < 1.5 and 0.5 <= result.duration < 1.5


def test_stdin_is_dev_null(local: LocalTransport) -> None:
    result = local.run("readlink /proc/self/fd/0; cat; read line || echo eof", timeout=5)
    assert (result.exit_code, result.stdout, result.timed_out) == (0, "/dev/null\neof\n", False)


@pytest.mark.parametrize("sudo", [True, "root", "www-data"])
def test_sudo_is_refused(local: LocalTransport, sudo: bool | str) -> None:
    with pytest.raises(ValueError, match="sudo"):
        local.run("touch /never", sudo=sudo)


def test_result_type(local: LocalTransport) -> None:
    assert isinstance(local.run("true"), CommandResult)


def test_importing_it_imports_no_fabric_or_paramiko() -> None:
    code = (
        "import sys\nimport runbook.transport, runbook.transport.base, runbook.transport.local\n"
        "print(','.join(m for m in ('fabric', 'paramiko', 'invoke') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


# -- cancel: the step's whole process group ------------------------------------------------------


def _running(marker: str) -> list[int]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (cmdline.parent / "stat").read_text().rsplit(")", 1)[1].split()[0]
            if text.startswith(marker) and state != "Z":  # a zombie has ended
                found.append(int(cmdline.parent.name))
    return found


def _wait_for(predicate: Callable[[], object], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_cancel_with_nothing_in_flight_is_confirmed(local: LocalTransport) -> None:
    assert local.cancel() is True
    local.run("true")
    assert local.cancel() is True


def test_cancel_ends_the_script_and_everything_it_started(local: LocalTransport) -> None:
    results: list[CommandResult] = []
    thread = threading.Thread(
        target=lambda: results.append(local.run("sleep 81.11 & sleep 81.12; echo never"))
    )
    thread.start()
    _wait_for(lambda: len(_running("sleep 81.1")) == 2)
    started = time.monotonic()

    assert local.cancel() is True

    assert time.monotonic() - started < 2  # TERM was enough
    thread.join(5)
    assert _running("sleep 81.1") == []  # the background sleep too, not only `sh`
    (result,) = results
    assert (result.exit_code, result.stdout, result.timed_out) == (None, "", False)


def test_a_group_that_ignores_term_is_killed(local: LocalTransport) -> None:
    thread = threading.Thread(target=lambda: local.run("trap '' TERM; sleep 81.21 & sleep 81.22"))
    thread.start()
    _wait_for(lambda: len(_running("sleep 81.2")) == 2)
    started = time.monotonic()

    assert local.cancel() is True

    assert 1.5 < time.monotonic() - started < 5  # KILL after ~2 s
    thread.join(5)
    assert _running("sleep 81.2") == []


def test_ctrl_c_leaves_the_group_to_cancel(local: LocalTransport) -> None:
    def interrupt(stream: str, line: str) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        local.run("sleep 81.31 & echo started; wait", on_output=interrupt)
    assert _running("sleep 81.31")  # `sh` is gone, what it started is not (yet)

    assert local.cancel() is True

    assert _running("sleep 81.31") == []


def test_a_timeout_ends_the_whole_group(local: LocalTransport) -> None:
    result = local.run("sleep 81.41 & sleep 81.42", timeout=0.3)
    assert result.timed_out
    _wait_for(lambda: _running("sleep 81.4") == [], timeout=3)


def test_the_script_runs_in_a_session_of_its_own(local: LocalTransport) -> None:
    result = local.run("cut -d' ' -f6 /proc/$$/stat; echo $$")
    session, pid = result.stdout.split()
    assert session == pid  # so the terminal's Ctrl-C reaches the tool, not the step


def test_output_is_kept_as_a_bounded_tail_and_a_long_line_comes_in_pieces(
    local: LocalTransport,
) -> None:
    pieces: list[int] = []
    started = time.monotonic()
    result = local.run(
        "head -c 8M /dev/zero | tr '\\0' x; echo; echo last",
        on_output=lambda stream, line: pieces.append(len(line)),
    )
    assert time.monotonic() - started < 10  # linear: 8 MB in one line took 34 s before
    assert len(result.stdout) == OUTPUT_TAIL
    assert result.stdout.endswith("x\nlast\n")
    assert pieces == [LINE_PIECE] * (8 * 2**20 // LINE_PIECE) + [4]  # no re-joining


# -- the script travels on stdin, never in an argv -------------------------------------------------


def test_the_script_is_in_no_process_argv_while_it_runs(local: LocalTransport) -> None:
    secret = "s3cret-" + "q" * 20  # what a declared secret looks like inside a rendered script
    seen: list[int] = []

    def look() -> None:
        _wait_for(lambda: _running("sleep 7.25"))  # the step is in flight
        seen.extend(_running_with(secret))
        local.cancel()

    looker = threading.Thread(target=look)
    looker.start()
    result = local.run(f"token='{secret}'\nsleep 7.25\necho \"$token\"", timeout=30)
    looker.join()
    assert seen == []
    assert result.exit_code is None  # cancelled while it slept


def test_the_script_reads_dev_null_and_a_long_script_arrives_whole(local: LocalTransport) -> None:
    assert local.run("cat; echo end").stdout == "end\n"  # stdin is /dev/null, not the script
    lines = "".join(f"echo line{i}\n" for i in range(40000))  # ~500 kB: many pipe buffers
    result = local.run(lines)
    assert (
        result.ok and result.stdout.count("\n") == 40000 and result.stdout.endswith("line39999\n")
    )


def test_a_syntax_error_ends_the_script_where_sh_ec_would(local: LocalTransport) -> None:
    script = "echo before\nif then fi\n" + "echo padding\n" * 5000
    result = local.run(script)
    by_argv = subprocess.run(["sh", "-ec", script], capture_output=True, text=True, check=False)
    assert (
        (result.exit_code, result.stdout) == (by_argv.returncode, by_argv.stdout) == (2, "before\n")
    )
    assert "Syntax error" in result.stderr


def _running_with(text: str) -> list[int]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            if text.encode() in cmdline.read_bytes():
                found.append(int(cmdline.parent.name))
    return found
