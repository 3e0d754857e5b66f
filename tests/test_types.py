"""The type check CI runs (mypy with the configuration in pyproject.toml: strict on heso-core
and heso-testing), here too, so a type error fails the suite and not only CI's lint step."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_mypy_reports_no_errors() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True, timeout=900
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    checked = re.search(r"Success: no issues found in (\d+) source files", output)
    assert checked is not None, output
    modules = list((ROOT / "packages" / "heso-core" / "src" / "heso").rglob("*.py"))
    assert int(checked.group(1)) >= len(modules), output  # every module of heso was checked
