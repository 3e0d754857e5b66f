"""``HesoMiddleware``: gate every tool call of a LangChain v1 agent
(``create_agent(model, tools, middleware=[HesoMiddleware()])``).

Blocked calls raise ``heso.BlockedError`` (``mode="raise"``, the default) or become an error
``ToolMessage`` the model reads (``mode="message"``). ``require_approval`` pauses the agent
with LangGraph's ``interrupt()`` when it has a checkpointer
(``create_agent(..., checkpointer=InMemorySaver())``); after ``heso approve``, resuming with
``Command(resume="approve")`` runs the tool once, with an L1 receipt. See
:class:`heso_langchain.langgraph.ToolCallGate` for the whole protocol.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from langchain.agents.middleware import AgentMiddleware
from langchain.agents.middleware.types import ToolCallRequest
from langchain_core.messages import ToolMessage
from langgraph.types import Command

from heso_langchain.langgraph import ToolCallGate


class HesoMiddleware(AgentMiddleware):  # type: ignore[type-arg]
    """Gate tool calls through :class:`~heso_langchain.langgraph.ToolCallGate`; the options
    are its options."""

    def __init__(
        self, *, mode: str = "raise", approve_on_resume: bool = False, agent: str | None = None
    ) -> None:
        super().__init__()
        self.gate = ToolCallGate(mode=mode, approve_on_resume=approve_on_resume, agent=agent)

    def wrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], ToolMessage | Command[Any]],
    ) -> ToolMessage | Command[Any]:
        return self.gate.wrap_tool_call(request, handler)

    async def awrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], Awaitable[ToolMessage | Command[Any]]],
    ) -> ToolMessage | Command[Any]:
        return await self.gate.awrap_tool_call(request, handler)

    def __repr__(self) -> str:
        return f"HesoMiddleware({self.gate!r})"


__all__ = ["HesoMiddleware"]
