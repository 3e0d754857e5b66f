"""heso in a CrewAI crew, offline: every tool call gated, signed and chained.

A real ``Crew`` runs with a scripted stand-in for the model (no API key, no network):

1. ``mode="message"``: the agent tries to launch a rocket; policy blocks it, the model reads
   heso's refusal with the rule's reason, and goes on to look up an order;
2. ``mode="raise"``: the same refusal aborts the run; ``crew.kickoff()`` raises
   ``heso.BlockedError``;
3. anyone verifies the audit chain.

    python examples/crewai_crew.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

POLICY = """\
[policy]
default = "allow"

[[rule]]
id = "no-rockets"
verb = "tool_call"
scope = "launch_rocket"
decision = "block"
display = "rocket launches are never allowed"
"""

BODIES: list[str] = []
"""The tool bodies that ran."""

SCRIPT: dict[str, list[Any]] = {}
"""What each scripted model says, turn by turn (kept outside the pydantic model class)."""


def heso_cli(*args: str, env: dict[str, str]) -> str:
    """Run the real ``heso`` command line; returns its standard output."""
    done = subprocess.run(
        [sys.executable, "-m", "heso", *args], env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"heso {' '.join(args)} failed:\n{done.stderr}{done.stdout}")
    return done.stdout


def tool_call(name: str, **arguments: Any) -> list[dict[str, Any]]:
    """An OpenAI-style tool call, as a function-calling model returns it."""
    return [
        {
            "id": f"call_{name}",
            "type": "function",
            "function": {"name": name, "arguments": json.dumps(arguments)},
        }
    ]


def build_crew(model: str) -> Any:
    from crewai import Agent, Crew, Task
    from crewai.llms.base_llm import BaseLLM
    from crewai.tools import tool

    class ScriptedLLM(BaseLLM):
        """Replays SCRIPT[model]; prints the tool result it reads."""

        def call(self, messages: Any, *args: Any, **kwargs: Any) -> Any:
            last = messages[-1]
            if isinstance(last, dict) and last.get("role") == "tool":
                print(f"  model reads: {last['content']}")
            return SCRIPT[self.model].pop(0)

        def supports_function_calling(self) -> bool:
            return True

        def get_context_window_size(self) -> int:
            return 32768

    @tool("lookup_order")
    def lookup_order(order_id: str) -> str:
        """Look up an order by its id."""
        BODIES.append("lookup_order")
        return f"order {order_id}: shipped"

    @tool("launch_rocket")
    def launch_rocket(target: str) -> str:
        """Launch a rocket at the target."""
        BODIES.append("launch_rocket")
        return f"launched at {target}"

    agent = Agent(
        role="support agent",
        goal="help the customer",
        backstory="careful",
        llm=ScriptedLLM(model=model),
        tools=[lookup_order, launch_rocket],
    )
    task = Task(description="Help the customer.", expected_output="a reply", agent=agent)
    return Crew(agents=[agent], tasks=[task])


def run(heso_crewai: Any) -> None:
    import heso

    print("\n== 1. mode='message': the model is told why, and carries on")
    SCRIPT["scripted-1"] = [
        tool_call("launch_rocket", target="moon"),
        tool_call("lookup_order", order_id="A-1"),
        "Order A-1 has shipped; I cannot launch rockets.",
    ]
    with heso_crewai.scoped("message"):
        out = build_crew("scripted-1").kickoff()
    print(f"  crew answered: {out}")
    assert BODIES == ["lookup_order"], BODIES

    print("\n== 2. mode='raise': the refusal aborts the run")
    SCRIPT["scripted-2"] = [tool_call("launch_rocket", target="mars"), "unreachable"]
    with heso_crewai.scoped("raise"):
        try:
            build_crew("scripted-2").kickoff()
        except heso.BlockedError as err:
            print(f"  kickoff() raised BlockedError: rule {err.rule_id}: {err.reason}")
            print(f"  receipt {err.action_hash[:12]}")
    assert BODIES == ["lookup_order"], BODIES
    print(f"  tool bodies that ran: {BODIES}")


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="heso-crewai-") as tmp:
        base = Path(tmp)
        project = base / "support-crew"
        (base / "home").mkdir()
        os.environ.update(
            HOME=str(base / "home"),  # CrewAI writes under ~/.local/share and ~/.config
            CREWAI_DISABLE_TELEMETRY="true",
            CREWAI_TRACING_ENABLED="false",
            OTEL_SDK_DISABLED="true",
            HESO_KDF_PROFILE="interactive",  # fast key derivation for a demo
        )
        env = {k: v for k, v in os.environ.items() if k != "HESO_PROJECT_ROOT"}
        heso_cli("init", str(project), env=env)
        (project / "heso.toml").write_text(POLICY)

        import heso

        heso.init(project_root=project)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ImportWarning)
            import heso_crewai

            heso_crewai.HesoHooks  # noqa: B018 - import CrewAI quietly now
        run(heso_crewai)
        heso.shutdown()

        print("\n== 3. anyone verifies the chain")
        print(heso_cli("verify", "--chain", "--project", str(project), env=env).rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
