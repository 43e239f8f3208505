"""Chat lines -> command, free text, options as `key=value`, `key = value` and `--key value`."""

from __future__ import annotations

import pytest

from core.chat.command_line import CommandLine, Given, Word, parse_command_line


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


def test_curly_double_quotes_from_phone_keyboards_group_a_value() -> None:
    parsed = parse("/flux a fox style=“oil paint” seed=7")

    assert parsed.options == {"style": "oil paint", "seed": "7"}
    assert parsed.text == "a fox"


def test_curly_single_quotes_group_a_value() -> None:
    assert parse("/flux mood=‘very calm’").options == {"mood": "very calm"}


def test_an_option_given_twice_is_kept_twice_and_the_last_value_wins() -> None:
    parsed = parse("/flux a fox seed=1 Seed=2")

    assert [p.key for p in parsed.parts if isinstance(p, Given)] == ["seed", "seed"]
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

    assert parsed == CommandLine(command="help")
    assert (parsed.text, parsed.options) == ("", {})
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


def test_spaces_around_equals_and_keys_in_any_case() -> None:
    parsed = parse("/flux a fox Steps = 20 CFG =7 style=watercolor")

    assert parsed.options == {"steps": "20", "cfg": "7", "style": "watercolor"}
    assert parsed.text == "a fox"


def test_dashed_options_take_the_next_word_or_nothing() -> None:
    parsed = parse("/flux a fox --steps 20 --ar 16:9 --Batch-Size 2 --hires")

    assert parsed.options == {"steps": "20", "ar": "16:9", "batch_size": "2"}
    assert parsed.parts[-1] == Given("hires", None, "--hires", dashed=True)
    assert parsed.text == "a fox"


def test_no_takes_everything_up_to_the_next_dashed_option() -> None:
    parsed = parse("/flux a fox --no trees, red cars --steps 9")

    assert parsed.options == {"no": "trees, red cars", "steps": "9"}
    assert parsed.text == "a fox"


def test_a_dash_from_a_phone_keyboard_is_two_hyphens() -> None:
    assert parse("/flux a fox —steps 20 –ar 2:3").options == {"steps": "20", "ar": "2:3"}


def test_an_option_keeps_how_it_was_typed_for_the_prose() -> None:
    parsed = parse("/flux E=mc2 poster")

    assert parsed.parts == (Given("e", "mc2", "E=mc2"), Word("poster"))


def test_guillemets_quote_a_value_too() -> None:
    assert parse("/flux style=«oil paint»").options == {"style": "oil paint"}
