"""heso for the OpenAI Agents SDK: gate, sign and prove every function tool call.

```python
import heso
from agents import Agent, Runner

heso.init()
agent = heso.openai_agents.protect(Agent(name="support", tools=[...]))  # mode="raise"
result = Runner.run_sync(agent, "...")
if result.interruptions:                 # a require_approval call paused the run
    state = result.to_state()            # ... an approver runs `heso approve <hash>` ...
    if heso.openai_agents.apply_approvals(state).ready:
        result = Runner.run_sync(agent, state)   # the approved call runs exactly once
```

Every call is captured once through the core's gate (verb ``tool_call``, the tool's name, and
the arguments its function receives as fields: the JSON validated by the tool, defaults
applied), so receipts are byte-identical to every other heso surface.
"""

from __future__ import annotations

from heso_openai_agents.approvals import Decisions, apply_approvals, pending_actions
from heso_openai_agents.guardrail import HesoGate, protect, tool_guardrail
from heso_openai_agents.refusals import (
    Mode,
    ToolBlocked,
    ToolSuspended,
    refusal_text,
)

__all__ = [
    "Decisions",
    "HesoGate",
    "Mode",
    "ToolBlocked",
    "ToolSuspended",
    "apply_approvals",
    "pending_actions",
    "protect",
    "refusal_text",
    "tool_guardrail",
]
