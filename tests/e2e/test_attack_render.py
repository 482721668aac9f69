"""The rendering attacks, end to end: what `inv show` reviewed is what `inv release` runs.

A pull request's template once rendered `echo hello` for the review and, at release time, with
the real operator's name, `echo hello && touch ...` under the same approved digest. Now the plan
is rendered once with run.* and secrets as markers, a late value cannot be tested, and the
executor fills the values in when it sends a step.
"""

from __future__ import annotations

import pytest

from .test_attack_support import Target, run_id, shown, target
from .test_release_support import digest_shown

pytestmark = pytest.mark.e2e
__all__ = ["target"]  # the fixture, imported so that pytest finds it here


def test_the_operator_cannot_steer_the_command_after_review(target: Target) -> None:
    target.write_runbook(
        {
            "title": "Operator probe",
            "steps": [
                {
                    "id": "hello",
                    "run": "echo hello{% if run.operator == 'alice' %} && touch "
                    f"{target.canary}-alice{{% endif %}}\n",
                }
            ],
        }
    )
    alice = {"RUNBOOK_OPERATOR": "alice"}

    review = target.inv("show", "--host", "sandbox", env=alice)
    release = target.inv("release", "--host", "sandbox", "--yes", env=alice)

    for result in (review, release):
        assert result.returncode == 2, shown(result)
        assert "runbooks/attack.yaml:" in result.stderr
        assert "run.operator can only be printed, not tested or filtered" in result.stderr
    assert "connecting" not in release.stdout
    assert target.journals() == []
    assert target.pwned() == []


def test_an_approved_plan_with_run_values_and_secrets_runs_as_reviewed(target: Target) -> None:
    """Review digest == release digest; the values reach the host at send time, intact; the
    journal shows run values filled in and the secret as ***."""
    secret = f"s3cr3t {target.token} '$(touch {target.canary}-secret)'"
    operator = f"alice'; touch {target.canary}-operator; '"
    target.write_runbook(
        {
            "title": "Late values",
            "vars": {"out": str(target.out), "tag": "v-{{ run.id }}"},
            "secrets": ["token"],
            "steps": [
                {
                    "id": "write",
                    "run": "printf '%s\\0' {{ run.id }} {{ run.operator }} {{ run.started_at }} "
                    "{{ tag }} {{ secrets.token }} > {{ out }}/late\n",
                }
            ],
        }
    )
    env = {"RUNBOOK_OPERATOR": operator, "RUNBOOK_SECRET_TOKEN": secret}

    review = target.inv("show", "--host", "sandbox", env=env)
    assert review.returncode == 0, shown(review)
    digest = digest_shown(review.stdout)
    assert "{run.operator}" in review.stdout and "***" in review.stdout
    result = target.inv(
        "release", "--host", "sandbox", "--yes", "--approved", f"sha256:{digest}", env=env
    )

    assert result.returncode == 0, shown(result)
    assert digest_shown(result.stdout) == digest
    assert target.pwned() == []
    rid = run_id(result)
    (journal,) = target.journals()
    events = target.events(journal)
    start = events[0]
    assert start["digest"] == digest
    got = (target.out / "late").read_bytes().split(b"\0")[:-1]
    assert got == [
        rid.encode(),
        operator.encode(),
        start["started_at"].encode(),
        f"v-{rid}".encode(),
        secret.encode(),
    ]
    (command,) = [e["command"] for e in events if e["event"] == "step_start"]
    assert rid in command and "***" in command
    text = journal.read_text()
    assert secret not in text
    assert secret not in result.stdout + result.stderr
    assert f"v-{rid}" in result.stdout  # the console shows run values filled in


def test_an_unquoted_value_reached_through_map_is_shown_in_the_review(target: Target) -> None:
    target.write_runbook(
        {
            "title": "Unquoted probe",
            "vars": {"branch": "main"},
            "steps": [{"id": "co", "run": "echo {{ [branch] | map('un' ~ 'quoted') | first }}\n"}],
        }
    )
    value = f"main; touch {target.canary}-unquoted"

    review = target.inv("show", "--host", "sandbox", "--var", f"branch={value}")

    assert review.returncode == 0, shown(review)
    assert "Unquoted values" in review.stdout
    assert f"`{value}`" in review.stdout


def test_a_template_that_never_ends_is_refused_before_connecting(target: Target) -> None:
    target.write_runbook(
        {
            "title": "Budget probe",
            "steps": [
                {
                    "id": "loop",
                    "run": "{% for i in range(100000) %}{% for j in range(100000) %}"
                    "{% endfor %}{% endfor %}true\n",
                }
            ],
        }
    )

    result = target.inv("release", "--host", "sandbox", "--yes", timeout=30)

    assert result.returncode == 2, shown(result)
    assert "more than 1,000,000 loop iterations" in result.stderr
    assert "Traceback" not in result.stderr
    assert target.journals() == []
