"""heso for CrewAI: gate, sign and prove every tool call a crew makes.

``heso_crewai.install()`` (or ``with heso_crewai.scoped():``) registers CrewAI hooks that send
each tool call through heso's one capture path before its body runs. ``import heso_crewai`` is
cheap: CrewAI is imported on first use of an attribute.

    import heso, heso_crewai
    heso.init()
    heso_crewai.install()            # mode="raise": a refusal raises out of crew.kickoff()
    crew.kickoff()
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from heso_crewai._hooks import (
        MODES,
        HesoHooks,
        Mode,
        as_abort,
        heso_before_hook,
        install,
        refusal_text,
        scoped,
        uninstall,
    )

__version__ = "0.1.0"

__all__ = [
    "MODES",
    "HesoHooks",
    "Mode",
    "__version__",
    "as_abort",
    "heso_before_hook",
    "install",
    "refusal_text",
    "scoped",
    "uninstall",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        value = getattr(importlib.import_module("heso_crewai._hooks"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'heso_crewai' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
