"""Risk lanes, floors and structural classification.

Every action lands in one lane, the highest of: its verb's lane, what its tool name says
(``delete_user`` is a delete), what an HTTP method says (``DELETE``), and the lane of a declared
catalog action. Classification only ever raises a lane. A lane may carry a *floor*, the least
strict decision any action in it can get: ``delete`` is pinned at ``require_approval``; any other
floor is one the operator sets in ``[policy.floors]``, and a policy may tighten a floor, never
loosen the pinned one.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from functools import lru_cache
from types import MappingProxyType

from heso.action import Verb
from heso.policy.model import DecisionKind


class Lane(str, enum.Enum):
    """Risk lanes, from least to most risky."""

    READ = "read"
    WRITE = "write"
    EXPORT = "export"
    PAYMENT = "payment"
    DELETE = "delete"

    def __str__(self) -> str:
        return self.value


LANE_RANK: Mapping[Lane, int] = MappingProxyType({lane: i for i, lane in enumerate(Lane)})
"""A lane's position in the risk order: ``read`` 0 … ``delete`` 4."""

VERB_LANES: Mapping[Verb, Lane] = MappingProxyType(
    {
        Verb.LLM_CALL: Lane.READ,
        Verb.TOOL_CALL: Lane.WRITE,
        Verb.HTTP_REQUEST: Lane.WRITE,
        Verb.DATA_EXPORT: Lane.EXPORT,
        Verb.PAYMENT: Lane.PAYMENT,
        Verb.DELETE: Lane.DELETE,
    }
)
"""The lane each verb starts in."""

PINNED_FLOORS: Mapping[Lane, DecisionKind] = MappingProxyType(
    {Lane.DELETE: DecisionKind.REQUIRE_APPROVAL}
)
"""Floors no policy can loosen. Lanes not listed have no floor unless a policy sets one."""

NAME_TOKENS: Mapping[Lane, frozenset[str]] = MappingProxyType(
    {
        Lane.DELETE: frozenset(
            "delete drop remove rm rmdir purge destroy truncate wipe erase unlink shred "
            "terminate deprovision uninstall".split()
        ),
        Lane.PAYMENT: frozenset(
            "pay payment payments charge refund payout payouts purchase buy checkout "
            "withdraw withdrawal remit".split()
        ),
        Lane.EXPORT: frozenset("export exports dump share upload exfiltrate".split()),
    }
)
"""Words in a tool name that place it in a lane (any word of the name counts)."""

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_SPLIT = re.compile(r"[^A-Za-z0-9]+")


def name_words(tool_name: str) -> tuple[str, ...]:
    """The lower-case words of a tool name: ``"mcp__fs.deleteFile"`` → ``mcp, fs, delete, file``."""
    return tuple(w.lower() for w in _SPLIT.split(_CAMEL.sub("_", tool_name)) if w)


@lru_cache(maxsize=8192)
def lane_from_name(tool_name: str) -> Lane | None:
    """The highest lane a tool name's words place it in, or ``None``."""
    words = set(name_words(tool_name))
    for lane in (Lane.DELETE, Lane.PAYMENT, Lane.EXPORT):
        if words & NAME_TOKENS[lane]:
            return lane
    return None


def structural_lane(verb: Verb, tool_name: str) -> tuple[Lane, str]:
    """(lane, source) from what the action is: its verb and, except for ``llm_call`` (whose tool
    name is a model), its tool name. ``source`` is ``"verb"`` or ``"name"``."""
    lane = VERB_LANES[verb]
    if verb is not Verb.LLM_CALL:
        named = lane_from_name(tool_name)
        if named is not None and LANE_RANK[named] > LANE_RANK[lane]:
            return named, "name"
    return lane, "verb"


def raise_lane(current: Lane, candidate: Lane) -> Lane:
    """The riskier of two lanes."""
    return candidate if LANE_RANK[candidate] > LANE_RANK[current] else current


__all__ = [
    "LANE_RANK",
    "NAME_TOKENS",
    "PINNED_FLOORS",
    "VERB_LANES",
    "Lane",
    "lane_from_name",
    "name_words",
    "raise_lane",
    "structural_lane",
]
