"""Delivery: a document's way from the PMS's export folder to the platform.

``watcher`` sees a complete file -> ``outbox.ingest`` makes its row and moves it into
the ``spool`` -> ``matching`` (pure rules, fed by ``recipients``) decides its request,
or staff do -> ``job.DeliveryJob`` seals it (``seal``, the key checked by ``recipients``
and compared by ``key_check``) and uploads it (``upload``) until it is delivered ->
``outbox.delivered`` parks the original. ``pipeline`` runs the jobs (threads, queue,
backoff); every state change is one ``outbox`` function, every path one ``spool`` name.
"""
