"""Chat lines -> command, free text, `key=value` options."""

from __future__ import annotations

import pytest

from core.chat.command_line import CommandLine, parse_command_line


def parse(line: str) -> CommandLine:
    parsed = parse_command_line(line)
    assert parsed is not None, f"{line!r} should be a command"
    return parsed


def test_full_line_with_addressee_text_and_every_quoting_style() -> None:
    parsed = parse("/cmd@bot text k=v k2=\"quoted value\" k3='x y'")

    assert parsed.command == "cmd"
    assert parsed.addressee == "bot"
    assert parsed.text == "text"
    assert parsed.options == {"k": "v", "k2": "quoted value", "k3": "x y"}
    assert parsed.duplicates == ()


def test_curly_double_quotes_from_phone_keyboards_group_a_value() -> None:
    parsed = parse("/flux a fox style=“oil paint” seed=7")

    assert parsed.options == {"style": "oil paint", "seed": "7"}
    assert parsed.text == "a fox"


def test_curly_single_quotes_group_a_value() -> None:
    assert parse("/flux mood=‘very calm’").options == {"mood": "very calm"}


def test_an_option_given_twice_is_reported_and_the_last_value_kept() -> None:
    parsed = parse("/flux a fox seed=1 Seed=2")

    assert parsed.duplicates == ("seed",)
    assert parsed.options == {"seed": "2"}


@pytest.mark.parametrize("line", ["hello there", "a /flux in the middle", "/", " ", "", "/@bot x"])
def test_a_line_that_is_not_a_command_gives_none(line: str) -> None:
    assert parse_command_line(line) is None


def test_free_text_keeps_word_order_and_inner_punctuation_around_options() -> None:
    parsed = parse("/flux a red fox, watercolor! seed=3 (soft light); 50% grain…")

    assert parsed.text == "a red fox, watercolor! (soft light); 50% grain…"
    assert parsed.options == {"seed": "3"}


def test_free_text_whitespace_is_collapsed_to_single_spaces() -> None:
    assert parse("/flux   a\tred\n fox  ").text == "a red fox"


def test_command_is_lowered_and_addressee_kept_as_written() -> None:
    parsed = parse("/FLUX@My_Bot A Red Fox")

    assert parsed.command == "flux"
    assert parsed.addressee == "My_Bot"
    assert parsed.text == "A Red Fox"


def test_command_alone_has_empty_text_and_no_options() -> None:
    parsed = parse("/help")

    assert parsed == CommandLine(command="help", text="", options={}, duplicates=())
    assert parsed.addressee is None


def test_surrounding_whitespace_is_ignored() -> None:
    assert parse("   /flux   a fox   ").text == "a fox"


def test_url_values_keep_their_own_equals_signs() -> None:
    parsed = parse("/upscale image=https://example.com/a.png?x=1&y=2")

    assert parsed.options == {"image": "https://example.com/a.png?x=1&y=2"}
    assert parsed.text == ""


def test_equals_inside_a_word_is_not_an_option() -> None:
    parsed = parse("/calc 1+1=2 and 3*2=6")

    assert parsed.options == {}
    assert parsed.text == "1+1=2 and 3*2=6"


def test_empty_option_value_is_kept_as_empty_string() -> None:
    assert parse("/flux negative= a fox").options == {"negative": ""}
