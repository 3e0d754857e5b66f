"""Human approval: pending actions, approver co-signatures (L1), quorum, suspend/resume.

Modules, from the bottom up: ``status`` (where a session stands), ``registry`` (the
``[approvers.<group>]`` schema), ``identity`` (approvers' own keys), ``decisions`` (signed
records and approver decisions), ``store`` (the ``ApprovalStore`` interface and the lifecycle
line format), ``state`` (a session folded at a moment, SLA timeouts), ``file_store`` (sessions
on disk: files, locks, the exactly-once claim), ``summary`` (a session as the CLI and the
console list it), ``l1`` (assembling the L1 receipt), ``session`` (the operator's side),
``reentry`` (finding and firing a suspended action when its call comes again), ``pending``
(what the gate calls for a ``require_approval`` verdict), ``finalize``
(``finalize_l1``/``finalize_quorum``) and, above the gate, ``gated`` (``@heso.gated`` and the
session API) and ``admission`` (re-entry for adapters without a native pause). The reference is
``docs/approvals.md``. The gate imports ``pending`` on its first ``require_approval`` verdict.
"""
