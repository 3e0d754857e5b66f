"""The standard adapter cases through a real CrewAI ``Crew``, on both tool-calling paths.

``run`` drives ``Crew.kickoff()`` with sync tools, ``arun`` the native async
``Crew.akickoff()`` with coroutine tools; heso's hooks are registered in CrewAI's execution
scope (:func:`heso_crewai.scoped`). CrewAI has no native pause: a ``require_approval`` call is
refused (``SuspendedError`` out of the run, or the model is told it awaits approval).
"""

from __future__ import annotations

from typing import Any, ClassVar

import heso_crewai
from heso_testing.conformance import AdapterConformance, ConformanceTools, RunResult

from .conftest import make_crew, scripted_llm


class _CrewAIConformance(AdapterConformance):
    path: ClassVar[str]

    def run(
        self, tools: ConformanceTools, tool_name: str, arguments: dict[str, Any], *, mode: str
    ) -> RunResult:
        llm, script = scripted_llm(self.path, [(tool_name, arguments)])
        crew = make_crew(tools.sync_tools(), llm)
        with heso_crewai.scoped(mode):  # type: ignore[arg-type]
            crew.kickoff()
        return RunResult(tool_output=script.observations()[0])

    async def arun(
        self, tools: ConformanceTools, tool_name: str, arguments: dict[str, Any], *, mode: str
    ) -> RunResult:
        llm, script = scripted_llm(self.path, [(tool_name, arguments)])
        crew = make_crew(tools.async_tools(), llm)
        with heso_crewai.scoped(mode):  # type: ignore[arg-type]
            await crew.akickoff()
        return RunResult(tool_output=script.observations()[0])


class TestCrewAINativeConformance(_CrewAIConformance):
    path = "native"


class TestCrewAIReActConformance(_CrewAIConformance):
    path = "react"
