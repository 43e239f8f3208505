"""Parse a chat line such as `/txt2img@mybot a red fox --ar 16:9 steps = 30 style="oil paint"`.

The line becomes its command and a sequence of parts: words of free text and options, each
option with the text it was typed as, so the front door can put one back into the prose
(`E=mc2 poster` is a prompt, not an option `e`). Options come as `key=value` (spaces around
`=` allowed, values quoted with straight or curly quotes) or as `--key value`; `--no` takes
everything up to the next `--option`. Phones that turn `--` into a dash are understood.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "«": '"', "»": '"', "‘": "'", "’": "'"})
"""Phone keyboards turn quotes curly; `key=“a b”` must still work."""
_DASHES = re.compile(r"(?<!\S)[—–](?=[A-Za-z_])")
"""`—steps 20`: iOS and Android turn a typed `--` into an em or en dash."""

_COMMAND = re.compile(r"^/([^\s@/]+)(?:@(\S+))?(?:\s+|$)")
_KEY = r"[A-Za-z_][A-Za-z0-9_]*"
_VALUE = r"""(?:"[^"]*"|'[^']*'|\S*)"""
_ASSIGNMENT = re.compile(rf"({_KEY})(?:\s+=\s*|=)({_VALUE})")
"""`key=value`, `key = value`, `key =value`; `key= value` is an empty value and free text."""
_DASHED = re.compile(rf"--({_KEY}(?:-[A-Za-z0-9_]+)*)")
_DASHED_VALUE = re.compile(r"""\s+("[^"]*"|'[^']*'|(?!--)\S+)""")
_NEXT_DASHED = re.compile(rf"\s--{_KEY}")
_WORD = re.compile(r"""(?:"[^"]*"|\S+)""")
_SPACE = re.compile(r"\s+")
REST_OF_LINE = frozenset({"no"})
"""`--no` takes the words up to the next `--option` (Midjourney's negative prompt)."""


@dataclass(frozen=True)
class Word:
    text: str


@dataclass(frozen=True)
class Given:
    """An option as typed."""

    key: str
    """Lower-cased, dashes as underscores (`--Batch-Size` -> `batch_size`)."""
    value: str | None
    """Unquoted; None for a bare `--flag`."""
    raw: str
    """Exactly as typed, value included."""
    dashed: bool = False
    value_raw: str | None = None
    """A `--key value`'s value as typed (a flag may give it back to the prose)."""


Part = Word | Given


@dataclass(frozen=True)
class CommandLine:
    command: str
    """Lower-cased command without the slash and without `@botname`."""
    parts: tuple[Part, ...] = ()
    addressee: str | None = None
    """The `@botname` suffix, if any (group chats address commands to one bot)."""

    @property
    def text(self) -> str:
        """The words that are not options."""
        return " ".join(part.text for part in self.parts if isinstance(part, Word))

    @property
    def options(self) -> dict[str, str]:
        """Every option given with a value (the last one when given more than once)."""
        return {p.key: p.value for p in self.parts if isinstance(p, Given) and p.value is not None}


def parse_command_line(line: str) -> CommandLine | None:
    """Split a line into command, free text and options; None when it is not a command."""
    line = line.strip()
    match = _COMMAND.match(line)
    if match is None:
        return None
    rest = _DASHES.sub("--", line[match.end() :].translate(_QUOTES))
    return CommandLine(
        command=match.group(1).lower(), parts=tuple(_parts(rest)), addressee=match.group(2)
    )


def _parts(rest: str) -> list[Part]:
    parts: list[Part] = []
    position = 0
    while True:
        space = _SPACE.match(rest, position)
        if space:
            position = space.end()
        if position >= len(rest):
            return parts
        part, position = _part_at(rest, position)
        parts.append(part)


def _part_at(rest: str, start: int) -> tuple[Part, int]:
    dashed = _DASHED.match(rest, start)
    if dashed and _ends_token(rest, dashed.end()):
        key = dashed.group(1).lower().replace("-", "_")
        if key in REST_OF_LINE:
            end = _NEXT_DASHED.search(rest, dashed.end())
            stop = end.start() if end else len(rest)
            value = rest[dashed.end() : stop].strip()
            return Given(key, value, rest[start:stop], True, value), stop
        found = _DASHED_VALUE.match(rest, dashed.end())
        if found is None:
            return Given(key, None, dashed.group(0), True), dashed.end()
        raw_value = found.group(1)
        raw = rest[start : found.end()]
        return Given(key, _unquote(raw_value), raw, True, raw_value), found.end()
    assignment = _ASSIGNMENT.match(rest, start)
    if assignment:
        key, raw_value = assignment.group(1), assignment.group(2)
        value = _unquote(raw_value)
        return Given(key.lower(), value, assignment.group(0)), assignment.end()
    word = _WORD.match(rest, start)
    assert word is not None  # a non-space character is there
    return Word(word.group(0)), word.end()


def _ends_token(text: str, index: int) -> bool:
    return index >= len(text) or text[index].isspace()


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value
