"""heso for Pydantic AI: a capability that gates, signs and proves every tool call.

``Agent(model, capabilities=[HesoCapability()])``; see :class:`HesoCapability`.
"""

from __future__ import annotations

try:
    import pydantic_ai  # noqa: F401
except ModuleNotFoundError as exc:  # pragma: no cover - depends on the environment
    if exc.name != "pydantic_ai":
        raise
    raise ImportError(
        "heso-pydantic-ai needs Pydantic AI (Python 3.11+): pip install 'pydantic-ai-slim>=2.68'"
    ) from exc

from heso.adapters import refusal_text
from heso_pydantic_ai.capability import HesoCapability
from heso_pydantic_ai.deferred import decisions, resume_results

__all__ = ["HesoCapability", "decisions", "refusal_text", "resume_results"]
