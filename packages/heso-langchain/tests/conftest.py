"""Make the shared offline fakes (``heso_langchain_fakes``) importable by the test modules."""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = str(Path(__file__).parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
