"""The practice service, above intake and delivery: one per practice, the only owner of its
key, database, audit log, spool and folders; it runs intake and delivery and serves the
workstations.

``agent`` runs the request sources (built from the settings by ``sources``), the
export-folder watcher and the delivery pipeline together. ``daemon`` is the process,
``files`` its home and files, ``api`` its HTTPS API, ``commands`` staff's actions
(idempotent), ``feed`` the change feed, ``pairing`` one-time codes (SPAKE2), ``tls`` its
own certificate, ``vault`` its secrets in the OS's store for services, ``control`` the
admin's channel on its machine, ``adopt`` takes over a single-user home, ``windows`` the
Windows service. A workstation's side: ``connection`` (the pinned service), ``client``
(HTTPS to it), ``remote`` (the command line at a workstation), ``workstation`` (pairing);
``wire`` is the JSON of the project's dataclasses. The GUI's DataSource over the service
is ``gui/remote_source.py``. Nothing below (intake, delivery, core) imports this package.
"""
