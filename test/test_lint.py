"""ruff finds nothing in the package and the tests (rules: [tool.ruff] in pyproject.toml).

Skipped, saying why, where ruff is not installed: it is a development tool, not a dependency.
"""
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(importlib.util.find_spec("ruff") is None,
                    reason="ruff is not installed in this environment (pip install ruff==0.17.6)")
def test_ruff_check_is_clean():
    run = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "refinet_ros", "test"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
