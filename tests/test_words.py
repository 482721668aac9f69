"""The message catalog (runbook.words): every message in every language with the same
placeholders; the language chosen from --lang, else the locale; recorded English said again;
times on the operator's clock."""

from __future__ import annotations

import re
import string
from datetime import UTC
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from runbook.errors import BAD_INPUT
from runbook.options import Options
from runbook.words import (
    EN,
    LANGUAGES,
    MESSAGES,
    MODULES,
    LanguageError,
    Said,
    Words,
    choose,
    local_time,
)
from tests.conftest import run_cli

JA = Words("ja")


def _placeholders(text: str) -> list[str]:
    return sorted(name for _, name, _, _ in string.Formatter().parse(text) if name is not None)


@pytest.mark.parametrize("key", sorted(MESSAGES))
def test_every_message_has_every_language_with_the_same_placeholders(key: str) -> None:
    texts = MESSAGES[key]
    assert len(texts) == len(LANGUAGES), key
    assert all(t.strip() for t in texts), f"{key}: a language is empty"
    english, *others = texts
    for text in others:
        assert _placeholders(text) == _placeholders(english), key


def test_no_key_is_in_two_modules_of_the_catalog() -> None:
    keys = [k for module in MODULES for k in module.MESSAGES]
    assert len(keys) == len(set(keys)) == len(MESSAGES)


def test_the_japanese_side_is_japanese() -> None:
    """A message left in English in the Japanese column (copied, not translated) is caught:
    every Japanese text longer than a word has Japanese characters in it."""
    untranslated = [
        key
        for key, (en, ja) in MESSAGES.items()
        if len(re.sub(r"\{\w+\}|[^A-Za-z]", "", en)) > 3
        and not re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", ja)
    ]
    assert untranslated == []


def test_an_explicit_lang_wins_over_the_locale() -> None:
    assert choose("en", {"LANG": "ja_JP.UTF-8"}).lang == "en"
    assert choose("ja", {"LANG": "C.UTF-8"}).lang == "ja"


@pytest.mark.parametrize(
    ("environ", "lang"),
    [
        ({"LANG": "ja_JP.UTF-8"}, "ja"),
        ({"LC_MESSAGES": "ja_JP.eucJP", "LANG": "en_US.UTF-8"}, "ja"),
        ({"LC_ALL": "ja_JP.UTF-8", "LC_MESSAGES": "C"}, "ja"),
        ({"LC_ALL": "C", "LANG": "ja_JP.UTF-8"}, "en"),  # LC_ALL decides, as in POSIX
        ({"LANG": "fr_FR.UTF-8"}, "en"),
        ({}, "en"),
    ],
)
def test_without_lang_the_locale_chooses(environ: dict[str, str], lang: str) -> None:
    assert choose(None, environ).lang == lang


def test_without_lang_or_locale_a_report_speaks_the_language_of_its_run() -> None:
    assert choose(None, {}, recorded="ja").lang == "ja"
    assert choose(None, {"LANG": "en_GB.UTF-8"}, recorded="ja").lang == "en"
    assert choose(None, {}, recorded="xx").lang == "en"  # a journal is data: never refused


def test_an_unknown_language_is_an_input_error() -> None:
    with pytest.raises(LanguageError) as caught:
        _ = Options(lang="fr").words
    assert caught.value.exit_code == BAD_INPUT
    assert "unknown language 'fr'" in str(caught.value) and "en, ja" in str(caught.value)


def test_a_said_message_is_recorded_in_english_and_said_again_in_japanese() -> None:
    said = Said(
        "end.failed-left",
        {"step": "deploy", "why": str(Said("step.exit-status-said", {"code": 1, "last": "x"}))},
    )
    english = str(said)
    assert english == "step deploy failed: exit status 1: x; host left as it is"
    assert (
        JA(said)
        == JA.again(english)
        == "手順 deploy が失敗しました: 終了コード 1: x。ホストはそのままです"
    )
    assert EN.again(english) == english


def test_recorded_text_that_is_no_message_stays_as_it_is() -> None:
    assert JA.again("fatal: could not read from remote") == "fatal: could not read from remote"
    # A host's words that look like the tool's own are not its messages: never rewritten.
    assert JA.again("error: boom") == "error: boom"
    assert JA.again("x, y") == "x, y"  # "{status}, {headers}" is no message to match


def test_words_of_a_run_are_said_by_their_key() -> None:
    assert JA.outcome("not-run") == "未実行" and JA.result("rolled-back") == "切り戻し済み"
    assert JA.answer("yes (--yes)") == "はい（--yes）" and JA.answer("no gate") == "確認なし"
    assert JA.outcome("from-the-future") == "from-the-future"  # an unknown word: shown as is


def test_times_are_local_with_the_zone_named() -> None:
    utc = "2026-12-01T18:12:05+00:00"
    assert local_time(utc, ZoneInfo("Asia/Tokyo")) == "2026-12-02 03:12:05 JST (+09:00)"
    assert local_time(utc, UTC) == "2026-12-01 18:12:05 UTC (+00:00)"
    assert local_time(utc, ZoneInfo("Asia/Kolkata")) == "2026-12-01 23:42:05 IST (+05:30)"
    assert local_time("?") == "?" and local_time(None) == ""


def test_tz_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "America/New_York")
    assert local_time("2026-07-01T12:00:00+00:00") == "2026-07-01 08:00:00 EDT (-04:00)"
    monkeypatch.setenv("TZ", "UTC")
    assert local_time("2026-07-01T12:00:00+00:00") == "2026-07-01 12:00:00 UTC (+00:00)"


# --- through the command line ------------------------------------------------------------------


def test_the_command_line_takes_lang_and_the_locale_and_refuses_an_unknown_one(
    tmp_path: Path,
) -> None:
    env = {"RUNBOOK_STATE_DIR": str(tmp_path / "state")}
    unknown = run_cli("history", "--lang", "fr", cwd=tmp_path, env=env)
    assert unknown.returncode == BAD_INPUT
    assert "error: unknown language 'fr'" in unknown.stderr and "en, ja" in unknown.stderr
    japanese = run_cli("history", cwd=tmp_path, env={**env, "LANG": "ja_JP.UTF-8"})
    assert japanese.returncode == 0 and "にはまだ実行がありません" in japanese.stdout
    english = run_cli("history", "--lang", "en", cwd=tmp_path, env={**env, "LC_ALL": "ja_JP"})
    assert "no runs yet in" in english.stdout
    # The words around an error are the operator's too (the message from the code may not be).
    refused = run_cli("report", "--lang", "ja", cwd=tmp_path, env=env)
    assert refused.returncode == BAD_INPUT and refused.stderr.startswith("エラー: "), refused


def test_input_problems_are_said_in_english_exactly_as_the_error_and_framed_in_japanese() -> None:
    from runbook.errors import InputError, Problem

    error = InputError(
        [
            Problem("hosts.yaml", 3, "no such thing", "do that"),
            Problem("runbooks/a.yaml", None, "the file is empty"),
        ]
    )
    assert EN.problems(error.problems) == error.message
    assert EN.problems(error.problems[:1]) == InputError(error.problems[:1]).message
    said = JA.problems(error.problems)
    assert said.splitlines()[0] == "入力に問題が 2 件あります:"
    assert "  hosts.yaml:3: no such thing(ヒント: do that)" in said.splitlines()


def test_every_message_said_again_is_recognised_as_itself() -> None:
    """Each entry `again` matches, filled with plain values, is said again with its own
    Japanese: no other entry (a shorter one it contains, a general form of it, a copy of its
    English under another key) takes it first."""
    from runbook.words import _RECORDED, _patterns, _recorded_match

    for key, _ in _patterns():
        if not key.startswith(_RECORDED):
            continue
        english, japanese = MESSAGES[key]
        values = {name: f"v{i}x" for i, name in enumerate(_placeholders(english))}
        found = _recorded_match(english.format(**values))
        assert found is not None, key
        other, match = found
        assert MESSAGES[other][1].format(**match.groupdict()) == japanese.format(**values), (
            key,
            other,
        )
