"""``import heso`` stays light: no agent framework, no provider SDK; adapters resolve lazily."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

import heso

HEAVY = (
    "openai",
    "anthropic",
    "langchain",
    "langchain_core",
    "langgraph",
    "crewai",
    "agents",
    "claude_agent_sdk",
    "pydantic_ai",
    "mcp",
    "httpx",
    "httpx2",
    "pydantic",
    "opentelemetry",  # only once telemetry is configured
)


def _run(code: str, cwd, env_extra=None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HESO_")}
    env["HESO_KDF_PROFILE"] = "interactive"
    env.update(env_extra or {})
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_import_init_and_gated_calls_load_no_framework_or_provider(heso_project):
    result = _run(
        f"""
        import json, sys
        import heso

        before = sorted(m for m in sys.modules if m.split(".")[0] in {HEAVY!r})
        heso.init(project_root={str(heso_project.root)!r})

        @heso.tool
        def lookup(customer_id: int) -> str:
            return "ok"

        with heso.step(workflow="w"):
            lookup(1)
        heso.process(heso.Action(heso.Verb.TOOL_CALL, "t", {{"a": 1}}))
        after = sorted(m for m in sys.modules if m.split(".")[0] in {HEAVY!r})
        print(json.dumps({{"before": before, "after": after}}))
        """,
        heso_project.root,
    )
    assert result == {"before": [], "after": []}


def test_import_heso_does_not_load_the_engine(heso_project):
    result = _run(
        """
        import json, sys
        import heso
        print(json.dumps(sorted(m for m in sys.modules if m.startswith("heso"))))
        """,
        heso_project.root,
    )
    assert "heso.capture" not in result and "heso.policy" not in result
    assert "heso.ledger" not in result


def test_importing_the_wrap_module_first_keeps_heso_wrap_callable(heso_project):
    result = _run(
        """
        import json
        from heso.wrap import unwrap
        import heso

        class Client:
            def create(self, **kw):
                return kw
        proxy = heso.wrap(Client())
        print(json.dumps([type(unwrap(proxy)).__name__, callable(heso.action)]))
        """,
        heso_project.root,
    )
    assert result == ["Client", True]


ADAPTERS = [
    ("HesoCallbackHandler", "heso-langchain"),
    ("langgraph", "heso-langchain"),
    ("crewai", "heso-crewai"),
    ("openai_agents", "heso-openai-agents"),
    ("claude_agent", "heso-claude-agent"),
    ("pydantic_ai", "heso-pydantic-ai"),
    ("mcp", "heso-mcp"),
]


@pytest.mark.parametrize(("name", "dist"), ADAPTERS)
def test_each_adapter_is_found_through_its_entry_point(name, dist, monkeypatch):
    entry = heso._adapter_entry_points()[name]
    assert entry.group == "heso.adapters" and entry.dist.name == dist
    monkeypatch.delitem(vars(heso), name, raising=False)
    assert getattr(heso, name) is entry.load()
    assert name in dir(heso)


@pytest.mark.parametrize(("name", "dist"), ADAPTERS)
def test_missing_adapter_names_the_pip_command(name, dist, monkeypatch):
    monkeypatch.setattr(heso, "_entry_points", {})  # as if no adapter were installed
    monkeypatch.delitem(vars(heso), name, raising=False)
    with pytest.raises(ImportError, match=f"pip install ./packages/heso-core ./packages/{dist}$"):
        getattr(heso, name)
    assert name not in dir(heso)


def test_a_broken_adapter_install_names_its_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "heso_crewai", None)  # declared, but will not import
    monkeypatch.delitem(vars(heso), "crewai", raising=False)
    with pytest.raises(
        ImportError, match=r"pip install \./packages/heso-core \./packages/heso-crewai$"
    ):
        heso.crewai  # noqa: B018


def test_dir_and_getattr_errors():
    names = dir(heso)
    for public in ("init", "tool", "destructive", "action", "step", "wrap", "process"):
        assert public in names
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        heso.nope  # noqa: B018
    assert heso.capture.gate is not None and heso.policy.Policy is not None
    assert callable(heso.action) and callable(heso.wrap)


def test_every_name_in_all_resolves():
    for name in heso.__all__:
        assert getattr(heso, name) is not None, name
