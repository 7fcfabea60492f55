"""The shares job: runs in the agent (never in the GUI thread), in a thread of its own.

Each pass: new shares from the platform's listing (their rows first), then every share
that is not final one step at a time, each step one transition of :mod:`.states` (one
transaction, one audit entry), then the receipts still due. The steps:

- ``received``: both parts downloaded (resumed), or quarantined when too large / gone;
- ``downloaded``: decrypted and verified (:mod:`.verify`);
- ``verified`` / ``waiting``: the type by content and active PDF content
  (:mod:`.content`), then the scanner (:mod:`.scan`); no scanner: ``waiting``, visibly;
- ``clean``: the hand-over planned (names recorded), or left waiting with a reason (no
  import folder, no PMS record);
- ``handing_over``: staged, placed (:mod:`.handover`), ``handed_over``.

The plaintext exists only in the share's work folder while a step needs it, decrypted
again from the kept ciphertext (encrypted to the practice key) each time; a crash leaves
work folders behind, which the next start removes. A step that fails for a passing
reason (network, scanner, import folder) is tried again on a later pass.
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from practice_client.core.errors import CryptoError, NetworkError, NotConfigured, PlatformRefused, SecretError
from practice_client.core.text import Text
from practice_client.platform.http import AnswerTooLarge
from practice_client.shares import content, download, handover, scan
from practice_client.shares.events import (
    NewShares,
    ShareChanged,
    ShareEvent,
    ShareEventSink,
    ShareQuarantined,
    SharesOffline,
    ignore,
)
from practice_client.shares.states import FINAL, ShareState, apply
from practice_client.shares.verify import decrypt_document, verify_share

if TYPE_CHECKING:
    from practice_client.context import Context
    from practice_client.core.models import Share
    from practice_client.platform.api import PlatformClient

log = logging.getLogger(__name__)

S = ShareState
ClientFactory = Callable[["Context"], "PlatformClient"]
MAX_STEPS = 8  # per share and pass: enough for the whole way, bounded against a bug


def _client(ctx: Context) -> PlatformClient:
    return ctx.platform(profile="background")


class SharesJob:
    """Intake of shares for one context: :meth:`run_once`, or a thread (start/stop/kick)."""

    def __init__(self, ctx: Context, on_event: ShareEventSink = ignore, client: ClientFactory = _client,
                 interval: float | None = None) -> None:
        self.ctx = ctx
        self._emit = on_event
        self._make_client = client
        self._client: PlatformClient | None = None
        self._interval = interval
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._recovered = False

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="shares", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
        if self._client is not None:
            self._client.close()
            self._client = None

    def kick(self) -> None:
        """Run a pass now (a staff decision, the GUI's refresh)."""
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # the loop outlives any one failure; tried again next pass
                log.exception("shares pass failed")
            interval = self._interval if self._interval is not None else max(1.0, self.ctx.config.poll_seconds)
            self._wake.wait(interval)
            self._wake.clear()

    def _event(self, event: ShareEvent) -> None:
        try:
            self._emit(event)
        except Exception:  # a listener's bug must not stop the intake
            log.exception("event listener failed")

    # -- one pass ----------------------------------------------------------------------------

    def run_once(self) -> int:
        """One pass; returns how many shares moved."""
        if not self._recovered:
            self.recover()
        client = self._platform()
        if client is not None:
            try:
                added = download.poll_listing(self.ctx, client)
                if added:
                    self._event(NewShares(len(added)))
            except NetworkError as exc:
                log.info("shares: listing failed (%s)", type(exc).__name__)
                self._event(SharesOffline(exc.text))
        moved = 0
        for share in self.ctx.store.list_shares([str(s) for s in S if s not in FINAL and s != S.QUARANTINED]):
            if self._stop.is_set():
                break
            moved += self._advance(share, client)
        if client is not None:
            self._flush_receipts(client)
        return moved

    def recover(self) -> None:
        """After a crash: work folders (plaintext) of steps that did not finish go."""
        for work in download.shares_root(self.ctx).glob("*/work"):
            shutil.rmtree(work, ignore_errors=True)
        self._recovered = True

    def _platform(self) -> PlatformClient | None:
        if self.ctx.config.offline or not self.ctx.config.server_url:
            return None
        if self._client is None:
            try:
                self._client = self._make_client(self.ctx)
            except (NotConfigured, SecretError, NetworkError) as exc:
                log.info("shares: no platform client (%s)", type(exc).__name__)
                return None
        return self._client

    def _advance(self, share: Share, client: PlatformClient | None) -> int:
        """Take steps until the share waits for something; how many were taken."""
        steps = 0
        current: Share | None = share
        while current is not None and steps < MAX_STEPS and not self._stop.is_set():
            step = self._STEPS.get(S(current.state))
            if step is None:
                break
            before = (current.state, current.reason)
            try:
                current = step(self, current, client)
            except NetworkError as exc:
                log.info("share %s: %s", share.share_id, type(exc).__name__)
                break
            if current is None or (current.state, current.reason) == before:
                break
            steps += 1
            self._event(ShareChanged(current.share_id, S(current.state)))
        return steps

    # -- the steps -------------------------------------------------------------------------------

    def _download(self, share: Share, client: PlatformClient | None) -> Share | None:
        if share.size > download.max_bytes(self.ctx):
            return apply(self.ctx.store, share.share_id, "too_large", reason="too_large",
                         detail=f"{share.size} > {download.max_bytes(self.ctx)}")
        if client is None:
            return None
        try:
            download.download(self.ctx, client, share, self._stop)
        except AnswerTooLarge:
            return apply(self.ctx.store, share.share_id, "too_large", reason="too_large",
                         detail=Text("größer als angekündigt oder als die Grenze",
                                             "larger than listed or than the limit"))
        except PlatformRefused as exc:
            if "404" not in str(exc):
                raise
            return apply(self.ctx.store, share.share_id, "gone", reason="gone")
        return apply(self.ctx.store, share.share_id, "downloaded")

    def _verify(self, share: Share, client: PlatformClient | None) -> Share:
        folder = download.share_folder(self.ctx, share.share_id)
        with _work(folder) as work:
            result = verify_share(self.ctx, share.share_id, folder, work, download.max_bytes(self.ctx))
        fields = {"claimed_fingerprint": result.claimed_fingerprint, "sha256": result.sha256,
                  "manifest": result.manifest}
        audit = {"claimed_fingerprint": result.claimed_fingerprint, "fingerprint": result.fingerprint,
                 "patient_number": result.patient_number}
        if result.reason is not None:
            log.warning("share %s quarantined: %s", share.share_id, result.reason)
            self._event(ShareQuarantined(share.share_id, _quarantined(share.share_id, result.reason)))
            return apply(self.ctx.store, share.share_id, "refused_signature", audit=audit,
                         reason=result.reason, detail=result.detail, **fields)
        return apply(self.ctx.store, share.share_id, "verified", audit=audit, patient_number=result.patient_number,
                     fingerprint=result.fingerprint, reason=None, detail=None, **fields)

    def _check(self, share: Share, client: PlatformClient | None) -> Share:
        cfg = self.ctx.config
        folder = download.share_folder(self.ctx, share.share_id)
        with _work(folder) as work:
            try:
                plain = decrypt_document(self.ctx, folder, work, share.sha256 or "", download.max_bytes(self.ctx))
            except CryptoError:
                return apply(self.ctx.store, share.share_id, "refused_content", reason="type_not_allowed",
                             detail=Text("das aufbewahrte Dokument ist nicht mehr entschlüsselbar",
                                         "the kept share cannot be decrypted again"))
            verdict = content.check_content(plain)
            if not verdict.allowed:
                return self._quarantine(share, verdict.reason or "type_not_allowed", verdict.detail,
                                        file_type=verdict.file_type)
            try:
                scanner = scan.configured_scanner(cfg.scanner, cfg.clamd_address, cfg.defender_path,
                                                  cfg.scanner_command, cfg.scanner_timeout_seconds)
                result = scanner.scan(plain)
            except scan.ScannerUnavailable as exc:
                if share.state == S.WAITING and share.reason == exc.reason:
                    return share  # still waiting, nothing new to record
                log.warning("share %s waits for a virus scanner (%s)", share.share_id, exc.reason)
                return apply(self.ctx.store, share.share_id, "no_scanner", reason=exc.reason, detail=exc.detail,
                             file_type=verdict.file_type)
            except scan.ScanLimitExceeded as exc:
                return self._quarantine(share, "scan_limit", Text.same(str(exc)), file_type=verdict.file_type)
            except FileNotFoundError:  # a real-time scanner removed the plaintext meanwhile
                return self._quarantine(share, "infected", Text("vom Virenscanner entfernt", "removed by the scanner"),
                                        file_type=verdict.file_type)
        if not result.clean:
            return self._quarantine(share, "infected", result.signature or Text("ohne Namen", "unnamed"),
                                    file_type=verdict.file_type, scanner=result.scanner, signature=result.signature)
        return apply(self.ctx.store, share.share_id, "scanned_clean", audit={"scanner": result.scanner},
                     reason=None, detail=None, file_type=verdict.file_type)

    def _quarantine(self, share: Share, reason: str, detail: Text | str, file_type: str | None,
                    **audit: object) -> Share:
        log.warning("share %s quarantined: %s", share.share_id, reason)
        self._event(ShareQuarantined(share.share_id, _quarantined(share.share_id, reason, audit.get("signature"))))
        return apply(self.ctx.store, share.share_id, "refused_content", audit=dict(audit), reason=reason,
                     detail=detail, file_type=file_type)

    def _plan(self, share: Share, client: PlatformClient | None) -> Share:
        cfg = self.ctx.config
        folder = Path(cfg.pms_import_dir) if cfg.pms_import_dir else None
        patient = self.ctx.store.get_patient(share.patient_number or "")
        if folder is None:
            return self._wait(share, "no_import_folder", "pms_import_dir")
        if not folder.is_dir():
            return self._wait(share, "import_folder_unavailable", str(folder))
        if patient is None:
            return self._wait(share, "no_patient_record", share.patient_number or "")
        when = datetime.now().astimezone().replace(microsecond=0)
        try:
            name = handover.file_name(cfg.share_name_pattern, share, patient, share.file_type or "text", when)
        except ValueError as exc:
            return self._wait(share, "bad_name_pattern", str(exc))
        return apply(self.ctx.store, share.share_id, "handover_started", reason=None, detail=None,
                     handover=handover.plan(folder, name, when))

    def _wait(self, share: Share, reason: str, detail: str) -> Share:
        if share.reason == reason:
            return share
        return self.ctx.store.share_record(share.share_id, "share.handover_waiting", audit={"reason": reason},
                                           reason=reason, detail=detail)

    def _hand_over(self, share: Share, client: PlatformClient | None) -> Share:
        plan = dict(share.handover)
        patient = self.ctx.store.get_patient(share.patient_number or "")
        if patient is None:
            return self._wait(share, "no_patient_record", share.patient_number or "")
        if not Path(plan["folder"]).is_dir():
            return self._wait(share, "import_folder_unavailable", plan["folder"])
        if not plan.get("staged"):
            folder = download.share_folder(self.ctx, share.share_id)
            with _work(folder) as work:
                plain = decrypt_document(self.ctx, folder, work, share.sha256 or "", download.max_bytes(self.ctx))
                handover.stage(plan, plain, handover.record(share, patient, share.file_type or "text", plan))
            plan["staged"] = True
            share = self.ctx.store.share_record(share.share_id, "share.handover_staged", handover=plan)
        try:
            handover.place(plan)
        except handover.NameTaken as exc:
            return self._wait(share, "name_taken", str(exc))
        done = apply(self.ctx.store, share.share_id, "handed_over", reason=None, detail=None, receipt="accepted",
                     audit={"patient_number": share.patient_number, "file_type": share.file_type})
        shutil.rmtree(download.shares_root(self.ctx) / share.share_id, ignore_errors=True)
        return done

    _STEPS: dict[ShareState, Callable[[SharesJob, Share, PlatformClient | None], Share | None]] = {
        S.RECEIVED: _download, S.DOWNLOADED: _verify, S.VERIFIED: _check, S.WAITING: _check,
        S.CLEAN: _plan, S.HANDING_OVER: _hand_over,
    }

    # -- receipts -----------------------------------------------------------------------------

    def _flush_receipts(self, client: PlatformClient) -> None:
        for share in self.ctx.store.receipts_due():
            if self._stop.is_set():
                return
            try:
                client.send_share_receipt(share.share_id, share.receipt or "accepted")
            except PlatformRefused as exc:  # it will never take it: the queue goes on
                log.info("share %s: receipt refused by the platform (%s)", share.share_id, type(exc).__name__)
            except NetworkError:
                return  # later
            self.ctx.store.receipt_sent(share.share_id, share.receipt or "accepted")


def _quarantined(share_id: str, reason: str, signature: object = None) -> Text:
    """The alert for staff: the share's id and why (a reason code and a virus's name,
    identifiers only - never a patient's name or a file's name)."""
    why = f"{reason} {signature or ''}".strip()
    return Text(f"Geteiltes Dokument {share_id} in Quarantäne: {why}", f"shared document {share_id} quarantined: {why}")


class _work:  # noqa: N801 - used like a function: ``with _work(folder) as work``
    """The share's private work folder for one step, removed afterwards (also on errors)."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "work"

    def __enter__(self) -> Path:
        shutil.rmtree(self.path, ignore_errors=True)
        self.path.mkdir(mode=0o700)
        return self.path

    def __exit__(self, *exc: object) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
