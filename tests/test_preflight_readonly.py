"""`inv preflight` on fakes: which command names it looks for, and that every script it sends
to a host only reads (no mkdir, no lock, no write), whatever the host answers."""

from __future__ import annotations

import re
import textwrap

from runbook.commands.preflight import check_host
from runbook.commands.reachable import reachable
from runbook.commands.shellwords import command_names
from runbook.core.load import runbook_from_source
from runbook.core.model import Host, Plan
from runbook.core.plan import make_plan
from runbook.core.yamlsrc import parse_yaml
from runbook.testing import FakeTransport, fake_connect
from runbook.transport.base import CommandResult

HOST = Host(name="web1", address="10.0.0.1", sudo=True)

RUNBOOK = """\
name: demo
title: Demo release
steps:
  - id: backup
    backup: /etc/app.conf
    sudo: true
  - id: deploy
    run: |
      x=1
      if true; then echo mid-line; fi
      systemctl reload app
      cat <<EOF
      not-a-command here
      EOF
    sudo: true
  - id: look
    run: echo {{ run.id }}
    confirm: false
  - id: verify
    check:
      http:
        url: "http://127.0.0.1:9/"
rollback:
  - id: restore
    restore: /etc/app.conf
    sudo: true
"""

# A word that writes, as a command, or a redirection into anything but /dev/null or a stream.
WRITES = re.compile(
    r"(^|[;&|({]\s*|\bthen\s+|\bdo\s+)(mkdir|rm|rmdir|mv|cp|tee|touch|chmod|chown|ln|install|"
    r"mktemp|dd|truncate|sed -i)\b|>\s*(?!/dev/null|&)[^\s&]",
    re.MULTILINE,
)


def plan_of(text: str, host: Host = HOST) -> Plan:
    source, problems = parse_yaml(textwrap.dedent(text).encode(), "runbook.yaml")
    assert source is not None, problems
    runbook = runbook_from_source(source, problems)
    assert runbook is not None and not problems, problems
    return make_plan(runbook, host, "hosts.yaml")


def test_command_names_are_plain_names_at_the_start_of_lines() -> None:
    script = textwrap.dedent(
        """\
        # a comment
        x=1 y=2
        git -C /srv fetch
        if test -f /x; then echo yes; fi
        /usr/sbin/nginx -t
        "$HOME/bin/tool" --go
        long \\
          continued-line-word
        while read -r l; do :; done
        git status
        cat <<END
        heredoc-body
        END
        after-heredoc
        """
    )
    assert command_names(script) == ["git", "test", "long", "read", "cat"]


def test_a_late_value_hides_only_the_word_it_is() -> None:
    late = "\ue000run.id\ue001"  # sent as one quoted word: it cannot change the lines after it
    script = f"git update-ref refs/x-{late} HEAD\n{late} --go\ninstall -m 0644 a b\n"
    assert command_names(script) == ["git", "install"]


def test_every_script_preflight_sends_only_reads() -> None:
    answers = {
        "sudo -n": CommandResult(1, "", "sudo: a password is required", 0.0),
        "df -P": CommandResult(0, "dir /var/backups/release-runbook\navail 99999999\n", "", 0.0),
    }
    transport = FakeTransport(rules=answers)
    report = check_host(plan_of(RUNBOOK), fake_connect({"web1": transport}), interactive=True)

    scripts = [sent.script for sent in transport.sent]
    assert scripts, "nothing was checked"
    for script in scripts:
        assert not WRITES.search(script), script
    assert transport.closed
    checks = [str(f.check) for f in report.findings]
    assert "sudo as root" in checks
    assert "backup /etc/app.conf (step backup)" in checks
    assert "commands as root" in checks  # systemctl, cat: not the heredoc's body
    assert any("systemctl" in s for s in scripts)
    assert not any("not-a-command" in s for s in scripts)


def test_a_closed_port_is_not_reachable() -> None:
    assert reachable("http://127.0.0.1:9/", timeout=1) is not None
    assert "no host" in (reachable("http:///path") or "")
