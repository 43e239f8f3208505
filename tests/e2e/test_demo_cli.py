"""`comfybot demo` from a pipe: everything local, the result saved, exit 0 when runs are done."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[2]


def test_demo_runs_a_workflow_end_to_end(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMFYDEPLOY_", "MONGODB_"))}
    env.update({"DATA_DIR": str(tmp_path), "LOG_LEVEL": "WARNING"})
    lines = "/workflows\n/help txt2img\n/txt2img a red fox, watercolor seed=7 width=96 height=64\n"
    done = subprocess.run(
        [sys.executable, "-m", "bot", "demo"],
        input=lines,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(ROOT)},
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "/txt2img — " in out
    assert "steps — whole number, 1–50, default 20" in out
    assert "⚙️ Running" in out
    assert out.count("✅ Done") == 1
    assert re.search(r"💰 \d+\.\d\d credits · \d+\.\d\d left", out)  # paid from credits
    saved = [line.split("image: ", 1)[1] for line in out.splitlines() if "image: " in line]
    assert len(saved) == 1
    with Image.open(saved[0]) as image:
        assert image.size == (96, 64)
    assert Path(saved[0]).is_relative_to(tmp_path)
