"""What each framework adapter adds per tool call: the same offline agent run (a fake model that
calls one tool once, then answers) with and without heso, through the real framework; and what
``heso.wrap`` adds to one model call of the real openai/anthropic client.

Runs alternate (without, with, without, ...) so load hits both alike. ``added_ms`` is the
difference of the medians; ``share`` is that over the median run with heso. ``in_core_ms`` is
the time spent inside ``heso.capture.capture`` (policy, receipt, signature, chain) per run,
measured by wrapping it: the rest of ``added_ms`` is the adapter's own translation. A framework
that is not installed, or cannot run offline here, is reported as skipped with the reason.
"""

from __future__ import annotations

import asyncio
import importlib.util
import itertools
import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine, make_project, section_main

REPO = Path(__file__).resolve().parent.parent
ARGS = {"order_id": "A-1042", "limit": 3}


def lookup_order(order_id: str, limit: int = 3) -> str:
    """Look up an order by id."""
    return f"order {order_id}: shipped ({limit} items)"


async def a_lookup_order(order_id: str, limit: int = 3) -> str:
    """Look up an order by id."""
    return f"order {order_id}: shipped ({limit} items)"


def _load(name: str, path: Path) -> Any:
    """A helper module of an adapter's test suite (offline fakes), loaded by path."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


# -- one runner pair per seam: (run without heso, run with heso) --------------------------------

Pair = tuple[Callable[[], Any], Callable[[], Any]]


def langchain_seam(seam: str) -> Pair:
    from langchain.agents import create_agent
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage, HumanMessage
    from langchain_core.tools import StructuredTool

    from heso_langchain import HesoCallbackHandler, HesoMiddleware

    class FakeToolModel(GenericFakeChatModel):
        model: str = "fake-chat-1"

        def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
            return self

    def model() -> Any:
        call = {"name": "lookup_order", "args": dict(ARGS), "id": "call_1"}
        script = [AIMessage(content="", tool_calls=[call]), AIMessage(content="done")]
        return FakeToolModel(messages=itertools.cycle(script))

    tools = [StructuredTool.from_function(func=lookup_order)]
    start = {"messages": [HumanMessage("go")]}
    base = create_agent(model(), tools)
    if seam == "callback":
        handler = HesoCallbackHandler(mode="raise")
        return (lambda: base.invoke(start)), (lambda: base.invoke(start, {"callbacks": [handler]}))
    gated = create_agent(model(), tools, middleware=[HesoMiddleware(mode="raise")])
    return (lambda: base.invoke(start)), (lambda: gated.invoke(start))


def pydantic_ai_seam() -> Pair:
    from pydantic_ai import Agent
    from pydantic_ai.messages import ModelResponse, TextPart, ToolCallPart, ToolReturnPart
    from pydantic_ai.models.function import FunctionModel

    from heso_pydantic_ai import HesoCapability

    def respond(messages: Any, info: Any) -> Any:
        if any(isinstance(p, ToolReturnPart) for p in messages[-1].parts):
            return ModelResponse(parts=[TextPart("done")])
        return ModelResponse(parts=[ToolCallPart("lookup_order", dict(ARGS), tool_call_id="c1")])

    base = Agent(FunctionModel(respond), tools=[lookup_order])
    gated = Agent(
        FunctionModel(respond),
        tools=[lookup_order],
        capabilities=[HesoCapability(mode="raise")],  # type: ignore[list-item]
    )
    return (lambda: base.run_sync("go")), (lambda: gated.run_sync("go"))


def openai_agents_seam() -> Pair:
    os.environ.setdefault("OPENAI_API_KEY", "sk-offline-benchmark")
    from agents import Agent, Runner, function_tool, set_tracing_disabled

    from heso_openai_agents import protect
    from heso_openai_agents.testing import ScriptedModel

    set_tracing_disabled(True)
    loop = asyncio.new_event_loop()

    def agent(gated: bool) -> Any:
        model = ScriptedModel([[("lookup_order", dict(ARGS))], "done"])
        a = Agent(
            name="support", instructions="Help.", model=model, tools=[function_tool(lookup_order)]
        )
        return protect(a, mode="raise") if gated else a

    def run(gated: bool) -> Any:
        return loop.run_until_complete(Runner.run(agent(gated), "go"))

    return (lambda: run(False)), (lambda: run(True))


def crewai_seam() -> Pair:
    os.environ.setdefault("CREWAI_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("OTEL_SDK_DISABLED", "true")
    os.environ.setdefault("CREWAI_TRACING_ENABLED", "false")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import heso_crewai

        fakes = _load("heso_bench_crewai_fakes", REPO / "packages/heso-crewai/tests/conftest.py")

    def run(gated: bool) -> Any:
        llm, _ = fakes.scripted_llm("native", [("lookup_order", dict(ARGS))])
        crew = fakes.make_crew([lookup_order], llm)
        if not gated:
            return crew.kickoff()
        with heso_crewai.scoped("raise"):
            return crew.kickoff()

    return (lambda: run(False)), (lambda: run(True))


class _McpSessions:
    """One in-memory MCP server + client session per arm, kept open across calls."""

    def __init__(self, seam: str) -> None:
        self.seam = seam
        self.loop = asyncio.new_event_loop()
        self.sessions: dict[bool, Any] = {}
        self._stack: Any = None

    async def _open(self) -> None:
        import contextlib

        from mcp.server.fastmcp import FastMCP
        from mcp.shared.memory import create_connected_server_and_client_session

        from heso_mcp import HesoFastMCP, wrap_call_tool

        self._stack = contextlib.AsyncExitStack()
        for gated in (False, True):
            server_cls = HesoFastMCP if gated and self.seam == "server" else FastMCP
            server = server_cls(f"bench-{gated}")
            server.add_tool(lookup_order)
            session = await self._stack.enter_async_context(
                create_connected_server_and_client_session(server)
            )
            if gated and self.seam == "client":
                wrap_call_tool(session, mode="raise")
            await session.list_tools()
            self.sessions[gated] = session

    def pair(self) -> Pair:
        import logging

        self.loop.run_until_complete(self._open())
        logging.getLogger("mcp").setLevel(logging.WARNING)  # no line per request on stderr

        def call(gated: bool) -> Any:
            return self.loop.run_until_complete(
                self.sessions[gated].call_tool("lookup_order", dict(ARGS))
            )

        return (lambda: call(False)), (lambda: call(True))


def wrap_seam(provider: str) -> Pair:
    """One model call of the real client, raw and through ``heso.wrap``. The reply comes from an
    in-process transport (a canned response), so the figure is heso's part, not network noise."""
    messages = [{"role": "user", "content": "Summarize ticket #4521 " * 10}]
    if provider == "openai":
        import httpx
        import openai

        reply = {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1,
            "model": "gpt-4o-mini",
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": "done"},
                }
            ],
        }

        def client() -> Any:
            transport = httpx.MockTransport(lambda request: httpx.Response(200, json=reply))
            return openai.OpenAI(api_key="sk-local", http_client=httpx.Client(transport=transport))

        def call(c: Any) -> Any:
            return c.chat.completions.create(model="gpt-4o-mini", messages=messages)

    else:
        import anthropic
        import anthropic._base_client

        http: Any = getattr(anthropic._base_client, "httpx2", None) or importlib.import_module(
            "httpx"
        )
        message = {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "claude-x",
            "content": [{"type": "text", "text": "done"}],
            "stop_reason": "end_turn",
            "usage": {"input_tokens": 1, "output_tokens": 1},
        }

        def client() -> Any:
            transport = http.MockTransport(lambda request: http.Response(200, json=message))
            return anthropic.Anthropic(
                api_key="sk-local", http_client=http.Client(transport=transport)
            )

        def call(c: Any) -> Any:
            return c.messages.create(model="claude-x", max_tokens=64, messages=messages)

    import heso

    raw, wrapped = client(), heso.wrap(client())
    return (lambda: call(raw)), (lambda: call(wrapped))


SEAMS: dict[str, tuple[str, Callable[[], Pair]]] = {
    "openai_wrap": ("openai", lambda: wrap_seam("openai")),
    "anthropic_wrap": ("anthropic", lambda: wrap_seam("anthropic")),
    "langchain_callback": ("langchain", lambda: langchain_seam("callback")),
    "langchain_middleware": ("langchain", lambda: langchain_seam("middleware")),
    "pydantic_ai": ("pydantic_ai", pydantic_ai_seam),
    "openai_agents": ("agents", openai_agents_seam),
    "crewai": ("crewai", crewai_seam),
    "mcp_client": ("mcp", lambda: _McpSessions("client").pair()),
    "mcp_server": ("mcp", lambda: _McpSessions("server").pair()),
}


def measure(pair: Pair, runs: int) -> dict[str, Any]:
    import heso.capture as cap

    base, gated = pair
    real = cap.capture
    in_core: list[int] = []

    def timed_capture(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter_ns()
        try:
            return real(*args, **kwargs)
        finally:
            in_core.append(time.perf_counter_ns() - t0)

    for _ in range(2):  # warm both arms (imports, caches, the chain)
        base()
        gated()
    tb: list[float] = []
    tg: list[float] = []
    calls_before = len(in_core)
    cap.capture = timed_capture  # type: ignore[assignment]
    try:
        for _ in range(runs):
            t0 = time.perf_counter()
            base()
            tb.append(time.perf_counter() - t0)
            n = len(in_core)
            t0 = time.perf_counter()
            gated()
            tg.append(time.perf_counter() - t0)
            if len(in_core) == n:
                raise RuntimeError("the gated run captured no action")
    finally:
        cap.capture = real  # type: ignore[assignment]
    mb, mg = statistics.median(tb), statistics.median(tg)
    core = in_core[calls_before:]
    return {
        "runs": runs,
        "without_ms": mb * 1000,
        "with_ms": mg * 1000,
        "added_ms": (mg - mb) * 1000,
        "share": (mg - mb) / mg if mg else None,
        "in_core_ms": statistics.median(core) / 1e6 if core else None,
        "in_core_share": (statistics.median(core) / 1e9) / mg if core and mg else None,
        "captures_per_run": len(core) / runs,
        "without_min_ms": min(tb) * 1000,
        "with_min_ms": min(tg) * 1000,
    }


def run(quick: bool) -> dict[str, Any]:
    import heso

    root = make_project(rules=100)
    os.environ["HESO_DURABILITY"] = "buffered"
    heso.init(project_root=root)
    out: dict[str, Any] = {"machine": machine(), "adapters": {}}
    budget = {"crewai": 8 if quick else 40}
    for name, (module, factory) in SEAMS.items():
        if importlib.util.find_spec(module) is None:
            out["adapters"][name] = {"skipped": f"{module} is not installed"}
            continue
        try:
            pair = factory()
            runs = budget.get(name, 5 if quick else 150)
            out["adapters"][name] = measure(pair, runs)
        except Exception as exc:  # reported, never hidden: the row says why
            out["adapters"][name] = {"skipped": f"{type(exc).__name__}: {exc}"[:300]}
    out["adapters"]["claude_agent"] = {
        "skipped": "each run starts the bundled Claude Code CLI (a separate process, ~1 s); "
        "heso's part is one gate per tool call, as in the other rows, and is lost in that "
        "process's start-up noise"
    }
    heso.shutdown()
    return out


if __name__ == "__main__":
    section_main(run)
