"""What an agent does, as heso sees it: a verb, a tool or target name, and its fields."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class Verb(str, enum.Enum):
    """The coarse kind of an action. Policies match on it; each has a risk lane.

    Members are spelled as their values (``Verb.payment``); the upper-case names
    (``Verb.PAYMENT``) are aliases of the same members.
    """

    llm_call = "llm_call"
    tool_call = "tool_call"
    http_request = "http_request"
    delete = "delete"
    payment = "payment"
    data_export = "data_export"

    LLM_CALL = "llm_call"
    TOOL_CALL = "tool_call"
    HTTP_REQUEST = "http_request"
    DELETE = "delete"
    PAYMENT = "payment"
    DATA_EXPORT = "data_export"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, init=False)
class Action:
    """One captured action, before policy and signing.

    ``fields`` are the call's arguments by name. ``domain``/``action_id`` are set when the
    action was declared from the catalog (``"payment.authorize_payment"``).
    """

    verb: Verb
    tool_name: str
    fields: Mapping[str, Any] = field(default_factory=dict)
    workflow: str = "default"
    account: str = "default"
    agent: str | None = None
    domain: str | None = None
    action_id: str | None = None

    def __init__(
        self,
        verb: Verb,
        tool_name: str,
        fields: Mapping[str, Any] | None = None,
        workflow: str = "default",
        account: str = "default",
        agent: str | None = None,
        domain: str | None = None,
        action_id: str | None = None,
    ) -> None:
        # One dict update instead of a frozen dataclass's eight object.__setattr__ calls: the
        # gate makes one of these per call.
        self.__dict__.update(
            verb=verb,
            tool_name=tool_name,
            fields={} if fields is None else fields,
            workflow=workflow,
            account=account,
            agent=agent,
            domain=domain,
            action_id=action_id,
        )
