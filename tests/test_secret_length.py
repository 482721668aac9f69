"""A secret must be long enough to be masked without masking ordinary words, and not empty."""

from __future__ import annotations

import pytest

from runbook.commands import credentials
from runbook.commands.credentials import resolve_secrets
from runbook.errors import InputError


@pytest.mark.parametrize(
    ("value", "said"), [("", "is empty"), ("y", "too short"), ("abc", "too short")]
)
def test_a_short_or_empty_secret_from_the_environment_is_an_input_error(
    monkeypatch: pytest.MonkeyPatch, value: str, said: str
) -> None:
    monkeypatch.setenv("RUNBOOK_SECRET_TOKEN", value)
    with pytest.raises(InputError) as raised:
        resolve_secrets(("token",), interactive=False)
    message = str(raised.value)
    assert "RUNBOOK_SECRET_TOKEN: secret 'token'" in message
    assert said in message
    assert "at least 4 characters" in message
    assert value == "" or f"'{value}'" not in message.replace("'token'", "")


def test_an_empty_answer_at_the_prompt_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RUNBOOK_SECRET_TOKEN", raising=False)
    monkeypatch.setattr(credentials.getpass, "getpass", lambda prompt: "")
    with pytest.raises(InputError, match="the prompt: secret 'token' is empty"):
        resolve_secrets(("token",), interactive=True)


def test_four_characters_are_enough(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNBOOK_SECRET_TOKEN", "abcd")
    assert resolve_secrets(("token",), interactive=False) == {"token": "abcd"}
