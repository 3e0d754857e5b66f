"""One MCP ``tools/call`` through heso, shared by the client and server gates.

MCP has no native pause, so a ``require_approval`` call is refused and parked: the core opens
the pending approval ``action-<action_hash>``. The same call made again (same tool, arguments,
workflow and account, in any process) re-enters it through :func:`heso.adapters.admit`:
refused again without a new receipt while undecided; once approvers approved, it runs exactly
once under the approved receipt's ``action_hash``; after a denial or expiry it is refused once,
and afterwards it is a new action.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from heso.adapters import Verb, admit

T = TypeVar("T")


async def run(tool_name: str, fields: Mapping[str, Any], send: Callable[[], Awaitable[T]]) -> T:
    """Gate ``tool_name`` with ``fields`` (the arguments as the tool receives them) as a
    ``tool_call`` and await ``send()`` only when admitted.

    Raises the ``GateRefusal`` when blocking is on and heso refused (the caller turns it into
    its framework's refusal); a gate failure raises (fail closed). ``send`` runs with
    :func:`heso.current_action_hash` set.
    """
    with admit(Verb.TOOL_CALL, tool_name, dict(fields)):
        return await send()
