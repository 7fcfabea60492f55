"""The demo's second act: the practice grows from one PC to a practice service with two
workstations (``make demo``).

The single-user home of the first act is adopted by a practice service (its key, pins,
requests and outbox), which runs on loopback with its own certificate; two workstations -
"Empfang" (admin) and "Sprechzimmer 1" (staff) - pair with one-time codes over SPAKE2 and
read the service's lists through the GUI's DataSource over HTTPS. A new request shows at
both; the consulting room accepts it and reception sees it through the change feed; then
every workstation closes and the service still delivers the PMS's next file. Last, the
patient shares a document: the service's agent receives, verifies and scans it (the demo's
own clamd where ClamAV is installed; without one it says so and holds the share) and
hands it to the PMS import folder with a GDT record; both workstations, connected again,
show it on their Eingang list, named by the PMS record; the receipt goes to the platform.

The demo's service keeps its vault key in memory (an installed service takes it from the
OS's store for services: systemd credentials, DPAPI, the System keychain). A layer of its
own above the GUI's Qt-free reads (the workstations read as the window does) and below
the commands (``demo --headless`` hands it to :func:`practice_client.demo.run_headless`).
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from practice_client.core.errors import PracticeClientError
from practice_client.core.models import Document, DocumentState, RequestStatus
from practice_client.core.paths import Home
from practice_client.crypto.gpg import group_fingerprint
from practice_client.demo import until

if TYPE_CHECKING:
    from practice_client.core.models import RequestRecord, Share
    from practice_client.demo import Demo
    from practice_client.gui.viewmodels import DataSource, ListKind, Row, ShareView
    from practice_client.service.client import ServiceClient
    from practice_client.service.connection import Connection
    from practice_client.service.daemon import PracticeService


# a share's state as the demo names it (the Eingang page's own labels are the GUI's tr())
STATE_WORDS = {"handed_over": "an das PVS übergeben / handed to the PMS",
               "waiting": "zurückgehalten / held"}


class MemoryKey:
    """The demo service's vault key: random, in this process's memory only."""

    description = "demo vault key (memory)"

    def __init__(self) -> None:
        self._key = secrets.token_bytes(32)

    def vault_key(self) -> bytes:
        return self._key


class ServiceAct:
    """The second act on top of a finished first act (see the module doc)."""

    def __init__(self, demo: Demo) -> None:
        self.demo = demo
        self.say = demo.say
        self.home = Home(demo.root / "praxisdienst")
        self.service: PracticeService | None = None
        self.thread: threading.Thread | None = None
        self.workstations: list[ServiceClient] = []
        self.pairings: list[tuple[Connection, str]] = []  # each workstation's, to connect again

    def adopt_home(self) -> None:
        from practice_client.core.policy import read_policy
        from practice_client.core.secrets import Secrets
        from practice_client.service.adopt import adopt
        from practice_client.service.files import ServiceFiles
        from practice_client.service.vault import Vault

        demo = self.demo
        assert demo.ctx is not None
        old = demo.ctx.home
        if demo.agent is not None:
            demo.agent.stop()
            demo.agent = None
        demo.ctx.close()
        demo.ctx = None
        self.key = MemoryKey()
        files = ServiceFiles(self.home)
        files.folder.mkdir(parents=True, mode=0o700)
        done = adopt(old, Secrets(old.instance_id()), self.home, Vault(files.vault, self.key), read_policy())
        self.demo.step(f"Die Praxis wächst: der Praxisdienst übernimmt das Verzeichnis / the practice grows: the "
                       f"practice service adopts the home ({done.requests} Anfrage(n) / request(s), "
                       f"{done.documents} Dokument(e) / document(s), Praxisschlüssel / practice key "
                       f"{group_fingerprint(done.practice_key)})")

    def start_service(self) -> None:
        from practice_client.gui.local_source import service_views
        from practice_client.service.daemon import PracticeService

        service = self.service = PracticeService(self.home, "127.0.0.1", 0, provider=self.key, views=service_views)
        self.thread = threading.Thread(target=service.run, name="demo-service", daemon=True)
        self.thread.start()
        if not service.ready.wait(60):
            raise PracticeClientError("demo: the practice service did not start")
        endpoint = service.files.read_endpoint()
        self.demo.step(f"Praxisdienst läuft / practice service running: https://127.0.0.1:{endpoint['port']} "
                       f"(eigenes Zertifikat / own certificate sha256/{str(endpoint['pin'])[:16]}…)")

    def pair(self, name: str, role: str) -> ServiceClient:
        from practice_client.service.connection import Connection
        from practice_client.service.control import control
        from practice_client.service.pairing import pair_with_service

        assert self.service is not None
        code = str(control(self.home, "POST", "/v1/control/pair", {"role": role, "name": name})["code"])
        port = int(self.service.files.read_endpoint()["port"])
        paired = pair_with_service("127.0.0.1", port, code, {"hostname": name, "os_user": "demo"})
        self.pairings.append((Connection("127.0.0.1", port, paired.pin, paired.cert_pem, paired.workstation_id,
                                         paired.name, paired.role), paired.credential))
        client = self._connect(*self.pairings[-1])
        self.demo.step(f"Arbeitsplatz gekoppelt / workstation paired: {name} ({role}) mit Code / with code {code}, "
                       "Zertifikat des Dienstes gepinnt / service certificate pinned")
        return client

    def _connect(self, connection: Connection, credential: str) -> ServiceClient:
        from practice_client.service.client import ServiceClient

        client = ServiceClient(connection, credential, os_user="demo")
        self.workstations.append(client)
        return client

    def new_request_at_both(self, empfang: ServiceClient, sprechzimmer: ServiceClient) -> str:
        from practice_client.gui.remote_source import RemoteSource

        known = {r.request_id for r in self._requests(RemoteSource(empfang))}
        self.demo.patient_sends_request(name="0002.eml")
        empfang.command("poll", {})
        views = [RemoteSource(c) for c in (empfang, sprechzimmer)]

        def arrived() -> str | None:
            fresh = [r for r in self._requests(views[0]) if r.request_id not in known]
            return fresh[0].request_id if fresh else None

        request_id: str = until("the new request", arrived)

        def shows(view: RemoteSource) -> bool:
            return any(r.request_id == request_id for r in self._requests(view))

        for view in views:
            until("the request at both workstations", partial(shows, view))
        self.demo.step(f"Neue Anfrage an beiden Arbeitsplätzen / new request at both workstations: {request_id}")
        return request_id

    @staticmethod
    def _rows(source: DataSource, kind: ListKind) -> list[Row]:
        """A list's first page as the workstation's window reads it."""
        from practice_client.gui.viewmodels import Query

        return list(source.page(Query(kind)).rows)

    @classmethod
    def _requests(cls, source: DataSource) -> list[RequestRecord]:
        from practice_client.gui.viewmodels import ListKind, RequestView

        return [row.record for row in cls._rows(source, ListKind.REQUESTS) if isinstance(row, RequestView)]

    @classmethod
    def _shares(cls, source: DataSource) -> list[ShareView]:
        from practice_client.gui.viewmodels import ListKind, ShareView

        return [row for row in cls._rows(source, ListKind.SHARES) if isinstance(row, ShareView)]

    def accept_and_see(self, request_id: str, empfang: ServiceClient, sprechzimmer: ServiceClient) -> None:
        from practice_client.gui.remote_source import RemoteSource

        events: list[str] = []
        stop = threading.Event()
        follower = threading.Thread(target=empfang.follow, daemon=True, args=(
            lambda name, _data: events.append(name), lambda _state, _message: None, stop))
        follower.start()
        until("the feed", lambda: events)
        source = RemoteSource(empfang)
        cursor = source.overview().cursor
        sprechzimmer.command("accept", {"request_id": request_id})
        started = time.monotonic()
        until("the change on the feed", lambda: "change" in events[1:])
        from practice_client.gui.viewmodels import ListKind, Query, RequestView

        changes = source.changes(Query(ListKind.REQUESTS), cursor)
        status = next(r.record.status for r in changes.rows
                      if isinstance(r, RequestView) and r.request_id == request_id)
        seen_ms = (time.monotonic() - started) * 1000
        stop.set()
        if status is not RequestStatus.ACCEPTED:
            raise PracticeClientError(f"demo: reception sees the request as {status}")
        self.demo.step(f"Sprechzimmer 1 nimmt an, der Empfang sieht es nach {seen_ms:.0f} ms über den Änderungsstrom / "
                       f"consulting room 1 accepts, reception sees it after {seen_ms:.0f} ms through the change feed")

    def deliver_without_workstations(self, request_id: str) -> tuple[Document, bytes]:
        for client in self.workstations:
            client.close()
        self.workstations.clear()
        assert self.service is not None and self.service.runtime is not None
        ctx = self.service.runtime.ctx
        folder = Path(ctx.config.export_dir) / request_id
        until("the request's export folder", folder.is_dir)
        data = ("Befund für Erika Mustermann\n" * 1000).encode("utf-8") + os.urandom(2048)
        part = folder / "Befund.pdf.part"
        part.write_bytes(data)
        os.replace(part, folder / "Befund.pdf")  # as a careful PMS writes
        self.demo.step("Alle Arbeitsplätze geschlossen; das PVS legt einen Befund ab / every workstation closed; the "
                       "PMS drops a report")

        def delivered() -> Document | None:
            docs = [d for d in ctx.store.list_documents([DocumentState.DELIVERED]) if d.request_id == request_id]
            return docs[0] if docs else None

        doc: Document = until("the delivery by the service", delivered, 120)
        self.demo.step(f"Der Praxisdienst hat zugestellt, ohne Arbeitsplatz / the practice service delivered with no "
                       f"workstation: {doc.document_id}")
        return doc, data

    def workstations_connect_again(self) -> list[ServiceClient]:
        """Reception and the consulting room open their windows again (the pairings stay)."""
        clients = [self._connect(*pairing) for pairing in self.pairings]
        clients[0].command("poll", {})  # the refresh button: the service looks for shares now
        return clients

    def share_at_both(self, share: Share, clients: list[ServiceClient]) -> bool:
        """Every workstation's Eingang list shows the share in its state, named by the PMS
        record (the name the service joins in, never what the patient's app wrote)."""
        from practice_client.gui.remote_source import RemoteSource

        def seen(client: ServiceClient) -> ShareView | None:
            return next((v for v in self._shares(RemoteSource(client))
                         if v.share_id == share.share_id and v.state == share.state), None)

        views: list[ShareView] = [until(f"the share on {c.connection.name}'s Eingang list", partial(seen, c))
                                  for c in clients]
        names = ", ".join(c.connection.name for c in clients)
        first = views[0]
        self.demo.step(f"Beide Arbeitsplätze ({names}), wieder verbunden, zeigen das geteilte Dokument im Eingang / "
                       f"both workstations ({names}), connected again, show the shared document on their Eingang "
                       f"list: laut PVS / per the PMS {first.patient_name}, Patient {first.patient_number}; "
                       f"{first.document_type} {first.document_date}, {STATE_WORDS.get(first.state, first.state)}")
        p = self.demo.patient_data
        return all(v.patient_name == p.name and v.patient_number == p.number for v in views)

    def close(self) -> None:
        for client in self.workstations:
            client.close()
        if self.service is not None:
            self.service.stop()
        if self.thread is not None:
            self.thread.join(60)


def run_service_act(demo: Demo) -> bool:
    """The steps after the first act's (see the module doc), ending with the document the
    patient shares: True when the patient got the report intact and the practice service
    received her share into the PMS import folder (or, with no scanner, holds it) with
    both workstations seeing it."""
    act = ServiceAct(demo)
    try:
        act.adopt_home()
        act.start_service()
        empfang = act.pair("Empfang", "admin")
        sprechzimmer = act.pair("Sprechzimmer 1", "staff")
        request_id = act.new_request_at_both(empfang, sprechzimmer)
        act.accept_and_see(request_id, empfang, sprechzimmer)
        doc, data = act.deliver_without_workstations(request_id)
        assert act.service is not None and act.service.runtime is not None
        demo.ctx = act.service.runtime.ctx  # the patient's app and the share's state read it
        try:
            opened = demo.patient_opens(doc, data)
            share_id = demo.patient_shares()
            clients = act.workstations_connect_again()
            share = demo.wait_received(share_id)
            if share is None or not act.share_at_both(share, clients):
                return False
            if share.state != "handed_over":  # held for a scanner, as it must be: nothing in the PMS yet
                return opened
            return demo.shows_import_folder(share) and demo.receipt_reached_platform(share_id) and opened
        finally:
            demo.ctx = None
    finally:
        act.close()
