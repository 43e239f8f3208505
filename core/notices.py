"""What the engine tells a user, as data: a message key with parameters, never finished text.

A platform renders a notice with its own words and syntax. Parameters that name something the
user types are typed, so each platform can show them as it should: `Cmd("txt2img")` is
`/txt2img` in a text chat and a slash command mention on Discord; `Opt("seed")` is how that
input is given there; `Hint("attach_image")` is a phrase only the platform knows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True)
class Cmd:
    """A command, by its compiled name on the platform the message goes to."""

    name: str


@dataclass(frozen=True)
class Opt:
    """How the user gives the input `name` on the platform (a typed option, a form field …)."""

    name: str


@dataclass(frozen=True)
class Usage:
    """How to call `command` with one argument, e.g. `/status <run id>`."""

    command: str
    argument: str


@dataclass(frozen=True)
class Hint:
    """A platform phrase (how to attach an image there, …), looked up by key."""

    key: str


@dataclass(frozen=True)
class Notice:
    key: str
    params: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def of(cls, key: str, **params: object) -> Notice:
        return cls(key, MappingProxyType(params))


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a run request; `input` names the input it is about, if any."""

    key: str
    input: str | None = None
    params: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def of(cls, key: str, input: str | None = None, **params: object) -> Problem:
        if input is not None:
            params.setdefault("input", input)
        return cls(key, input, MappingProxyType(params))

    @property
    def notice(self) -> Notice:
        return Notice(self.key, self.params)
