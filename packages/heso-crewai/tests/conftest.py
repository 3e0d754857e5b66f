"""A real CrewAI ``Crew`` driven offline by a scripted ``BaseLLM``, on the native tool-calling
path or the ReAct text path, with telemetry and tracing off and a temporary ``HOME``."""

from __future__ import annotations

import itertools
import json
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import heso_crewai

# CrewAI's lazy subpackages trip an ImportWarning on import (harmless); the suite runs with
# warnings as errors.
CREWAI_IMPORT_WARNING = "ignore:Cannot set an attribute on 'crewai:ImportWarning"
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ImportWarning)
    from crewai import Agent, Crew, Task
    from crewai.hooks import clear_all_global_hooks
    from crewai.llms.base_llm import BaseLLM
    from crewai.tools import tool

PATHS = ("native", "react")
"""CrewAI's two tool-calling paths: OpenAI-style tool calls, and Action/Action Input text."""

FINAL_ANSWER = "All done."


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("filterwarnings", CREWAI_IMPORT_WARNING)


@pytest.fixture(autouse=True)
def _crewai_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A temporary HOME (CrewAI writes under ~/.local/share and ~/.config), telemetry and
    tracing off, and no global hooks left behind."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("CREWAI_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    monkeypatch.setenv("CREWAI_TRACING_ENABLED", "false")
    clear_all_global_hooks()
    try:
        yield
    finally:
        heso_crewai.uninstall()
        clear_all_global_hooks()


Call = tuple[str, dict[str, Any]]
Step = Call | list[Call]
"""One model turn: a tool call, or several in parallel (native path only)."""


@dataclass
class Script:
    """What the scripted model does: each step in turn, then the final answer."""

    path: str
    steps: list[Step]
    seen: list[list[Any]] = field(default_factory=list)
    """The messages the model received on each call."""

    def respond(self, messages: Any) -> Any:
        self.seen.append(json.loads(json.dumps(messages, default=str)))
        turn = len(self.seen) - 1
        if turn >= len(self.steps):
            if self.path == "native":
                return FINAL_ANSWER
            return f"Thought: I know the answer\nFinal Answer: {FINAL_ANSWER}"
        step = self.steps[turn]
        calls = step if isinstance(step, list) else [step]
        if self.path == "native":
            return [
                {
                    "id": f"call_{turn}_{i}",
                    "type": "function",
                    "function": {"name": name, "arguments": json.dumps(arguments)},
                }
                for i, (name, arguments) in enumerate(calls)
            ]
        ((name, arguments),) = calls
        return f"Thought: I need {name}\nAction: {name}\nAction Input: {json.dumps(arguments)}"

    def observations(self) -> list[str]:
        """The tool results the model read, in order (from its last call's messages)."""
        if not self.seen:
            return []
        out: list[str] = []
        for message in self.seen[-1]:
            if not isinstance(message, dict):
                continue
            content = str(message.get("content") or "")
            if message.get("role") == "tool":
                out.append(content)
            elif message.get("role") == "assistant" and "\nObservation:" in content:
                out.append(content.rsplit("\nObservation:", 1)[1].strip())
        return out


# Per-test state lives outside the model class: CrewAI's BaseLLM is a pydantic model, so class
# attributes would become fields. Each ScriptedLLM finds its script by its unique model name.
_SCRIPTS: dict[str, Script] = {}
_ids = itertools.count()


class ScriptedLLM(BaseLLM):
    """A fake model replaying its :class:`Script`."""

    def call(
        self,
        messages: Any,
        tools: Any = None,
        callbacks: Any = None,
        available_functions: Any = None,
        from_task: Any = None,
        from_agent: Any = None,
        response_model: Any = None,
    ) -> Any:
        return _SCRIPTS[self.model].respond(messages)

    async def acall(
        self,
        messages: Any,
        tools: Any = None,
        callbacks: Any = None,
        available_functions: Any = None,
        from_task: Any = None,
        from_agent: Any = None,
        response_model: Any = None,
    ) -> Any:
        return _SCRIPTS[self.model].respond(messages)

    def supports_function_calling(self) -> bool:
        return _SCRIPTS[self.model].path == "native"

    def supports_stop_words(self) -> bool:
        return False

    def get_context_window_size(self) -> int:
        return 32768

    def get_input_tokens_count(
        self, messages: Any, tools: Any = None, response_model: Any = None
    ) -> int:
        return len(json.dumps(messages, default=str)) // 4


def scripted_llm(
    path: str, steps: list[Step], *, prefix: str = "scripted"
) -> tuple[ScriptedLLM, Script]:
    """A fresh scripted model (named ``<prefix>-<path>-<n>``) and its script."""
    script = Script(path, list(steps))
    name = f"{prefix}-{path}-{next(_ids)}"
    _SCRIPTS[name] = script
    return ScriptedLLM(model=name), script


def make_crew(fns: list[Callable[..., Any]], llm: BaseLLM, *, max_iter: int = 4) -> Crew:
    """One agent with ``fns`` as CrewAI tools and one task."""
    agent = Agent(
        role="support agent",
        goal="handle the request",
        backstory="works offline",
        llm=llm,
        tools=[tool(fn.__name__)(fn) for fn in fns],
        max_iter=max_iter,
        verbose=False,
    )
    task = Task(description="Handle the request.", expected_output="a summary", agent=agent)
    return Crew(agents=[agent], tasks=[task], verbose=False)


def run_crew(path: str, fns: list[Callable[..., Any]], steps: list[Step]) -> tuple[Any, Script]:
    """Kick off a crew whose model takes ``steps`` then answers; ``(output, script)``."""
    llm, script = scripted_llm(path, steps)
    return make_crew(fns, llm).kickoff(), script
