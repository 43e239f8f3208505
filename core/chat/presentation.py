"""Numbers as users read them, the same on every platform: costs, durations, progress bars."""

from __future__ import annotations


def format_cost(usd: float | None) -> str:
    if usd is None:
        return "n/a"
    return f"${usd:.4f}" if usd < 1 else f"${usd:.2f}"


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    if round(seconds, 1) < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def progress_bar(fraction: float, width: int = 10) -> str:
    filled = round(max(0.0, min(1.0, fraction)) * width)
    return "▰" * filled + "▱" * (width - filled)


def format_bound(number: float | None) -> str:
    """`1` rather than `1.0`; `…` for no bound."""
    return "…" if number is None else f"{number:g}"
