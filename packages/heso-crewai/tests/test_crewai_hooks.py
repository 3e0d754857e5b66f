"""heso's CrewAI hooks through a real ``Crew``: what the model reads, what escapes
``kickoff()``, fail-closed paths, the LLM gate, and the install/scoped lifecycle."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from crewai.hooks import (
    HookAborted,
    get_after_tool_call_hooks,
    get_before_llm_call_hooks,
    get_before_tool_call_hooks,
    register_before_tool_call_hook,
)
from crewai.hooks.dispatch import InterceptionPoint, register_scoped, scoped_hooks

import heso
import heso_crewai
from heso.errors import BlockedError, BridgeError, HesoConfigError
from heso_testing.project import PINNED_CLOCK, Project

from .conftest import FINAL_ANSWER, PATHS, make_crew, run_crew, scripted_llm

POLICY = """
[policy]
default = "allow"

[[rule]]
id = "no-rockets"
verb = "tool_call"
scope = "launch_rocket"
decision = "block"
display = "rocket launches are never allowed"

[[rule]]
id = "no-pings"
verb = "tool_call"
scope = "ping"
decision = "block"
display = "pings are off"

[[rule]]
id = "no-forbidden-model"
verb = "llm_call"
scope = "forbidden-*"
decision = "block"
display = "this model is not approved"
"""

REFUSAL = "heso: blocked by rule no-rockets: rocket launches are never allowed"


class Tools:
    """Tools whose bodies record their calls and the action hash they ran under."""

    def __init__(self) -> None:
        self.ran: list[tuple[str, dict[str, Any], str | None]] = []

    def fns(self) -> list[Any]:
        ran = self.ran

        def lookup_order(order_id: str) -> str:
            """Look up an order."""
            ran.append(("lookup_order", {"order_id": order_id}, heso.current_action_hash()))
            return f"order {order_id}: shipped"

        def launch_rocket(target: str) -> str:
            """Launch a rocket."""
            ran.append(("launch_rocket", {"target": target}, heso.current_action_hash()))
            return "launched"

        def ping() -> str:
            """Ping."""
            ran.append(("ping", {}, heso.current_action_hash()))
            return "pong"

        return [lookup_order, launch_rocket, ping]

    def names(self) -> list[str]:
        return [name for name, _, _ in self.ran]


@pytest.fixture
def project(heso_project: Project) -> Iterator[Project]:
    heso_project.write_policy(POLICY)
    heso_project.init(clock_override=PINNED_CLOCK)
    yield heso_project


@pytest.fixture
def tools() -> Tools:
    return Tools()


def tool_receipts(project: Project, verb: str = "tool_call") -> list[dict[str, Any]]:
    return [r for r in project.receipts() if r["content"]["action"]["verb"] == verb]


def decisions(project: Project) -> list[tuple[str, str]]:
    return [
        (r["content"]["action"]["tool_name"], r["content"]["policy"]["decision"])
        for r in tool_receipts(project)
    ]


# -- refusal modes ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", PATHS)
def test_message_mode_tells_the_model_and_the_run_goes_on(
    project: Project, tools: Tools, path: str
) -> None:
    heso_crewai.install("message")
    output, script = run_crew(
        path,
        tools.fns(),
        [("launch_rocket", {"target": "moon"}), ("lookup_order", {"order_id": "A-1"})],
    )
    assert str(output) == FINAL_ANSWER
    assert tools.names() == ["lookup_order"]
    assert script.observations() == [REFUSAL, "order A-1: shipped"]
    assert decisions(project) == [("launch_rocket", "block"), ("lookup_order", "allow")]


@pytest.mark.parametrize("path", PATHS)
def test_raise_mode_raises_the_refusal_out_of_kickoff(
    project: Project, tools: Tools, path: str
) -> None:
    heso_crewai.install()
    llm, script = scripted_llm(path, [("launch_rocket", {"target": "moon"})])
    with pytest.raises(BlockedError) as caught:
        make_crew(tools.fns(), llm).kickoff()
    err = caught.value
    assert isinstance(err, HookAborted), "CrewAI must see the refusal as a deny"
    (receipt,) = tool_receipts(project)
    assert err.action_hash == receipt["content"]["action_hash"]
    assert (err.rule_id, err.reason) == ("no-rockets", "rocket launches are never allowed")
    assert "rocket launches are never allowed" in str(err)
    assert tools.ran == []
    assert len(script.seen) == 1, "the run must stop at the refused call"


def test_the_bare_before_hook_blocks_with_crewais_own_text(project: Project, tools: Tools) -> None:
    register_before_tool_call_hook(heso_crewai.heso_before_hook)
    output, script = run_crew("native", tools.fns(), [("launch_rocket", {"target": "moon"})])
    assert str(output) == FINAL_ANSWER
    assert tools.ran == []
    assert script.observations() == ["Tool execution blocked by hook. Tool: launch_rocket"]
    assert decisions(project) == [("launch_rocket", "block")]


@pytest.mark.parametrize("path", PATHS)
def test_a_call_without_arguments_gets_its_refusal(
    project: Project, tools: Tools, path: str
) -> None:
    heso_crewai.install("message")
    _, script = run_crew(path, tools.fns(), [("ping", {})])
    assert tools.ran == []
    assert script.observations() == ["heso: blocked by rule no-pings: pings are off"]


def test_parallel_tool_calls_each_get_their_own_outcome(project: Project, tools: Tools) -> None:
    heso_crewai.install("message")
    _, script = run_crew(
        "native",
        tools.fns(),
        [[("launch_rocket", {"target": "moon"}), ("lookup_order", {"order_id": "A-2"})]],
    )
    assert tools.names() == ["lookup_order"]
    assert sorted(script.observations()) == sorted([REFUSAL, "order A-2: shipped"])


@pytest.mark.parametrize("path", PATHS)
def test_the_body_runs_under_its_action_hash(project: Project, tools: Tools, path: str) -> None:
    heso_crewai.install()
    run_crew(path, tools.fns(), [("lookup_order", {"order_id": "A-1"})])
    (receipt,) = tool_receipts(project)
    assert tools.ran == [("lookup_order", {"order_id": "A-1"}, receipt["content"]["action_hash"])]
    assert heso.current_action_hash() is None


@pytest.mark.parametrize("path", PATHS)
def test_a_standalone_agent_is_gated_too(project: Project, tools: Tools, path: str) -> None:
    llm, script = scripted_llm(path, [("launch_rocket", {"target": "moon"})])
    with heso_crewai.scoped("message"):
        make_crew(tools.fns(), llm).agents[0].kickoff("Launch it")
    assert script.observations() == [REFUSAL]
    llm, _ = scripted_llm(path, [("launch_rocket", {"target": "moon"})])
    with heso_crewai.scoped(), pytest.raises(BlockedError):
        make_crew(tools.fns(), llm).agents[0].kickoff("Launch it")
    assert tools.ran == []
    assert decisions(project) == [("launch_rocket", "block")] * 2


# -- fail closed -----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", heso_crewai.MODES)
def test_an_uninitialised_heso_blocks(heso_env: None, tools: Tools, mode: str) -> None:
    heso.shutdown()
    heso_crewai.install(mode)  # type: ignore[arg-type]
    llm, script = scripted_llm("native", [("lookup_order", {"order_id": "A-1"})])
    crew = make_crew(tools.fns(), llm)
    if mode == "raise":
        with pytest.raises(HesoConfigError, match="not initialised"):
            crew.kickoff()
    else:
        crew.kickoff()
        assert script.observations() == [
            "heso: blocked: the heso gate failed, so the action did not run"
        ]
    assert tools.ran == []


def test_a_crash_inside_the_adapter_blocks(
    project: Project, tools: Tools, monkeypatch: pytest.MonkeyPatch
) -> None:
    from heso_crewai import _hooks

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise TypeError("adapter bug")

    monkeypatch.setattr(_hooks, "admit", broken)
    heso_crewai.install()
    with pytest.raises(BridgeError, match="adapter bug") as caught:
        run_crew("react", tools.fns(), [("lookup_order", {"order_id": "A-1"})])
    assert isinstance(caught.value.__cause__, TypeError)
    assert tools.ran == []


def test_observe_only_runs_everything_and_records_the_block(project: Project, tools: Tools) -> None:
    project.init(clock_override=PINNED_CLOCK, blocking=False)
    heso_crewai.install()
    output, _ = run_crew("native", tools.fns(), [("launch_rocket", {"target": "moon"})])
    assert str(output) == FINAL_ANSWER
    assert tools.names() == ["launch_rocket"]
    assert decisions(project) == [("launch_rocket", "block")]


# -- the LLM gate ----------------------------------------------------------------------------


def test_llm_calls_are_gated_and_recorded(project: Project, tools: Tools) -> None:
    hooks = heso_crewai.install("message", llm_calls=True)
    assert hooks.llm_calls
    llm, _ = scripted_llm("native", [("lookup_order", {"order_id": "A-1"})])
    make_crew(tools.fns(), llm).kickoff()
    llm_receipts = tool_receipts(project, "llm_call")
    assert len(llm_receipts) == 2
    action = llm_receipts[0]["content"]["action"]
    assert action["tool_name"] == llm.model
    assert action["fields"]["model"] == llm.model
    assert action["fields"]["messages"][0]["role"] == "system"


@pytest.mark.parametrize("mode", heso_crewai.MODES)
def test_a_blocked_llm_call_raises_before_the_model_runs(
    project: Project, tools: Tools, mode: str
) -> None:
    heso_crewai.install(mode, llm_calls=True)  # type: ignore[arg-type]
    llm, script = scripted_llm("native", [], prefix="forbidden")
    with pytest.raises(BlockedError, match="this model is not approved"):
        make_crew(tools.fns(), llm).kickoff()
    assert script.seen == []


# -- lifecycle -------------------------------------------------------------------------------


def test_install_is_idempotent_and_uninstall_removes_everything(project: Project) -> None:
    before = (len(get_before_tool_call_hooks()), len(get_after_tool_call_hooks()))
    first = heso_crewai.install(llm_calls=True)
    assert first.install() is first
    second = heso_crewai.install("message")
    assert (len(get_before_tool_call_hooks()), len(get_after_tool_call_hooks())) == (
        before[0] + 1,
        before[1] + 1,
    )
    assert first.before_llm_call not in get_before_llm_call_hooks()
    assert second.before_tool_call in get_before_tool_call_hooks()
    assert heso_crewai.uninstall() is True
    assert heso_crewai.uninstall() is False
    assert (len(get_before_tool_call_hooks()), len(get_after_tool_call_hooks())) == before


def test_scoped_hooks_end_with_the_block_and_keep_outer_scoped_hooks(
    project: Project, tools: Tools
) -> None:
    seen: list[str] = []
    with scoped_hooks():
        register_scoped(InterceptionPoint.PRE_TOOL_CALL, lambda ctx: seen.append(ctx.tool_name))
        with heso_crewai.scoped("message") as hooks:
            assert hooks.mode == "message"
            _, script = run_crew("native", tools.fns(), [("launch_rocket", {"target": "moon"})])
        assert script.observations() == [REFUSAL]
        assert seen == ["launch_rocket"]
    run_crew("native", tools.fns(), [("launch_rocket", {"target": "moon"})])
    assert tools.names() == ["launch_rocket"], "outside the scope heso no longer gates"
    assert len(tool_receipts(project)) == 1


async def test_kickoff_async_carries_the_scope_into_its_thread(
    project: Project, tools: Tools
) -> None:
    llm, _ = scripted_llm("react", [("launch_rocket", {"target": "moon"})])
    crew = make_crew(tools.fns(), llm)
    with heso_crewai.scoped(), pytest.raises(BlockedError):
        await crew.kickoff_async()
    assert tools.ran == []


def test_an_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="mode must be one of"):
        heso_crewai.HesoHooks("warn")  # type: ignore[arg-type]


def test_importing_the_adapter_does_not_import_crewai() -> None:
    code = "import sys, heso, heso_crewai as h; print(heso.crewai is h, 'crewai' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "False"]
