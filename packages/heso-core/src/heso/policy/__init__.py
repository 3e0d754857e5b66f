"""The policy engine: ``heso.toml`` rules decide, explain and record every gated action.

>>> from heso.policy import parse_policy
>>> from heso.action import Action, Verb
>>> policy = parse_policy('''
... [policy]
... default = "allow"
... [[rule]]
... id = "big-payments"
... verb = "payment"
... conditions = [{ field = "amount", op = "gt", value = 1000 }]
... decision = "block"
... ''')
>>> policy.evaluate(Action(Verb.PAYMENT, "stripe.charge", {"amount": "4200"})).kind.value
'block'

The reference is ``docs/policy.md``.
"""

from __future__ import annotations

from heso.policy.catalog import CATALOG, CatalogEntry, lookup_catalog
from heso.policy.engine import Policy
from heso.policy.lanes import PINNED_FLOORS, Lane
from heso.policy.loader import PolicyConfigError, load_policy, parse_policy, policy_from_source
from heso.policy.model import (
    DEFAULT_RULE_ID,
    UNKNOWN_CATALOG_RULE_ID,
    Condition,
    Decision,
    DecisionKind,
    PolicySettings,
    Rule,
    Subject,
    floor_rule_id,
)
from heso.policy.operators import OPERATORS

__all__ = [
    "CATALOG",
    "DEFAULT_RULE_ID",
    "OPERATORS",
    "PINNED_FLOORS",
    "UNKNOWN_CATALOG_RULE_ID",
    "CatalogEntry",
    "Condition",
    "Decision",
    "DecisionKind",
    "Lane",
    "Policy",
    "PolicyConfigError",
    "PolicySettings",
    "Rule",
    "Subject",
    "floor_rule_id",
    "load_policy",
    "lookup_catalog",
    "parse_policy",
    "policy_from_source",
]
