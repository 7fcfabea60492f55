"""IMAP intake against a real dovecot on loopback over TLS: fetch -> store -> move to
the processed folder, and no message lost or recorded twice when the client
crashes between fetching and storing, or between storing and moving."""

from __future__ import annotations

import imaplib
import ssl
import threading
from collections.abc import Iterator

import pytest

from practice_client.core.errors import NetworkError
from practice_client.core.models import RequestStatus, Verdict
from practice_client.core.secrets import IMAP_PASSWORD
from practice_client.intake.inbox import Inbox
from practice_client.intake.sources.imap import ImapSource
from practice_client.service.sources import configured_sources, imap_source

from .conftest import World
from .dovecot import PASSWORD, USER, Dovecot

PROCESSED = "Verarbeitet"


class Crash(Exception):
    """Stands in for the process dying at a chosen point."""


def admin(server: Dovecot) -> imaplib.IMAP4_SSL:
    conn = imaplib.IMAP4_SSL("127.0.0.1", server.port,
                             ssl_context=ssl.create_default_context(cafile=str(server.ca_file)))
    conn.login(USER, PASSWORD)
    return conn


def count(server: Dovecot, folder: str) -> int:
    conn = admin(server)
    try:
        typ, data = conn.select(f'"{folder}"', readonly=True)
        return int(data[0]) if typ == "OK" else 0
    finally:
        conn.logout()


@pytest.fixture
def mailbox(dovecot: Dovecot) -> Iterator[Dovecot]:
    """An empty INBOX and processed folder for each test."""
    conn = admin(dovecot)
    for folder in ("INBOX", PROCESSED):
        typ, data = conn.select(f'"{folder}"')
        if typ == "OK" and int(data[0]):
            conn.store("1:*", "+FLAGS.SILENT", r"(\Deleted)")
            conn.expunge()
    conn.logout()
    yield dovecot


def deliver_mail(server: Dovecot, raw: bytes) -> None:
    conn = admin(server)
    assert conn.append("INBOX", None, None, raw)[0] == "OK"
    conn.logout()


def source(server: Dovecot, inbox: Inbox, deliver=None) -> ImapSource:
    return ImapSource(host="127.0.0.1", port=server.port, user=USER, password=PASSWORD,
                      processed_folder=PROCESSED, ca_file=str(server.ca_file),
                      deliver=deliver or inbox.receive, settle=inbox.process_pending)


def inbox_of(world: World) -> Inbox:
    return Inbox(world.ctx, dnsfunc=world.dnsfunc, clock=lambda: world.now)


def test_fetch_store_then_move_to_processed(world: World, mailbox: Dovecot) -> None:
    deliver_mail(mailbox, world.message())
    deliver_mail(mailbox, world.message(world.request(practice_id="praxis-9999")))
    inbox = inbox_of(world)
    assert source(mailbox, inbox).poll_once() == 2
    assert count(mailbox, "INBOX") == 0 and count(mailbox, PROCESSED) == 2
    records = world.ctx.store.list_requests()
    assert sorted(r.verdict for r in records) == [Verdict.REJECTED, Verdict.VERIFIED]
    assert {r.source for r in records} == {"imap"}
    assert {r.status for r in records} == {RequestStatus.OPEN, RequestStatus.REJECTED}
    assert source(mailbox, inbox).poll_once() == 0  # nothing new


def test_crash_between_fetch_and_store_loses_nothing(world: World, mailbox: Dovecot) -> None:
    deliver_mail(mailbox, world.message())
    inbox = inbox_of(world)

    def dies_before_storing(raw: bytes, src: str) -> int:
        raise Crash()

    with pytest.raises(Crash):
        source(mailbox, inbox, dies_before_storing).poll_once()
    assert count(mailbox, "INBOX") == 1 and count(mailbox, PROCESSED) == 0
    assert world.ctx.store.list_requests() == []
    # the restarted client finds the message still on the server
    assert source(mailbox, inbox).poll_once() == 1
    assert count(mailbox, "INBOX") == 0 and count(mailbox, PROCESSED) == 1
    assert len(world.ctx.store.list_requests()) == 1


def test_crash_between_store_and_move_records_once(world: World, mailbox: Dovecot) -> None:
    deliver_mail(mailbox, world.message())
    inbox = inbox_of(world)

    def dies_after_storing(raw: bytes, src: str) -> int:
        world.ctx.store.store_message(raw, src)  # durable; then the process dies
        raise Crash()

    with pytest.raises(Crash):
        source(mailbox, inbox, dies_after_storing).poll_once()
    assert count(mailbox, "INBOX") == 1
    assert len(world.ctx.store.unprocessed_messages()) == 1
    # restart: pending messages are verified first, then the mailbox is polled again
    list(configured_sources(world.ctx, inbox))
    assert len(world.ctx.store.list_requests()) == 1
    source(mailbox, inbox).poll_once()
    assert count(mailbox, "INBOX") == 0 and count(mailbox, PROCESSED) == 1
    records = world.ctx.store.list_requests()
    assert len(records) == 1 and records[0].verdict is Verdict.VERIFIED  # once, and not a "replay"


def test_from_context_uses_keyring_password_and_wrong_password_fails(world: World, mailbox: Dovecot) -> None:
    world.ctx.update_config(imap_host="127.0.0.1", imap_port=mailbox.port, imap_user=USER,
                            imap_processed_folder=PROCESSED, imap_ca_file=str(mailbox.ca_file))
    world.ctx.secrets.set(IMAP_PASSWORD, PASSWORD)
    deliver_mail(mailbox, world.message())
    src = imap_source(world.ctx, inbox_of(world))
    assert src.poll_once() == 1
    world.ctx.secrets.set(IMAP_PASSWORD, "wrong")
    with pytest.raises(NetworkError):
        imap_source(world.ctx, inbox_of(world)).poll_once()


def test_untrusted_server_certificate_is_refused(world: World, mailbox: Dovecot) -> None:
    deliver_mail(mailbox, world.message())
    inbox = inbox_of(world)
    untrusted = ImapSource(host="127.0.0.1", port=mailbox.port, user=USER, password=PASSWORD,
                           processed_folder=PROCESSED, deliver=inbox.receive,
                           settle=inbox.process_pending)
    with pytest.raises(NetworkError, match="not trusted"):
        untrusted.poll_once()
    assert count(mailbox, "INBOX") == 1


def test_idle_reports_new_mail(world: World, mailbox: Dovecot) -> None:
    inbox = inbox_of(world)
    src = source(mailbox, inbox)
    result: list[bool] = []
    waiting = threading.Thread(target=lambda: result.append(src.wait_for_mail(timeout=20)))
    waiting.start()
    # deliver until the waiting thread has seen it (IDLE may start after the first append)
    deadline = threading.Event()
    for _ in range(40):
        deliver_mail(mailbox, world.message())
        waiting.join(timeout=0.5)
        if not waiting.is_alive():
            break
    deadline.set()
    assert result == [True]
    assert src.poll_once() >= 1


def test_start_watching_wakes_the_agent_on_new_mail(world: World, mailbox: Dovecot) -> None:
    woken = threading.Event()
    stop = source(mailbox, inbox_of(world)).start_watching(woken.set)
    try:
        raw = world.message()
        for _ in range(40):  # IDLE may begin after the first append: deliver until woken
            deliver_mail(mailbox, raw)
            if woken.wait(0.5):
                break
        assert woken.is_set()
    finally:
        stop()


def test_source_imap_command_tests_before_saving_then_fetch_uses_it(world: World, mailbox: Dovecot) -> None:
    import os
    import subprocess
    import sys

    def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "practice_client", *args], input=stdin, capture_output=True,
                              text=True, timeout=120, env=os.environ.copy())

    world.ctx.close()
    config = world.ctx.home.config
    before = config.read_bytes()
    base = ("request", "source", "imap", "--host", "127.0.0.1", "--port", str(mailbox.port), "--user", USER,
            "--processed-folder", PROCESSED, "--ca-file", str(mailbox.ca_file), "--password-stdin")
    wrong = run(*base, stdin="wrong\n")
    assert wrong.returncode == 1 and wrong.stderr.count("\n") == 1
    assert config.read_bytes() == before
    right = run(*base, stdin=PASSWORD + "\n")
    assert right.returncode == 0, right.stderr
    assert PASSWORD.encode() not in config.read_bytes()
    deliver_mail(mailbox, world.message())
    fetched = run("request", "fetch")
    assert fetched.returncode == 0, fetched.stderr
    assert fetched.stdout.startswith("1 ")
    assert count(mailbox, "INBOX") == 0 and count(mailbox, PROCESSED) == 1


def test_server_without_move_gets_copy_store_and_never_a_mailbox_wide_expunge(
        world: World, dovecot: Dovecot) -> None:
    import shutil

    from tests.conftest import require, short_tmpdir

    require(shutil.which("dovecot") is not None, "dovecot (dovecot-imapd)")
    plain = Dovecot.start(short_tmpdir("pcd"), capabilities_without=("MOVE", "UIDPLUS"))
    try:
        probe = admin(plain)
        assert "MOVE" not in probe.capability()[1][0].decode().split()
        # the practice's mail program marked a mail for deletion but has not expunged it
        assert probe.append("INBOX", r"(\Deleted)", None, b"Subject: old newsletter\r\n\r\nbye\r\n")[0] == "OK"
        probe.logout()
        deliver_mail(plain, world.message())
        deliver_mail(plain, world.message())
        inbox = inbox_of(world)
        src = source(plain, inbox)
        assert src.poll_once() == 2
        assert count(plain, PROCESSED) == 2
        assert count(plain, "INBOX") == 3  # nothing expunged: the foreign mail is still there
        conn = admin(plain)
        conn.select("INBOX", readonly=True)
        assert conn.uid("SEARCH", "UNDELETED")[1] == [b""]  # ours are flagged, not waiting
        assert len(conn.uid("SEARCH", "SUBJECT", '"old newsletter"')[1][0].split()) == 1
        conn.logout()
        assert src.poll_once() == 0 and count(plain, PROCESSED) == 2  # not taken twice
    finally:
        plain.stop()


def test_server_with_uidplus_but_no_move_expunges_only_its_own_messages(world: World, dovecot: Dovecot) -> None:
    import shutil

    from tests.conftest import require, short_tmpdir

    require(shutil.which("dovecot") is not None, "dovecot (dovecot-imapd)")
    server = Dovecot.start(short_tmpdir("pcd"), capabilities_without=("MOVE",))
    try:
        probe = admin(server)
        caps = probe.capability()[1][0].decode().split()
        assert "MOVE" not in caps and "UIDPLUS" in caps
        assert probe.append("INBOX", r"(\Deleted)", None, b"Subject: old newsletter\r\n\r\nbye\r\n")[0] == "OK"
        probe.logout()
        deliver_mail(server, world.message())
        assert source(server, inbox_of(world)).poll_once() == 1
        assert count(server, PROCESSED) == 1
        assert count(server, "INBOX") == 1  # ours expunged by UID; the foreign deleted mail is still there
        conn = admin(server)
        conn.select("INBOX", readonly=True)
        assert len(conn.uid("SEARCH", "SUBJECT", '"old newsletter"')[1][0].split()) == 1
        conn.logout()
    finally:
        server.stop()


def test_every_connection_is_made_by_the_socket_factory_with_tls_on_top(world: World, mailbox: Dovecot) -> None:
    import socket

    opened: list[tuple[str, int]] = []

    def through_a_hop(host: str, port: int, timeout: float) -> socket.socket:
        """Stands in for a proxy tunnel: the TCP connection is made elsewhere, to the same server."""
        opened.append((host, port))
        return socket.create_connection(("127.0.0.1", mailbox.port), timeout=timeout)

    deliver_mail(mailbox, world.message())
    inbox = inbox_of(world)
    tunnelled = ImapSource(host="localhost", port=1, user=USER, password=PASSWORD, processed_folder=PROCESSED,
                           ca_file=str(mailbox.ca_file), deliver=inbox.receive, settle=inbox.process_pending,
                           socket_factory=through_a_hop)
    assert tunnelled.poll_once() == 1
    assert opened == [("localhost", 1)]
    assert count(mailbox, PROCESSED) == 1
    # the certificate is still checked against the configured host, whoever made the socket
    untrusted = ImapSource(host="localhost", port=1, user=USER, password=PASSWORD, processed_folder=PROCESSED,
                           deliver=inbox.receive, settle=inbox.process_pending, socket_factory=through_a_hop)
    with pytest.raises(NetworkError, match="not trusted"):
        untrusted.poll_once()


def test_idle_wait_ends_promptly_when_stopped(world: World, mailbox: Dovecot) -> None:
    src = source(mailbox, inbox_of(world))
    stop = threading.Event()
    result: list[bool] = []
    waiting = threading.Thread(target=lambda: result.append(src.wait_for_mail(timeout=600, stop=stop)))
    waiting.start()
    stop.set()
    waiting.join(timeout=30)
    assert not waiting.is_alive() and result == [False]
