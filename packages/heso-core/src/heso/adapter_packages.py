"""Which package provides each adapter attribute of ``heso``: wording for the install hint
when ``heso.<name>`` is asked for and no installed adapter declares it. Nothing is found or
loaded through this table; adapters are found through their entry points (group
``heso.adapters``). Importing it imports nothing else."""

from __future__ import annotations

from collections.abc import Mapping

INSTALL_HINTS: Mapping[str, str] = {
    "HesoCallbackHandler": "heso-langchain",
    "langgraph": "heso-langchain",
    "crewai": "heso-crewai",
    "openai_agents": "heso-openai-agents",
    "claude_agent": "heso-claude-agent",
    "pydantic_ai": "heso-pydantic-ai",
    "mcp": "heso-mcp",
}

__all__ = ["INSTALL_HINTS"]
