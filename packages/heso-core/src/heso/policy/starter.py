"""The starter policy ``heso init`` writes into ``heso.toml``."""

from __future__ import annotations

STARTER_POLICY = r"""# heso policy: every action your agents take is checked against these rules.
# Rules are tried by `order` (lowest first); the first that matches decides.
# Reference: docs/policy.md. Check this file with `heso policy check`, and try an
# action with `heso policy explain --verb tool_call --tool send_email --field to=a@b.com`.

# Project settings (docs/sdk.md). `heso init` pins the operator key it mints here:
# `heso verify` and heso.init() trust only the keys in operator_keys. Keep this file in
# version control; add a new key here when you rotate (keep the old one while receipts
# signed with it matter).
[heso]

[policy]
# When no rule matches. "block" is the fail-closed choice; the starter allows so your
# agent keeps working while you write rules.
default = "allow"
# Deletes always need a human: the delete lane has a pinned floor. When the deciding
# rule names no approvers, these groups are asked.
default_approvers = ["oncall"]
default_sla_minutes = 60

# Other lanes (read, write, export, payment) get a floor only where you ask for one:
# a floor is the least strict decision any action in the lane can get, whatever the rules.
# [policy.floors]
# payment = "require_approval"       # every payment waits for a human
# export = "block"                   # no data exports at all

[[rule]]
id = "block-prod-table-drops"
order = 10
subject = { kind = "workflow", name = "prod-*" }
verb = "tool_call"
scope = ["sql_*", "*_query"]
decision = "block"

[[rule.conditions]]                  # a condition can also be written as its own table
field = "query"
op = "regex"                         # found anywhere in the text; (?i) ignores case
value = '(?i)\b(drop|truncate)\s+table\b'
display = "query drops or truncates a table"

[[rule]]
id = "block-plain-http"
order = 20
verb = "http_request"
scope = "*"
conditions = [                       # the scheme as clients read it: HTTP://, " http://" too
  { field = "url", op = "url_scheme_not_in", value = ["https"], display = "URL is not HTTPS" },
]
decision = "block"

[[rule]]
id = "block-huge-payments"
order = 30
verb = "payment"
scope = "*"
conditions = [
  { field = "amount", op = "gt", value = 10000, display = "amount over 10,000" },
]
decision = "block"

[[rule]]
id = "small-payments-ok"
order = 31
verb = "payment"
scope = "*"
conditions = [
  { field = "amount", op = "gte", value = 0, display = "amount not negative" },
  { field = "amount", op = "lte", value = 1000, display = "amount up to 1,000" },
]
decision = "allow"

[[rule]]
id = "payments-need-approval"
order = 32
verb = "payment"
scope = "*"
decision = "require_approval"        # every other payment, and any without a readable amount
approvers = ["oncall"]

[[rule]]
id = "external-copies-need-approval"
order = 39
verb = "tool_call"
scope = "send_email"
decision = "require_approval"        # when any of the `any` conditions holds
approvers = ["oncall"]
sla_minutes = 30

[[rule.any]]                         # every address of a list is checked: "a@x, b@y", ["a@x"]
field = "cc"
op = "email_domain_not_in"
value = ["example.com"]
display = "an external cc"

[[rule.any]]
field = "bcc"
op = "email_domain_not_in"
value = ["example.com"]
display = "an external bcc"

[[rule]]
id = "internal-email-ok"
order = 40
verb = "tool_call"
scope = "send_email"
decision = "allow"

[[rule.conditions]]
field = "to"
op = "email_domain_in"               # every recipient at a listed domain (display names,
value = ["example.com"]              # groups and comments understood; junk never passes)
display = "every recipient is internal"

[[rule]]
id = "external-email-needs-approval"
order = 41
verb = "tool_call"
scope = "send_email"
decision = "require_approval"
approvers = ["oncall"]
sla_minutes = 30

[[rule]]
id = "big-model-runs-need-approval"
order = 50
verb = "llm_call"
scope = "*"
conditions = [
  { field = "model", op = "regex", value = "^(gpt-4|o1)", display = "a GPT-4 or o1 model" },
  { field = "max_tokens", op = "gte", value = 16000, display = "asks for 16k tokens or more" },
]
decision = "require_approval"
approvers = ["oncall"]
sla_minutes = 15

# Who may approve. Until [approvers.oncall] exists the actions above wait for nobody (and
# `heso policy check` warns). Each approver creates a key on their own machine with
# `heso approver new <name>`, which prints the public key to paste here; then uncomment:
#
# [approvers.oncall]
# members = { alice = "ed25519:<alice's public key>", bob = "ed25519:<bob's public key>" }
# threshold = 1              # how many distinct members must approve (k of n)
# escalate_to = "managers"   # optional: also asked when an SLA runs out (on_timeout = "escalate")
#
# [approvers.managers]
# members = { dave = "ed25519:<dave's public key>" }
#
# Decide with `heso approvals list` and `heso approve <hash> --as <name>` (docs/approvals.md).
"""
"""A realistic, commented starter policy; it loads cleanly (tested)."""

__all__ = ["STARTER_POLICY"]
