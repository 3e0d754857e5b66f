"""The :class:`~heso.action.Action` a call is captured as, built in one place for the gate and
for re-entry, so both see the same action."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from heso.action import Action, Verb
from heso.canonical import to_json_value
from heso.steps import StepFrame, current_step


def captured_action(
    config: Any,
    verb: Verb | str,
    tool_name: str,
    fields: Mapping[str, Any] | None,
    workflow: str | None,
    account: str | None,
    agent: str | None,
    domain: str | None,
    action_id: str | None,
) -> tuple[Action, StepFrame | None]:
    """The action of one call, and the innermost :func:`heso.step` it runs in.

    ``fields`` take their JSON form; ``workflow``/``account`` left out default to the innermost
    step's, then ``config``'s. Raises ``ValueError`` for an empty or non-string ``tool_name``,
    ``TypeError`` when ``fields`` is not a mapping, ``CanonicalizationError`` when a value has
    no JSON form."""
    if type(verb) is not Verb:
        verb = Verb(verb)
    if type(tool_name) is not str or not tool_name:
        if not isinstance(tool_name, str) or not tool_name:
            raise ValueError(f"tool_name must be a non-empty string, not {tool_name!r}")
    if fields is None:
        values: dict[str, Any] = {}
    elif type(fields) is dict or isinstance(fields, Mapping):
        values = to_json_value(fields, path="fields")
    else:
        raise TypeError(f"fields must be a mapping of names to values, not {type(fields).__name__}")
    frame = current_step()
    if frame is not None:
        if workflow is None:
            workflow = frame.workflow
        if account is None:
            account = frame.account
    action = Action(
        verb=verb,
        tool_name=tool_name,
        fields=values,
        workflow=workflow or config.workflow,
        account=account or config.account,
        agent=agent,
        domain=domain,
        action_id=action_id,
    )
    return action, frame
