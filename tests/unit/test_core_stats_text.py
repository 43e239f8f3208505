"""/stats in each language: the last days' runs by workflow, user and day as compact lines,
success as a whole percentage, GPU time in the language's units, the rest folded."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from core.chat.content import Stats
from core.chat.text_render import TextRenderer
from core.models import DayUsage, UsageBreakdown, UsageRow, UsageTable, UsageTotals
from tests.unit.test_core_text_render import PlainSyntax

USAGE = UsageBreakdown(
    since=datetime(2026, 3, 1, tzinfo=UTC),
    workflows=UsageTable(
        rows=(UsageRow(key="txt2img", runs=3, successes=2, finished=3, gpu_seconds=3725),),
        others=UsageTotals(runs=2, finished=0, gpu_seconds=0, spend_usd=0.0),
        others_count=2,
    ),
    users=UsageTable(
        rows=(
            UsageRow(key="telegram:7", name="Ann", runs=5, successes=2, finished=3, spend_usd=1.5),
        )
    ),
    days=(DayUsage(day=date(2026, 3, 1)), DayUsage(day=date(2026, 3, 2), runs=5, finished=3)),
)
EXPECTED = {
    "en": [
        "Last 2 days (UTC, since 2026-03-01):",
        "By workflow:",
        "  txt2img: 3 runs, 66% ok, GPU 1h 02m, free",
        "  others (2): 2 runs, none ended yet, GPU 0.0s, free",
        "By user:",
        "  Ann (telegram:7): 5 runs, 66% ok, GPU 0.0s, $1.50",
        "By day:",
        "  2026-03-01: no runs",
        "  2026-03-02: 5 runs, 0% ok, GPU 0.0s, free",
    ],
    "ru": [
        "За последние 2 дн. (UTC, с 2026-03-01):",
        "По сценариям:",
        "  txt2img: запусков 3, успешно 66%, GPU 1 ч 02 мин, бесплатно",
        "  остальные (2): запусков 2, ни один ещё не завершён, GPU 0.0 с, бесплатно",
        "По пользователям:",
        "  Ann (telegram:7): запусков 5, успешно 66%, GPU 0.0 с, $1.50",
        "По дням:",
        "  2026-03-01: запусков не было",
        "  2026-03-02: запусков 5, успешно 0%, GPU 0.0 с, бесплатно",
    ],
    "es": [
        "Últimos 2 días (UTC, desde el 2026-03-01):",
        "Por flujo:",
        "  txt2img: 3 ejecuciones, 66% con éxito, GPU 1 h 02 min, gratis",
        "  otros (2): 2 ejecuciones, ninguna terminada aún, GPU 0.0 s, gratis",
        "Por usuario:",
        "  Ann (telegram:7): 5 ejecuciones, 66% con éxito, GPU 0.0 s, $1.50",
        "Por día:",
        "  2026-03-01: ninguna ejecución",
        "  2026-03-02: 5 ejecuciones, 0% con éxito, GPU 0.0 s, gratis",
    ],
}


@pytest.mark.parametrize("language", sorted(EXPECTED))
def test_the_breakdown_in_each_language(language: str) -> None:
    words = TextRenderer(PlainSyntax(), language=language)
    reply = words.render(Stats(counts={}, total_cost=0.0, workflows=1, usage=USAGE))
    assert reply is not None
    lines = reply.text.splitlines()
    assert lines[lines.index("") + 1 :] == EXPECTED[language]


def test_success_is_rounded_down_and_unknown_until_a_run_ends() -> None:
    assert UsageTotals(runs=300, successes=299, finished=300).success_percent == 99
    assert UsageTotals(runs=2, successes=2, finished=2).success_percent == 100
    assert UsageTotals(runs=2).success_percent is None


def test_every_day_of_the_window_is_listed() -> None:
    since = datetime(2026, 3, 30, tzinfo=UTC)
    found = UsageBreakdown(since=since, days=(DayUsage(day=date(2026, 4, 1), runs=1),))
    days = found.every_day(date(2026, 4, 2)).days
    assert [(day.day.isoformat(), day.runs) for day in days] == [
        ("2026-03-30", 0),
        ("2026-03-31", 0),
        ("2026-04-01", 1),
        ("2026-04-02", 0),
    ]
