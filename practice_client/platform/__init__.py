"""Everything the client sends over a network, and nothing else.

- :mod:`~practice_client.platform.tls`: whom the client trusts (the OS trust store plus
  the configured CA file) and the SPKI pins of the platform;
- :mod:`~practice_client.platform.proxy`: the route to a server (direct, a proxy, PAC)
  and the TCP connection along it - used by the platform API and by IMAP;
- :mod:`~practice_client.platform.http`: one HTTPS exchange with the platform, its size
  caps, and the retry profiles (defined once: ``interactive`` when staff wait,
  ``background`` for the agent);
- :mod:`~practice_client.platform.tus`: resumable uploads (tus 1.0);
- :mod:`~practice_client.platform.api`: :class:`~practice_client.platform.api.PlatformClient`,
  the platform's API calls.

A client for the configured platform is built in one place only:
:meth:`practice_client.context.Context.platform`. ``core`` holds no network code.
"""
