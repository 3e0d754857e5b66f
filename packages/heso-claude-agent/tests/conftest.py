"""Drive the real bundled Claude Code CLI offline: a scripted model (``FakeClaudeAPI`` on
127.0.0.1) calls one tool of an in-process SDK MCP server once, then answers ``done``."""

from __future__ import annotations

import functools
import inspect
import tempfile
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import anyio
from claude_agent_sdk import (
    ClaudeAgentOptions,
    Message,
    ResultMessage,
    SdkMcpTool,
    create_sdk_mcp_server,
    query,
    tool,
)
from pydantic import create_model

import heso
from heso_claude_agent import HesoGate, Mode
from heso_testing.claude_fake_api import FakeClaudeAPI, ToolUse

SERVER = "conformance"
Seam = Literal["hook", "can_use_tool", "both"]


def sdk_tool(
    fn: Callable[..., Any], on_call: Callable[[dict[str, Any]], Any] | None = None
) -> SdkMcpTool[Any]:
    """``fn`` (sync or async, typed, documented) as an SDK MCP tool named like it; its input
    schema is pydantic's for the parameters (with their defaults)."""
    params = inspect.signature(fn).parameters.values()
    hints = inspect.get_annotations(fn, eval_str=True)
    fields: dict[str, Any] = {
        p.name: (hints[p.name], ... if p.default is inspect.Parameter.empty else p.default)
        for p in params
    }
    schema = create_model(f"{fn.__name__}_args", **fields).model_json_schema()

    async def handler(args: dict[str, Any]) -> dict[str, Any]:
        if on_call is not None:
            on_call(dict(args))  # the handler's own input, before Python fills defaults
        out = fn(**args)
        if inspect.isawaitable(out):
            out = await out
        return {"content": [{"type": "text", "text": str(out)}]}

    return tool(fn.__name__, inspect.getdoc(fn) or fn.__name__, schema)(handler)


@dataclass
class Session:
    """What one scripted run saw."""

    api: FakeClaudeAPI
    calls: list[ToolUse]
    messages: list[Message] = field(default_factory=list)
    raised: BaseException | None = None
    """What escaped the run."""

    @property
    def tool_output(self) -> str | None:
        """What the model was told for its first tool call."""
        return self.output(0)

    def output(self, index: int) -> str | None:
        """What the model was told for its ``index``-th tool call."""
        return self.api.tool_result_text(self.calls[index].id)

    @property
    def result(self) -> ResultMessage | None:
        return next((m for m in self.messages if isinstance(m, ResultMessage)), None)


def options_for(
    api: FakeClaudeAPI,
    home: str,
    tools: Iterable[Callable[..., Any]],
    *,
    server: str = SERVER,
    allow: bool = True,
    on_call: Callable[[dict[str, Any]], Any] | None = None,
) -> ClaudeAgentOptions:
    """Options for the CLI against ``api`` with ``tools`` served in process as ``server``;
    ``allow`` puts them in ``allowed_tools`` (else Claude Code asks ``can_use_tool``)."""
    fns = list(tools)
    return ClaudeAgentOptions(
        mcp_servers={
            server: create_sdk_mcp_server(server, tools=[sdk_tool(f, on_call) for f in fns])
        },
        allowed_tools=[f"mcp__{server}__{f.__name__}" for f in fns] if allow else [],
        env=api.env(home),
        model="claude-sonnet-4-5",
        max_turns=4,
        tools=[],
        cwd=home,
    )


def wire(gate: HesoGate, options: ClaudeAgentOptions, seam: Seam) -> ClaudeAgentOptions:
    """``options`` gated by ``gate`` through the ``PreToolUse`` hook, ``can_use_tool`` or both."""
    if seam != "can_use_tool":
        options = gate.apply(options)
    if seam != "hook":
        options = replace(options, allowed_tools=[], can_use_tool=gate.can_use_tool)
    return options


async def drive(
    tools: Iterable[Callable[..., Any]],
    *calls: tuple[str, dict[str, Any]],
    gate: HesoGate | None,
    seam: Seam = "hook",
    server: str = SERVER,
    configure: Callable[[ClaudeAgentOptions, str], ClaudeAgentOptions] | None = None,
    shortcut: Mode | None = None,
    on_call: Callable[[dict[str, Any]], Any] | None = None,
) -> Session:
    """One scripted run: the model makes ``calls`` (``(tool, arguments)``, one per turn; a
    tool of ``tools`` is ``mcp__<server>__<tool>``, anything else keeps its name), then
    answers ``done``. ``gate=None`` runs the bare SDK, or ``heso.claude_agent.query`` in
    mode ``shortcut``; ``configure(options, home)`` adjusts the options before the gate is
    wired; ``on_call`` sees each handler's input. What escapes the run is
    ``Session.raised``."""
    names = {f.__name__ for f in tools}
    script = [ToolUse(f"mcp__{server}__{n}" if n in names else n, a) for n, a in calls]
    with tempfile.TemporaryDirectory(prefix="claude-home-") as home, FakeClaudeAPI(*script) as api:
        session = Session(api, script)
        options = options_for(
            api, home, tools, server=server, allow=seam == "hook", on_call=on_call
        )
        if configure is not None:
            options = configure(options, home)
        run: Callable[..., AsyncIterator[Message]] = query
        if gate is not None:
            run, options = gate.query, wire(gate, options, seam)
        elif shortcut is not None:
            run = functools.partial(heso.claude_agent.query, mode=shortcut)
        try:
            with anyio.fail_after(90):
                async for message in run(prompt="go", options=options):
                    session.messages.append(message)
        except Exception as exc:
            session.raised = exc
        assert not api.errors, api.errors
        return session
