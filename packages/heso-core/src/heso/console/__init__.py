"""``heso console``: a local web app over a project's receipts, chain and approvals.

``app`` is the Starlette application (token login, CSRF, Host checks), ``data`` reads what it
shows. Needs the ``console`` extra (``heso-core[console]``). See docs/console.md.
"""
