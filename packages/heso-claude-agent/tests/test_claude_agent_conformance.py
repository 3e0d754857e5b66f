"""The standard adapter cases through the real bundled Claude Code CLI, offline.

The scripted model (a fake Messages API on 127.0.0.1) calls one tool of an in-process SDK MCP
server (``mcp__conformance__<tool>``) once, then answers. ``PreToolUse`` hook with the tools in
``allowed_tools``; ``can_use_tool`` alone, with no ``allowed_tools``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from heso_claude_agent import HesoGate
from heso_testing.conformance import AdapterConformance, ConformanceTools, RunResult

from .conftest import Seam, drive


class _ClaudeConformance(AdapterConformance):
    seam: Seam = "hook"

    def run(
        self, tools: ConformanceTools, tool_name: str, arguments: dict[str, Any], *, mode: str
    ) -> RunResult:
        return asyncio.run(self._drive(tools.sync_tools(), tool_name, arguments, mode))

    async def arun(
        self, tools: ConformanceTools, tool_name: str, arguments: dict[str, Any], *, mode: str
    ) -> RunResult:
        return await self._drive(tools.async_tools(), tool_name, arguments, mode)

    async def _drive(
        self, fns: Any, tool_name: str, arguments: dict[str, Any], mode: Any
    ) -> RunResult:
        gate = HesoGate(mode=mode)
        session = await drive(fns, (tool_name, arguments), gate=gate, seam=self.seam)
        return RunResult(raised=session.raised, tool_output=session.tool_output)


class TestClaudeHookConformance(_ClaudeConformance):
    seam = "hook"


class TestClaudeCanUseToolConformance(_ClaudeConformance):
    seam = "can_use_tool"
