"""OpenSSH's `ssh-keygen -Y` (sign, find-principals, verify) and `ssh-add -L`, run safely.

Every run: the program found on PATH and called by its absolute path with a list of arguments
(no shell), a clean environment (PATH, HOME and LC_ALL=C; the agent's socket only to sign), a
timeout, and its stderr turned into a message that says what to do. Verifying with
`ssh-keygen` itself means a signature counts exactly when OpenSSH says it does: expiry and
namespaces in the allowed_signers file, certificates, revocations all as OpenSSH reads them.

Without a terminal, signing never waits for a passphrase: ssh-keygen runs in a session of its
own (no /dev/tty to ask on) with nothing on stdin, so a key that needs one fails at once.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import RefusedError
from ..words import EN

NAMESPACE = "release-runbook"
TIMEOUT = 20.0  # verifying, listing the agent, signing without a terminal
TYPING_TIMEOUT = 300.0  # signing on a terminal: time to type a passphrase or touch a key
SEARCH_PATH = "/usr/local/bin:/usr/bin:/bin"
_FINGERPRINT = re.compile(r"\bkey (SHA256:[A-Za-z0-9+/=]+)")


@dataclass(frozen=True)
class Checked:
    """What ssh-keygen said about a signature: `ok`, the signing key's fingerprint (when it
    could read the signature), and its reason when not ok."""

    ok: bool
    fingerprint: str = ""
    reason: str = ""


@dataclass(frozen=True)
class AgentKey:
    """A public key the ssh-agent holds: its `type base64 comment` line and fingerprint."""

    line: str
    fingerprint: str

    @property
    def comment(self) -> str:
        parts = self.line.split(maxsplit=2)
        return parts[2] if len(parts) > 2 else ""


def program(name: str) -> str:
    """The absolute path of an OpenSSH program, or a refusal saying how to get it."""
    found = shutil.which(name) or shutil.which(name, path=SEARCH_PATH)
    if not found:
        raise RefusedError(
            EN("error.sign.no-program", name=name), hint=EN("error.sign.no-program-hint")
        )
    return found


def _environment(agent: bool) -> dict[str, str]:
    env = {"PATH": SEARCH_PATH, "LC_ALL": "C"}
    if "HOME" in os.environ:
        env["HOME"] = os.environ["HOME"]
    if agent and os.environ.get("SSH_AUTH_SOCK"):
        env["SSH_AUTH_SOCK"] = os.environ["SSH_AUTH_SOCK"]
    return env


def _run(
    name: str,
    args: Sequence[str],
    *,
    message: bytes | None = None,
    agent: bool = False,
    terminal: bool = False,
    timeout: float = TIMEOUT,
) -> subprocess.CompletedProcess[str]:
    """Run `name ARGS` (message on stdin); a refusal if it cannot start or does not finish."""
    command = [program(name), *args]
    try:
        done = subprocess.run(
            command,
            input=message,
            stdin=None if message is not None else subprocess.DEVNULL,
            capture_output=True,
            env=_environment(agent),
            timeout=timeout,
            # Without a terminal, no controlling tty: ssh-keygen cannot sit asking on one.
            start_new_session=not terminal,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise RefusedError(
            EN("error.sign.timeout", name=name, seconds=f"{timeout:.0f}"),
            hint=EN("error.sign.timeout-hint"),
        ) from exc
    except OSError as exc:
        error = exc.strerror or exc
        raise RefusedError(EN("error.sign.cannot-run", program=command[0], error=error)) from exc
    return subprocess.CompletedProcess(
        done.args,
        done.returncode,
        done.stdout.decode("utf-8", "replace"),
        done.stderr.decode("utf-8", "replace"),
    )


def _said(text: str, *, drop: Sequence[str] = ()) -> str:
    """ssh-keygen's stderr as one line, without the lines that say nothing."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and ln.strip() not in drop]
    return "; ".join(lines)


# --- signing -----------------------------------------------------------------------------------


def sign(key: Path, message: Path, *, shown_key: str, terminal: bool) -> str:
    """Sign the file `message` with `key` (a private key, or a public key whose private half is
    in the agent, which ssh-keygen prefers whenever it holds the key); the armored signature."""
    signature = message.with_name(message.name + ".sig")
    done = _run(
        "ssh-keygen",
        ["-Y", "sign", "-n", NAMESPACE, "-f", str(key), str(message)],
        agent=True,
        terminal=terminal,
        timeout=TYPING_TIMEOUT if terminal else TIMEOUT,
    )
    if done.returncode != 0 or not signature.is_file():
        why, hint = _sign_failure(done.stderr, shown_key, terminal)
        raise RefusedError(why, hint=hint)
    return signature.read_text("ascii")


def _sign_failure(stderr: str, key: str, terminal: bool) -> tuple[str, str | None]:
    """ssh-keygen's complaint when signing, as a message and a hint."""
    if "incorrect passphrase" in stderr or "passphrase" in stderr.lower():
        if terminal:
            return (
                EN("error.sign.wrong-passphrase", key=key),
                EN("error.sign.wrong-passphrase-hint"),
            )
        return (
            EN("error.sign.passphrase-no-terminal", key=key),
            EN("error.sign.passphrase-no-terminal-hint", key=key),
        )
    if "UNPROTECTED PRIVATE KEY FILE" in stderr or "too open" in stderr:
        return EN("error.sign.key-too-open", key=key), f"chmod 600 {key}"
    if "No private key found" in stderr:
        return EN("error.sign.public-only", key=key), EN("error.sign.public-only-hint")
    if "Couldn't load" in stderr or "No such file" in stderr:
        return EN("error.sign.cannot-read-key", key=key, reason=_said(stderr)), None
    reason = _said(stderr) or EN("error.sign.no-reason")
    return EN("error.sign.cannot-sign", key=key, reason=reason), None


def agent_keys() -> list[AgentKey]:
    """The public keys the ssh-agent holds (`ssh-add -L`), or a refusal saying why none."""
    if not os.environ.get("SSH_AUTH_SOCK"):
        raise RefusedError(EN("error.sign.no-agent"), hint=EN("error.sign.no-agent-hint"))
    done = _run("ssh-add", ["-L"], agent=True)
    if done.returncode == 1:
        raise RefusedError(EN("error.sign.agent-empty"), hint=EN("error.sign.agent-empty-hint"))
    if done.returncode != 0:
        reason = _said(done.stderr) or EN("error.sign.ssh-add-failed")
        raise RefusedError(
            EN("error.sign.agent-unreachable", reason=reason),
            hint=EN("error.sign.agent-unreachable-hint"),
        )
    keys = []
    for line in done.stdout.splitlines():
        fingerprint = fingerprint_of(line)
        if fingerprint:
            keys.append(AgentKey(line.strip(), fingerprint))
    return keys


def fingerprint_of(public_key_line: str) -> str | None:
    """`SHA256:...` of a `type base64 [comment]` line, as ssh-keygen -l prints it."""
    parts = public_key_line.split()
    if len(parts) < 2:
        return None
    try:
        blob = base64.b64decode(parts[1], validate=True)
    except (binascii.Error, ValueError):
        return None
    digest = base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    return f"SHA256:{digest}"


# --- verifying ---------------------------------------------------------------------------------


def find_principals(signers: Path, signature: Path) -> tuple[list[str], str]:
    """The principals of `signers` that list the signature's key (not yet verified), and
    ssh-keygen's reason when there are none (a key expired there, a signature it cannot read)."""
    done = _run("ssh-keygen", ["-Y", "find-principals", "-s", str(signature), "-f", str(signers)])
    if done.returncode == 0:
        return [p for p in (ln.strip() for ln in done.stdout.splitlines()) if p], ""
    return [], _said(done.stderr, drop=("No principal matched.",))


def verify(signers: Path, principal: str, signature: Path, message: bytes) -> Checked:
    """`ssh-keygen -Y verify`: is `signature` over `message` by `principal`'s key in `signers`?"""
    done = _run(
        "ssh-keygen",
        [
            "-Y",
            "verify",
            "-f",
            str(signers),
            "-I",
            principal,
            "-n",
            NAMESPACE,
            "-s",
            str(signature),
        ],
        message=message,
    )
    found = _FINGERPRINT.search(done.stdout)
    if done.returncode == 0 and found:
        return Checked(True, found.group(1))
    reason = _said(done.stderr + done.stdout, drop=("Could not verify signature.",))
    return Checked(False, found.group(1) if found else "", reason)


def check_signature(signature: Path, message: bytes) -> Checked:
    """`ssh-keygen -Y check-novalidate`: is `signature` a good one over `message` by whatever
    key made it? For naming a key no allowed_signers file lists."""
    done = _run(
        "ssh-keygen",
        ["-Y", "check-novalidate", "-n", NAMESPACE, "-s", str(signature)],
        message=message,
    )
    found = _FINGERPRINT.search(done.stdout)
    if done.returncode == 0 and found:
        return Checked(True, found.group(1))
    return Checked(
        False, "", _said(done.stderr + done.stdout, drop=("Could not verify signature.",))
    )
