"""The README's two quickstart commands, one per line: ``.ci/run`` runs them as they stand,
and ``tests/test_quickstart.py`` runs them on a stock Python."""

from __future__ import annotations

import re
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def commands(text: str | None = None) -> list[str]:
    """The lines of the first ``bash`` block under ``## Quickstart``: exactly two."""
    text = README.read_text(encoding="utf-8") if text is None else text
    _, found, rest = text.partition("\n## Quickstart\n")
    blocks = re.findall(r"^```bash\n(.*?)^```", rest.split("\n## ", 1)[0], re.S | re.M)
    if not found or not blocks:
        raise SystemExit("README.md has no ```bash block under ## Quickstart")
    lines = [line for line in blocks[0].splitlines() if line.strip()]
    if len(lines) != 2:
        raise SystemExit(f"the quickstart has {len(lines)} commands, not 2: {lines}")
    return lines


if __name__ == "__main__":
    sys.stdout.write("\n".join(commands()) + "\n")
