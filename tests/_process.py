"""The environment for a test's child Python process: this checkout's sources first on its path,
so the child runs the code under test whether or not the package is installed."""

from __future__ import annotations

import os
from pathlib import Path

SRC = Path(__file__).parents[1] / "src"


def env_with_sources() -> dict[str, str]:
    """This process's environment with `src/` put first on PYTHONPATH."""
    path = os.pathsep.join(p for p in (str(SRC), os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONPATH": path}
