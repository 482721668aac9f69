"""Shell injection, end to end: every way a value reaches a command on the real host.

A value comes from the runbook's vars, the inventory (defaults, group and host vars), `--var`,
a secret (RUNBOOK_SECRET_*), the operator's name (RUNBOOK_OPERATOR, `run.operator`) or the
host's address (`host.address`); it goes into a `run` step (remote, under sudo, or local), a
`backup`/`restore` path, or a `check` URL. Each step writes its arguments with
`printf '%s\\0' {{ value }}`: the file must hold the value exactly, followed by one NUL (so it
arrived as ONE argument, intact), and no canary `/tmp/pwned-<token>-*` may exist afterwards.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .test_attack_support import Target, payloads, run_id, shown, target

pytestmark = pytest.mark.e2e
__all__ = ["target"]  # the fixture, imported so that pytest finds it here

# Names through which a value reaches `{{ ... }}`, each with the inventory or runbook place.
SOURCES = ("runbook", "defaults", "group", "host", "cli", "secret")


def _write_lines(source: str, expr: str, labels: list[str]) -> str:
    """One `printf` per payload: the arguments it received, each followed by a NUL."""
    return "".join(
        f"printf '%s\\0' {{{{ {expr.format(i=i)} }}}} > {{{{ out }}}}/{source}-{i}\n"
        for i in range(len(labels))
    )


def _evidence(out: Path, name: str) -> bytes:
    path = out / name
    assert path.exists(), f"{name}: the step did not write it"
    return path.read_bytes()


def test_values_from_every_source_reach_the_host_as_one_intact_argument(target: Target) -> None:
    values = payloads(target.canary)
    labels = list(values)
    texts = list(values.values())
    cli_extra = "{{ 7*7 }}{% if true %}jinja{% endif %}"  # --var is literal, never a template
    operator = f"eve'\"; touch {target.canary}-operator; $(touch {target.canary}-operator2)\n"

    runbook_vars: dict[str, object] = {"out": str(target.out)}
    runbook_vars |= {f"rv{i}": v for i, v in enumerate(texts)}
    runbook_vars["words"] = texts  # a list: separately quoted words
    runbook_vars["composed"] = "pre {{ cv0 }} {{ hv1 }} post"  # a var made of other values
    steps = [
        {"id": "runbook", "run": _write_lines("runbook", "rv{i}", labels)},
        {"id": "defaults", "run": _write_lines("defaults", "dv{i}", labels)},
        {"id": "group", "run": _write_lines("group", "gv{i}", labels)},
        {"id": "host", "run": _write_lines("host", "hv{i}", labels)},
        {
            "id": "cli",
            "run": _write_lines("cli", "cv{i}", labels)
            + "printf '%s\\0' {{ jinja }} > {{ out }}/cli-jinja\n",
        },
        {"id": "cli-sudo", "sudo": True, "run": _write_lines("cli-sudo", "cv{i}", labels)},
        {"id": "cli-local", "local": True, "run": _write_lines("cli-local", "cv{i}", labels)},
        {"id": "secret", "run": _write_lines("secret", "secrets.s{i}", labels)},
        {
            "id": "secret-sudo",
            "sudo": True,
            "run": _write_lines("secret-sudo", "secrets.s{i}", labels),
        },
        {
            "id": "secret-concat",
            "run": "printf '%s\\0' {{ 'x' ~ secrets.s1 ~ secrets.s3 ~ 'y' }}"
            " > {{ out }}/secret-concat\n",
        },
        {
            "id": "operator",
            "sudo": True,
            "run": "printf '%s\\0' {{ run.operator }} > {{ out }}/operator\n",
        },
        {"id": "list", "run": "printf '%s\\0' {{ words }} > {{ out }}/list\n"},
        {"id": "composed", "run": "printf '%s\\0' {{ composed }} > {{ out }}/composed\n"},
    ]
    target.write_runbook(
        {
            "title": "Injection probe",
            "vars": runbook_vars,
            "secrets": [f"s{i}" for i in range(len(texts))],
            "steps": steps,
        }
    )
    target.hosts["defaults"] = {"vars": {f"dv{i}": v for i, v in enumerate(texts)}}
    target.hosts["groups"] = {
        "attackers": {"hosts": ["sandbox"], "vars": {f"gv{i}": v for i, v in enumerate(texts)}}
    }
    target.host["vars"] = {f"hv{i}": v for i, v in enumerate(texts)}
    target.write_hosts()
    args = [a for i, v in enumerate(texts) for a in ("--var", f"cv{i}={v}")]
    # A secret shorter than 4 characters is refused (it cannot be masked reliably): the short
    # payloads travel as secrets padded, and reach the host padded.
    env = {f"RUNBOOK_SECRET_S{i}": _as_secret(v) for i, v in enumerate(texts)}
    env["RUNBOOK_OPERATOR"] = operator

    result = target.inv(
        "release", "--host", "sandbox", "--yes", *args, "--var", f"jinja={cli_extra}", env=env
    )

    assert result.returncode == 0, shown(result)
    assert "release done (no check step verified it)" in result.stdout
    assert target.pwned() == []
    for source in (*SOURCES, "cli-sudo", "cli-local", "secret-sudo"):
        for i, (label, value) in enumerate(values.items()):
            got = _evidence(target.out, f"{source}-{i}")
            sent = _as_secret(value) if source.startswith("secret") else value
            assert got == sent.encode() + b"\0", f"{source} {label}: {got!r}"
    for name in ("cli-sudo-0", "secret-sudo-0", "operator"):
        assert (target.out / name).stat().st_uid == 0, f"{name}: sudo did not apply"
    assert (target.out / "cli-0").stat().st_uid != 0
    assert _evidence(target.out, "cli-jinja") == cli_extra.encode() + b"\0"
    assert _evidence(target.out, "secret-concat") == f"x{texts[1]}{texts[3]}y".encode() + b"\0"
    assert _evidence(target.out, "operator") == operator.encode() + b"\0"
    assert _evidence(target.out, "list") == b"".join(v.encode() + b"\0" for v in texts)
    composed = f"pre {texts[0]} {texts[1]} post"
    assert _evidence(target.out, "composed") == composed.encode() + b"\0"
    assert target.pwned() == []


def test_a_forged_secret_marker_in_a_value_is_quoted_text_not_shell(target: Target) -> None:
    """U+E000 in a --var once left the rest of the value bare in the command (fixed).

    The review and the gate showed it as ***, so the injected command was hidden as well. And
    a secret whose value holds another secret's marker once had that one expanded inside it,
    outside the quotes.
    """
    value = f"\ue000; touch {target.canary}-forged"
    nested = "\ue000other\ue001"
    other = f"$(touch {target.canary}-nested)"
    target.write_runbook(
        {
            "title": "Marker probe",
            "vars": {"out": str(target.out)},
            "secrets": ["token", "other"],
            "steps": [
                {
                    "id": "write",
                    "run": "printf '%s\\0' {{ v }} {{ secrets.token }} "
                    "{{ secrets.other }} > {{ out }}/forged\n",
                }
            ],
        }
    )

    dry = target.inv("release", "--host", "sandbox", "--dry-run", "--var", f"v={value}")
    result = target.inv(
        "release",
        "--host",
        "sandbox",
        "--yes",
        "--var",
        f"v={value}",
        env={"RUNBOOK_SECRET_TOKEN": nested, "RUNBOOK_SECRET_OTHER": other},
    )

    assert dry.returncode == 0, shown(dry)
    assert f"touch {target.canary}-forged" in dry.stdout  # the review shows the value, not ***
    assert result.returncode == 0, shown(result)
    assert target.pwned() == []
    expected = b"".join(v.encode() + b"\0" for v in (value, nested, other))
    assert _evidence(target.out, "forged") == expected


def test_backup_and_restore_paths_and_check_urls_from_var_stay_one_argument(
    target: Target, tmp_path: Path
) -> None:
    """--var into `backup:`/`restore:` paths (under sudo) and into `check` URLs (no shell).

    The release backs the files up, changes them, then a check fails on a URL carrying a
    header injection (line feeds): with --yes the rollback restores every file, sha256-verified.
    """
    values = payloads(target.canary)
    # A path cannot hold NUL; a name with a newline the backup refuses (its report to the
    # tool is read line by line: it fails safely, see RELIABILITY.md).
    names = {k: v for k, v in values.items() if v and "\n" not in v}
    base = tmp_path / "files"  # root's: a backup in a directory others can write is refused
    paths = []
    for i, name in enumerate(names.values()):
        path = Path(f"{base}/{i}/{name}")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"original {i}\n")
        paths.append(path)
    http_path = f"x;$(touch${{IFS}}{target.canary}-url)|`id`&&a>b'\"*"
    # A carriage return is an input error (text is text); a line feed is allowed in a var.
    header_injection = "x HTTP/1.1\nX-Injected: 1\n\n"
    listed = [f"{{{{ base }}}}/{i}/{{{{ p{i} }}}}" for i in range(len(names))]
    target.write_runbook(
        {
            "title": "Paths and URLs",
            "vars": {"out": str(target.out), "base": str(base), "site": target.box.http_url},
            "steps": [
                {"id": "backup", "sudo": True, "backup": listed},
                {
                    "id": "change",
                    "sudo": True,
                    "run": "".join(f"printf changed > {p}\n" for p in listed),
                },
                {"id": "check-metachars", "check": {"http": {"url": "{{ site }}{{ http_path }}"}}},
                {"id": "check-crlf", "check": {"http": {"url": "{{ site }}{{ crlf }}"}}},
            ],
            "rollback": [{"id": "restore", "sudo": True, "restore": listed}],
        }
    )
    args = [a for i, v in enumerate(names.values()) for a in ("--var", f"p{i}={v}")]

    result = target.inv(
        "release",
        "--host",
        "sandbox",
        "--yes",
        *args,
        "--var",
        f"http_path={http_path}",
        "--var",
        f"crlf={header_injection}",
    )

    assert result.returncode == 1, shown(result)
    assert "step check-crlf failed" in result.stdout  # urllib refuses it: nothing is sent
    assert "URL can't contain control characters" in result.stdout
    assert "rollback done" in result.stdout
    assert target.pwned() == []
    (journal,) = target.journals()
    made = {e["path"]: e["backup"] for e in target.events(journal) if e["event"] == "backup"}
    for i, path in enumerate(paths):
        assert path.read_text() == f"original {i}\n", path
        backup = Path(made[str(path)])
        assert backup.is_relative_to(target.box.backup_dir / run_id(result)), backup
        assert backup.read_text() == f"original {i}\n", backup
    ended = {e["step"]: e["outcome"] for e in target.events(journal) if e["event"] == "step_end"}
    assert ended == {
        "backup": "ok",
        "change": "ok",
        "check-metachars": "ok",
        "check-crlf": "failed",
        "restore": "ok",
    }


def test_a_host_address_with_shell_code_is_refused_before_anything_runs(target: Target) -> None:
    """`host.address` from the inventory, even where an ssh_config `Host *` would map any name
    to the sandbox: OpenSSH refuses such a name, and so does the loader (it would reach
    ssh_config's `Match exec` and `%h` on the operator's machine)."""
    box = target.box
    address = f"h;$(touch${{IFS}}{target.canary}-addr)|`touch${{IFS}}{target.canary}-addr2`&&x"
    ssh = target.home / ".ssh"
    ssh.mkdir(mode=0o700)
    (ssh / "config").write_text(f"Host *\n  HostName {box.address}\n  Port {box.ssh_port}\n")
    target.host["address"] = address
    del target.host["port"]
    target.write_hosts()
    target.write_runbook(
        {
            "title": "Address probe",
            "vars": {"out": str(target.out)},
            "steps": [{"id": "address", "run": "printf '%s' {{ host.address }} > {{ out }}/a"}],
        }
    )

    result = target.inv("release", "--host", "sandbox", "--yes")

    assert result.returncode == 2, shown(result)
    assert "is not a host name, an IP address or an ssh_config alias" in result.stderr
    assert target.pwned() == []
    assert not (target.out / "a").exists()


def test_a_host_name_with_shell_code_is_refused_before_anything_runs(target: Target) -> None:
    target.hosts["hosts"] = {"web;touch": target.host}
    target.write_hosts()
    target.write_runbook({"title": "Name probe", "steps": [{"id": "s", "run": "true"}]})

    result = target.inv("release", "--host", "web;touch", "--yes")

    assert result.returncode == 2, shown(result)
    assert "hosts.yaml:" in result.stderr + result.stdout
    assert target.journals() == []


def _as_secret(value: str) -> str:
    """A payload as a secret may be: at least 4 characters (short ones padded)."""
    return value if len(value) >= 4 else f"{value}-pad"
