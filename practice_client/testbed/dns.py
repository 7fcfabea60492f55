"""A DNS server on loopback that publishes DKIM TXT records (dnslib, UDP + TCP).

The client resolves DKIM keys through real DNS (dnspython); pointing it at this
server with ``setup --dns-server 127.0.0.1:PORT`` makes the testbed and the
tests exercise the same code path as production. Unknown names get NXDOMAIN.
Records can be added and removed while the server runs (thread-safe).
"""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Any

from dnslib import QTYPE, RCODE, RR, TXT, DNSRecord
from dnslib.server import DNSServer

_CHUNK = 255  # a TXT character-string holds at most 255 bytes


class _Quiet:
    """dnslib logs every packet to stdout by default; the testbed stays silent."""

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None


class _Resolver:
    def __init__(self, server: TxtDnsServer) -> None:
        self._server = server

    def resolve(self, request: DNSRecord, handler: object) -> DNSRecord:
        reply = request.reply()
        qname = str(request.q.qname).rstrip(".").lower()
        value = self._server.lookup(qname)
        if value is None:
            reply.header.rcode = RCODE.NXDOMAIN
        elif request.q.qtype in (QTYPE.TXT, QTYPE.ANY):
            data = value.encode("ascii")
            chunks = [data[i : i + _CHUNK] for i in range(0, len(data), _CHUNK)] or [b""]
            reply.add_answer(RR(request.q.qname, QTYPE.TXT, rdata=TXT(chunks), ttl=60))
        return reply


class TxtDnsServer:
    """TXT records on 127.0.0.1:``port`` (0 = a free port), over UDP and TCP."""

    def __init__(self, records: dict[str, str] | None = None, port: int = 0) -> None:
        self._records = {k.rstrip(".").lower(): v for k, v in (records or {}).items()}
        self._lock = threading.Lock()
        self._queries: list[str] = []
        resolver = _Resolver(self)
        self._udp = DNSServer(resolver, address="127.0.0.1", port=port, logger=_Quiet())
        self.port = int(self._udp.server.server_address[1])
        self._tcp = DNSServer(resolver, address="127.0.0.1", port=self.port, tcp=True, logger=_Quiet())
        self._started = False

    @property
    def address(self) -> str:
        """HOST:PORT, as ``setup --dns-server`` takes it."""
        return f"127.0.0.1:{self.port}"

    def set_txt(self, name: str, value: str) -> None:
        with self._lock:
            self._records[name.rstrip(".").lower()] = value

    def remove(self, name: str) -> None:
        with self._lock:
            self._records.pop(name.rstrip(".").lower(), None)

    def lookup(self, name: str) -> str | None:
        with self._lock:
            self._queries.append(name)
            return self._records.get(name)

    def queries(self) -> list[str]:
        """Every name asked for since the server started (tests count the client's lookups)."""
        with self._lock:
            return list(self._queries)

    def start(self) -> TxtDnsServer:
        self._udp.start_thread()
        self._tcp.start_thread()
        self._started = True
        return self

    def stop(self) -> None:
        if self._started:
            self._udp.stop()
            self._tcp.stop()
            self._started = False
        self._udp.server.server_close()
        self._tcp.server.server_close()

    def __enter__(self) -> TxtDnsServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
