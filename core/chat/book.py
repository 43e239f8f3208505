"""One platform's compiled commands, recompiled only when the catalog view is a new object."""

from __future__ import annotations

from typing import Protocol

from core.catalog import CatalogView
from core.chat.commands import (
    CommandRules,
    CommandSpec,
    compile_commands,
    menu_commands,
    menu_left_out,
)
from core.workflow import Workflow


class ViewSource(Protocol):
    """Where the current catalog view comes from (the live `Catalog`, or a fixed one)."""

    @property
    def view(self) -> CatalogView: ...


class FixedView:
    """One catalog view that never changes (checks that compile commands once: doctor)."""

    def __init__(self, view: CatalogView) -> None:
        self.view = view


class CommandBook:
    def __init__(self, catalog: ViewSource, rules: CommandRules) -> None:
        self._catalog = catalog
        self.rules = rules
        self._view: CatalogView | None = None
        self._specs: list[CommandSpec] = []
        self._by_name: dict[str, CommandSpec] = {}
        self._by_workflow: dict[str, CommandSpec] = {}

    def specs(self) -> list[CommandSpec]:
        """Built-ins, then one command per visible workflow."""
        view = self._catalog.view
        if view is not self._view:
            specs = compile_commands(view.visible(), self.rules)
            self._by_name = {s.name: s for s in specs}
            self._by_workflow = {s.workflow: s for s in specs if s.workflow is not None}
            self._specs, self._view = specs, view
        return self._specs

    def menu(self, admin: bool = False) -> list[CommandSpec]:
        return menu_commands(self.specs(), self.rules, admin)

    def left_out(self, admin: bool = False) -> list[CommandSpec]:
        """Workflows with no room in the menu (they still run when typed)."""
        return menu_left_out(self.specs(), self.rules, admin)

    def spec(self, command: str) -> CommandSpec | None:
        self.specs()
        return self._by_name.get(command)

    def workflow(self, command: str) -> Workflow | None:
        """The visible workflow a command runs here."""
        spec = self.spec(command)
        if spec is None or spec.workflow is None:
            return None
        return self._catalog.view.get(spec.workflow)

    def workflow_named(self, name: str) -> Workflow | None:
        return self._catalog.view.get(name)

    def command_for(self, workflow: str) -> str:
        """The command that runs `workflow` here (its name when it has none, e.g. hidden)."""
        self.specs()
        spec = self._by_workflow.get(workflow)
        return spec.name if spec is not None else workflow
