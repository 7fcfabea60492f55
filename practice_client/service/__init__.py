"""The practice service: one per practice, the only owner of its key, database, audit log,
spool and folders; it runs intake and delivery (the agent) and serves the workstations.

``daemon`` (the process), ``api`` (HTTPS), ``commands`` (staff actions, idempotent),
``feed`` (the change feed), ``pairing`` (one-time codes, SPAKE2), ``tls`` (its own
certificate), ``vault`` (its secrets in the OS's store for services), ``client`` and
``connection`` (a workstation's side), ``wire`` (JSON of the project's dataclasses).
Above ``intake`` and ``delivery``; nothing below imports it.
"""
