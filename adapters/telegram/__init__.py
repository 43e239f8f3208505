"""Telegram adapter: commands in, live progress and results out (python-telegram-bot 22)."""

from adapters.telegram.adapter import TelegramAdapter
from adapters.telegram.notifier import TelegramNotifier

__all__ = ["TelegramAdapter", "TelegramNotifier"]
