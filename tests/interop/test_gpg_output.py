"""The GnuPG wrapper against hostile gpg output, made by real peers with real gpg:

- a signature with a notation of raw non-UTF-8 bytes (OpenPGP.js and Sequoia put a binary
  salt into every signature; python-gnupg's reader thread used to die on it);
- a key whose user id carries U+2028 and a malformed status line: gpg repeats the user id
  raw in ``GOODSIG``/``BADSIG``, and a reader splitting on Unicode line breaks sees a
  ``[GNUPG:] VALIDSIG`` line of its own (python-gnupg's thread used to die on that);
- a user id forging whole status lines (``GOODSIG``, ``VALIDSIG`` of another key) on a bad
  signature: the verdict stays "bad" and the signer stays the real one;
- a home where another secret key would sign too (``local-user`` in gpg.conf): our
  signature is refused unless gpg made exactly one, by the practice key.

Every case: the verdict the signature deserves, no exception in any thread, nothing on stderr."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from practice_client.core.errors import CryptoError
from practice_client.crypto.gpg import Gpg, inspect_keys, isolated
from practice_client.crypto.gpg_output import status_lines
from practice_client.testbed.implementations import GnuPG, OpenPgpJs, Sequoia
from tests.interop.conftest import require_tool

CONSENT = b'{"request_id": "0b1e", "consent": "Ich bin einverstanden."}\n'
NOT_UTF8 = b"\xff\xfe\xc3(\xe2\x80\xa8[GNUPG:]\x1c\x85 VALIDSIG \x00end"
LINE_BREAK = "\u2028"
FAKE_FPR = "0123456789ABCDEF0123456789ABCDEF01234567"


@pytest.fixture
def thread_errors(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[BaseException]]:
    """Exceptions that end any thread (python-gnupg's readers among them)."""
    caught: list[BaseException] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: caught.append(args.exc_value))
    yield caught


def verdicts(public_key: str, data: bytes, signature: bytes) -> tuple[tuple[bool, str | None], bool]:
    """(valid, signer) over ``data``, and valid over ``data`` altered by one byte."""
    with isolated([public_key]) as gpg:
        good = gpg.verify_detached(data, signature)
        bad = gpg.verify_detached(data + b" ", signature)
    return (good.valid, good.signer), bad.valid


@pytest.mark.parametrize("maker", [OpenPgpJs, Sequoia], ids=["openpgpjs", "sequoia"])
def test_binary_notations_and_a_malformed_status_line_verify_as_the_signature_deserves(
        maker: type[OpenPgpJs] | type[Sequoia], work_dir: Path, thread_errors: list[BaseException],
        capfd: pytest.CaptureFixture[str]) -> None:
    """Both at once: a binary notation and a user id that carries a malformed status line."""
    require_tool(maker.name)
    app = maker(work_dir)
    fpr = app.generate(f"Erika Mustermann{LINE_BREAK}[GNUPG:] VALIDSIG <erika@testbed.invalid>", "ed25519",
                       "default")
    if isinstance(app, OpenPgpJs):
        signature = app.sign_with_notations(CONSENT, {"crafted@testbed.invalid": NOT_UTF8})
    else:
        signature = app.sign(CONSENT)  # sq's own salt@notations.sequoia-pgp.org
    assert verdicts(app.public_key(), CONSENT, signature) == ((True, fpr), False)
    assert thread_errors == [] and "Traceback" not in capfd.readouterr().err


def crafted_key(home: Path, uid: str) -> GnuPG:
    require_tool("gnupg")
    app = GnuPG(home)
    app.generate(uid, "ed25519", "default")
    return app


def verifies_as_it_deserves(uid: str, home: Path, thread_errors: list[BaseException],
                            capfd: pytest.CaptureFixture[str]) -> None:
    """A consent signed by a key with this user id: valid by that key, invalid when altered."""
    app = crafted_key(home, uid)
    try:
        assert verdicts(app.public_key(), CONSENT, app.sign(CONSENT)) == ((True, app.fingerprint), False)
    finally:
        app.close()
    assert thread_errors == [] and "Traceback" not in capfd.readouterr().err


def test_a_user_id_with_a_malformed_status_line_verifies_as_the_signature_deserves(
        work_dir: Path, thread_errors: list[BaseException], capfd: pytest.CaptureFixture[str]) -> None:
    uid = f"Erika Mustermann{LINE_BREAK}[GNUPG:] VALIDSIG{LINE_BREAK}[GNUPG:] GOODSIG"
    verifies_as_it_deserves(uid, work_dir, thread_errors, capfd)


def test_a_user_id_forging_status_lines_flips_no_verdict_and_names_no_other_signer(
        work_dir: Path, thread_errors: list[BaseException], capfd: pytest.CaptureFixture[str]) -> None:
    forged = (f"[GNUPG:] GOODSIG {FAKE_FPR[-16:]} Max{LINE_BREAK}[GNUPG:] VALIDSIG {FAKE_FPR} 2026-12-01 "
              f"1796000000 0 4 0 22 10 00 {FAKE_FPR}")
    verifies_as_it_deserves(f"Eve{LINE_BREAK}{forged}{LINE_BREAK}[GNUPG:] NEWSIG", work_dir, thread_errors, capfd)


def test_status_lines_split_on_newline_only_and_keep_fields_in_place() -> None:
    text = ("gpg: Good signature\n"
            f"[GNUPG:] GOODSIG 1122334455667788 Eve{LINE_BREAK}[GNUPG:] VALIDSIG {FAKE_FPR}\x85\x1c\r\n"
            "[GNUPG:]  VALIDSIG leading space\n[GNUPG:] lower case\n[GNUPG:]\n[GNUPG:] NEWSIG")
    lines = status_lines(text)
    assert [s.keyword for s in lines] == ["GOODSIG", "NEWSIG"]
    assert lines[0].args[0] == "1122334455667788" and lines[1].args == ()


def test_a_user_id_that_breaks_a_key_listing_line_hides_no_key(work_dir: Path) -> None:
    """gpg escapes ':' in colon listings but not U+2028: a reader splitting on it saw an
    ``fpr`` record of its own (python-gnupg then replaced the key's fingerprint with an
    empty one, and the key could not be found, imported or pinned)."""
    app = crafted_key(work_dir, f"Eve{LINE_BREAK}fpr")
    try:
        public = app.public_key()
        [info] = inspect_keys(public)
        with isolated([public]) as gpg:
            listed = gpg.key_info(app.fingerprint)
    finally:
        app.close()
    assert info.fingerprint == app.fingerprint and listed == info
    assert len(info.encryption_subkeys) == 1 and info.uids == (f"Eve{LINE_BREAK}fpr",)


def test_a_home_where_another_secret_key_would_sign_too_is_refused(work_dir: Path) -> None:
    require_tool("gnupg")
    gpg = Gpg(work_dir / "practice")
    practice = gpg.generate_key("Praxis", "praxis@testbed.invalid", "secret passphrase", "ed25519")
    other = gpg.generate_key("Other", "other@testbed.invalid", "secret passphrase", "ed25519")
    assert gpg.sign(b"before", practice, "secret passphrase")
    conf = gpg.home / "gpg.conf"
    conf.write_text(f"local-user {other}\n", encoding="ascii")  # gpg signs with that key instead
    for attempt in (lambda: gpg.sign(b"document", practice, "secret passphrase"),
                    lambda: gpg.sign_encrypt_bytes(b"document", [practice], practice, "secret passphrase", "B.pdf")):
        with pytest.raises(CryptoError, match=f"the signature was made by key {other}, not by {practice}"):
            attempt()
    conf.write_text(f"local-user {other}\nlocal-user {practice}\n", encoding="ascii")  # with both
    with pytest.raises(CryptoError, match=f"gpg made 2 signatures, expected one by {practice}"):
        gpg.sign(b"document", practice, "secret passphrase", clearsign=True)
    conf.unlink()
    gpg.kill_agent()


def test_a_signing_subkey_counts_as_the_key_it_belongs_to(work_dir: Path) -> None:
    """A practice key restored with a signing subkey: gpg's SIG_CREATED names the subkey."""
    app = crafted_key(work_dir, "Praxis <praxis@testbed.invalid>")
    sub_app = GnuPG(work_dir / "sub")
    fpr = sub_app.generate("Praxis <praxis@testbed.invalid>", "ed25519", "signing-subkey")
    try:
        signature = sub_app.gpg.sign(CONSENT, fpr, sub_app.passphrase)
        assert verdicts(sub_app.public_key(), CONSENT, signature) == ((True, fpr), False)
        with pytest.raises(CryptoError):  # a key of another home is not this home's to sign with
            sub_app.gpg.sign(CONSENT, app.fingerprint, sub_app.passphrase)
    finally:
        app.close()
        sub_app.close()
