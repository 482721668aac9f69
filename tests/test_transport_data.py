"""The transports' data paths without a host: output into lines and tails, the start handshake,
and the wrapper itself, run by this machine's `sh` over pipes as sshd would run it."""

from __future__ import annotations

import os
import select
import shlex
import subprocess
import time

import pytest

from runbook.transport.base import (
    OUTPUT_TAIL,
    START_MARK,
    stdin_script,
    stop_group_script,
    wrapper_command,
)
from runbook.transport.output import Stream
from runbook.transport.ssh_runner import _Handshake

# -- output.Stream --------------------------------------------------------------------------------


def lines_of(chunks: list[bytes], **options: int) -> tuple[list[str], str]:
    seen: list[str] = []
    stream = Stream("stdout", lambda name, line: seen.append(line), **options)
    for chunk in chunks:
        stream.feed(chunk)
    return seen, stream.finish()


def test_lines_end_at_newlines_across_chunks_and_the_last_comes_at_the_end() -> None:
    seen, text = lines_of([b"one\ntw", b"o\n\nthr", b"ee"])
    assert seen == ["one", "two", "", "three"]
    assert text == "one\ntwo\n\nthree"


def test_utf8_split_across_chunks_and_bad_bytes() -> None:
    data = "日本語".encode()
    seen, _ = lines_of([data[:4], data[4:] + b"\n", b"ok \xff\n"])
    assert seen == ["日本語", "ok \ufffd"]


def test_a_long_line_is_handed_on_in_pieces_never_joined_again() -> None:
    seen, _ = lines_of([b"x" * 10] * 5 + [b"y\n", b"z"], piece=16)
    assert seen == ["x" * 16, "x" * 16, "x" * 16, "xxy", "z"]  # 50 x: 3 pieces, 2 left
    seen, _ = lines_of([b"x" * 32 + b"\n"], piece=16)  # ends at a piece's end: no empty line
    assert seen == ["x" * 16, "x" * 16]


def test_the_result_keeps_the_tail() -> None:
    seen, text = lines_of([str(i).encode() + b"\n" for i in range(1000)], keep=20)
    assert len(seen) == 1000
    assert text == "".join(f"{i}\n" for i in range(1000))[-20:]


def test_8_mb_without_a_newline_is_linear() -> None:
    stream = Stream("stdout", lambda name, line: None)
    chunk = b"x" * 4096  # small reads: the worst case for re-joining
    started = time.monotonic()
    for _ in range(8 * 256):
        stream.feed(chunk)
    text = stream.finish()
    assert time.monotonic() - started < 5  # it took 34 s when every read re-joined the line
    assert len(text) == OUTPUT_TAIL


# -- the handshake before the start mark ----------------------------------------------------------

NONCE = "0123456789abcdef"
PROMPT = f"[runbook sudo {NONCE}] password: "


def feed_all(shake: _Handshake, pieces: list[str]) -> tuple[int, str] | None:
    found = None
    for piece in pieces:
        found = shake.feed(piece) or found
    return found


def test_a_prompt_split_across_reads_counts_once() -> None:
    shake = _Handshake(NONCE, PROMPT)
    for i in range(len(PROMPT)):
        assert shake.feed(PROMPT[i]) is None
    assert shake.prompts == 1
    shake.feed("Sorry, try ")
    shake.feed("again.\n" + PROMPT[:5])
    assert shake.sorry and shake.prompts == 1
    shake.feed(PROMPT[5:])
    assert shake.prompts == 2


def test_the_mark_gives_the_group_and_what_follows_and_drops_the_prompt() -> None:
    shake = _Handshake(NONCE, PROMPT)
    mark = f"{START_MARK} {NONCE} 4242\n"
    found = feed_all(shake, ["motd\n", PROMPT, mark[:10], mark[10:-3], mark[-3:] + "own err\n"])
    assert found == (4242, "own err\n")
    assert shake.before() == "motd\n"
    assert shake.prompts == 1


def test_another_nonce_is_not_the_mark() -> None:
    shake = _Handshake(NONCE, PROMPT)
    assert shake.feed(f"{START_MARK} ffffffffffffffff 1\n") is None


def test_a_flood_before_the_mark_is_bounded() -> None:
    shake = _Handshake(NONCE, PROMPT)
    for _ in range(1000):
        shake.feed("noise " * 200)
    assert len(shake.text) <= 1 << 13
    assert shake.feed(f"{START_MARK} {NONCE} 7\nafter") == (7, "after")


# -- the wrapper, run by sh over pipes ------------------------------------------------------------


def start(command: str, **popen: object) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        ["bash", "-c", command],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        **popen,  # type: ignore[call-overload]
    )


def until_mark(proc: subprocess.Popen[bytes]) -> int:
    """Read stderr up to the start mark; the process group it names."""
    assert proc.stderr is not None
    seen = b""
    deadline = time.monotonic() + 10
    while b"\n" not in seen.partition(START_MARK.encode())[2]:
        assert time.monotonic() < deadline, seen
        select.select([proc.stderr], [], [], 1)
        seen += os.read(proc.stderr.fileno(), 4096)
    line = seen.partition(START_MARK.encode())[2].split(b"\n")[0].split()
    assert line[0].decode() == NONCE
    return int(line[1])


@pytest.mark.parametrize("own_session", [True, False], ids=["leader", "under-another-group"])
def test_the_wrapper_runs_the_script_from_stdin_in_a_group_of_its_own(own_session: bool) -> None:
    """As a session leader (sshd's child) it goes on in place; in another's group (sudo's
    child) it starts itself again under setsid. Either way its PID is its group."""
    proc = start(wrapper_command(NONCE), start_new_session=own_session)
    pgid = until_mark(proc)
    script = "echo \"pg $(cut -d' ' -f5 /proc/$$/stat)\"; read x || echo eof; echo 'it''s'; exit 7"
    out, err = proc.communicate(stdin_script(script), timeout=10)
    assert proc.returncode == 7
    # stdout has its own copy of the mark, first: what a login shell printed is before it.
    assert out.decode() == f"{START_MARK} {NONCE} {pgid}\npg {pgid}\neof\nits\n"
    assert err == b""
    if own_session:
        assert pgid == proc.pid  # bash ran it in place: no process more than needed


def test_the_wrapper_under_a_timeout_ends_the_whole_group() -> None:
    proc = start(wrapper_command(NONCE, timeout=0.2))  # coreutils timeout: 1.2 s
    until_mark(proc)
    started = time.monotonic()
    out, _ = proc.communicate(stdin_script("sleep 91.51 & sleep 91.52; echo never"), timeout=10)
    assert 1 < time.monotonic() - started < 5
    assert b"never" not in out
    assert proc.returncode == 124
    assert b"sleep 91.5" not in subprocess.run(["ps", "-eo", "args"], capture_output=True).stdout


def test_the_stop_script_ends_a_group_and_says_gone() -> None:
    proc = start(wrapper_command(NONCE))
    pgid = until_mark(proc)
    assert proc.stdin is not None
    proc.stdin.write(stdin_script("sleep 91.61 & sleep 91.62"))
    proc.stdin.close()
    time.sleep(0.2)
    stop = subprocess.run(
        ["sh", "-c", stop_group_script(pgid)], capture_output=True, text=True, timeout=10
    )
    assert (stop.returncode, stop.stdout) == (0, "gone\n")
    proc.wait(5)
    again = subprocess.run(["sh", "-c", stop_group_script(pgid)], capture_output=True, text=True)
    assert again.stdout == "gone\n"  # nothing left: still confirmed


@pytest.mark.parametrize("pgid", [0, 1, -5])
def test_the_stop_script_refuses_what_is_not_a_group(pgid: int) -> None:
    with pytest.raises(ValueError):
        stop_group_script(pgid)


def test_the_script_is_one_quoted_command_on_stdin() -> None:
    script = "echo 'a' \"$HOME\" `x` $(y)\nline two"
    data = stdin_script(script)
    assert data == f"eval {shlex.quote(script)} </dev/null\n".encode()
    assert data.count(b"\n") == 2  # the script's own newline, and the one that ends it
