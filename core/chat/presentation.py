"""Numbers as users read them, the same on every platform: costs, durations, progress bars."""

from __future__ import annotations


def format_cost(usd: float | None, unknown: str = "n/a") -> str:
    """Dollars (four decimals under $1); `unknown` (the reader's words for it, the catalogs'
    `value.unknown`) when there is no cost yet."""
    if usd is None:
        return unknown
    return f"${usd:.4f}" if usd < 1 else f"${usd:.2f}"


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    key, parts = duration_parts(seconds)
    return {
        "duration.seconds": "{seconds}s",
        "duration.minutes": "{minutes}m {seconds}s",
        "duration.hours": "{hours}h {minutes}m",
    }[key].format(**parts)


def duration_parts(seconds: float) -> tuple[str, dict[str, str]]:
    """A duration as the message key that says it (`duration.seconds`, `.minutes`, `.hours`)
    and its numbers, so each language writes its own units."""
    if round(seconds, 1) < 60:
        return "duration.seconds", {"seconds": f"{seconds:.1f}"}
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return "duration.minutes", {"minutes": str(minutes), "seconds": f"{secs:02d}"}
    hours, minutes = divmod(minutes, 60)
    return "duration.hours", {"hours": str(hours), "minutes": f"{minutes:02d}"}


def progress_bar(fraction: float, width: int = 10) -> str:
    filled = round(max(0.0, min(1.0, fraction)) * width)
    return "▰" * filled + "▱" * (width - filled)


def format_bound(number: float | None) -> str:
    """`1` rather than `1.0`; `…` for no bound."""
    return "…" if number is None else f"{number:g}"
