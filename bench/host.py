"""What every bench result records about the machine it ran on (bench/RESULTS.md asks for it)."""

from __future__ import annotations

import os
import platform
from datetime import UTC, datetime


def host_facts() -> dict[str, object]:
    return {
        "machine": f"{platform.machine()} {platform.python_version()}, {os.cpu_count()} cpu",
        "load_average": os.getloadavg()[0],
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
