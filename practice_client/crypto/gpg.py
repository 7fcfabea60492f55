"""GnuPG through python-gnupg, always with a home of our own.

Rules (each one a lesson from other clients):
- never the user's own keyring: every :class:`Gpg` has an explicit home (0700);
- keys are addressed by full fingerprint only, with ``--trust-model always``
  because *we* decide trust (pins), not the web of trust;
- gpg can exit 0 while reporting a problem, so results are judged by the status
  lines (and the exit code), each by exact keyword and field position - read with
  :mod:`practice_client.crypto.gpg_output`, which never depends on gpg's output being
  UTF-8 or well-formed; python-gnupg's own parse of those lines is never a verdict;
- signatures that must come from one particular key are verified in a throw-away
  home that holds only that key, so no other key in any keyring can satisfy them;
- a signature we make is accepted only when gpg made exactly one, of the kind asked
  for, by the key asked for (or one of its signing subkeys);
- notations in signatures (Sequoia and OpenPGP.js add a binary salt to every one)
  are never part of a verdict.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote

import gnupg

from practice_client.core.errors import CryptoError
from practice_client.crypto.gpg_binary import gpg_path
from practice_client.crypto.gpg_output import (
    CODEC,
    ListedKey,
    Status,
    colon_listing,
    keywords,
    only,
    statuses_of,
    tolerant_results,
)

log = logging.getLogger(__name__)

FINGERPRINT_RE = re.compile(r"^[0-9A-F]{40}$")


def normalize_fingerprint(text: str) -> str:
    """Upper-case, no spaces; raise on anything that is not a v4 fingerprint."""
    fpr = re.sub(r"\s+", "", text).upper()
    if not FINGERPRINT_RE.match(fpr):
        raise CryptoError(f"'{text}' is not a 40-digit OpenPGP fingerprint")
    return fpr


def group_fingerprint(fpr: str) -> str:
    """Fingerprint in groups of four, as staff read it aloud with the patient."""
    return " ".join(fpr[i : i + 4] for i in range(0, len(fpr), 4))


def short_temp_root() -> str:
    """gpg-agent's socket lives in the home when /run/user is missing: keep paths short."""
    short = "/tmp"  # noqa: S108 - only a parent for private mkdtemp() folders
    return short if os.name == "posix" and os.path.isdir(short) else tempfile.gettempdir()


@dataclass(frozen=True)
class KeyInfo:
    """What we need to know about a public key before pinning or using it."""

    fingerprint: str
    uids: tuple[str, ...]
    created: datetime | None
    expires: datetime | None
    revoked: bool
    can_sign: bool
    encryption_subkeys: tuple[str, ...]  # usable (not revoked, not expired) encryption subkeys

    @property
    def expired(self) -> bool:
        return self.expires is not None and self.expires <= datetime.now(UTC)

    @property
    def usable_for_encryption(self) -> bool:
        return not self.revoked and not self.expired and bool(self.encryption_subkeys)


@dataclass(frozen=True)
class SignatureCheck:
    valid: bool
    signer: str | None  # primary key fingerprint of the signer
    problem: str  # empty when valid


# Signature outcomes that make a verification fail, whatever else gpg reports.
BAD_SIGNATURE = frozenset({"BADSIG", "ERRSIG", "EXPSIG", "EXPKEYSIG", "REVKEYSIG", "NO_PUBKEY", "FAILURE"})
DATA_SIGNATURE_CLASSES = frozenset({"00", "01"})  # binary document, canonical text
UNUSABLE_VALIDITY = frozenset({"r", "e", "i", "d"})  # revoked, expired, invalid, disabled
_WITH_USER_ID = frozenset({"GOODSIG", "BADSIG", "EXPSIG", "EXPKEYSIG", "REVKEYSIG"})
_PROBLEM_WORDS = ("FAILURE", "ERROR", "INV_", "NO_", "BAD", "MISSING", "KEYEXPIRED", "KEYREVOKED", "SKIPPED")


def _ts(value: str) -> datetime | None:
    return datetime.fromtimestamp(int(value), UTC) if value.isdigit() else None


def _usable(record_validity: str, expires: datetime | None, now: datetime) -> bool:
    return record_validity not in UNUSABLE_VALIDITY and (expires is None or expires > now)


def _key_info(key: ListedKey) -> KeyInfo | None:
    if not FINGERPRINT_RE.match(key.fingerprint):
        return None
    now = datetime.now(UTC)
    encryption = [
        fpr for record, fpr in key.subkeys
        if "e" in record.field(11) and FINGERPRINT_RE.match(fpr)
        and _usable(record.field(1), _ts(record.field(6)), now)
    ]
    caps = key.primary.field(11)
    return KeyInfo(
        fingerprint=key.fingerprint,
        uids=tuple(key.uids),
        created=_ts(key.primary.field(5)),
        expires=_ts(key.primary.field(6)),
        revoked=key.primary.field(1) == "r",
        can_sign="s" in caps or "S" in caps,
        encryption_subkeys=tuple(encryption),
    )


def judge_signature(statuses: list[Status], returncode: object) -> SignatureCheck:
    """Exactly one signature, good and valid, no bad outcome, gpg exited 0.

    ``VALIDSIG`` carries the signing (sub)key's fingerprint first and the primary key's
    tenth; ``GOODSIG`` must name the same signing key. Anything else - two signatures, a
    line with missing fields, a signature class that is not data - is not a valid signature."""
    bad = sorted(set(keywords(statuses)) & BAD_SIGNATURE)
    if bad:
        return SignatureCheck(False, None, ", ".join(bad))
    goods, valids, news = (only(statuses, k) for k in ("GOODSIG", "VALIDSIG", "NEWSIG"))
    if len(valids) > 1 or len(goods) > 1 or len(news) > 1:
        return SignatureCheck(False, None, "several signatures")
    if len(valids) != 1 or len(goods) != 1 or returncode != 0:
        return SignatureCheck(False, None, "no valid signature")
    valid, good = valids[0].args, goods[0].args
    if (
        len(valid) < 10 or not FINGERPRINT_RE.match(valid[0]) or not FINGERPRINT_RE.match(valid[9])
        or valid[8] not in DATA_SIGNATURE_CLASSES or not good or good[0] != valid[0][-16:]
    ):
        return SignatureCheck(False, None, "malformed signature status")
    return SignatureCheck(True, valid[9], "")


class Gpg:
    """One GnuPG home. Create with :meth:`open`; use :func:`isolated` for throw-away homes."""

    def __init__(self, home: Path, binary: str | None = None) -> None:
        self.home = Path(home)
        self.home.mkdir(parents=True, exist_ok=True)
        if os.name == "posix":
            os.chmod(self.home, 0o700)
        agent_conf = self.home / "gpg-agent.conf"
        if not agent_conf.exists():
            # Our passphrases are random 256-bit secrets from the keyring, so key stretching
            # adds nothing - but the agent re-runs it on every signature (it caches the
            # passphrase, not the unlocked key): the calibrated count cost ~0.5 s per document.
            agent_conf.write_text("allow-loopback-pinentry\ns2k-count 65536\n", encoding="ascii")
        self._gpg = gnupg.GPG(
            gpgbinary=binary or gpg_path(),  # never found through PATH: crypto/gpg_binary.py
            gnupghome=str(self.home),
            # --no-random-seed-file: parallel gpg processes of one home queue on the seed
            # file's lock; libgcrypt seeds from the kernel's CSPRNG instead
            options=["--trust-model", "always", "--no-auto-key-retrieve", "--no-greeting",
                     "--no-random-seed-file"],
            encoding=CODEC,  # UTF-8 in, UTF-8 out with replacement: decoding never fails
        )
        self._gpg.result_map = tolerant_results()  # a line python-gnupg chokes on cannot kill its thread
        self._gpg.buffer_size = 256 * 1024  # python-gnupg pumps streams in 16 KiB by default: slow for GiBs

    @property
    def version(self) -> str:
        """gpg's version, e.g. "2.2.40" (as python-gnupg read it from gpg --list-config)."""
        return ".".join(str(part) for part in (self._gpg.version or ())) or "?"

    # -- keys -----------------------------------------------------------------

    def generate_key(self, uid_name: str, uid_email: str, passphrase: str, algorithm: str) -> str:
        """A signing primary key with an encryption subkey; returns its fingerprint."""
        if algorithm == "ed25519":
            params: dict[str, str | int] = {"key_type": "EDDSA", "key_curve": "ed25519",
                      "subkey_type": "ECDH", "subkey_curve": "cv25519"}
        elif algorithm == "rsa3072":
            params = {"key_type": "RSA", "key_length": 3072,
                      "subkey_type": "RSA", "subkey_length": 3072}
        else:
            raise CryptoError(f"unknown key algorithm '{algorithm}' (ed25519 or rsa3072)")
        spec = self._gpg.gen_key_input(
            name_real=uid_name, name_email=uid_email, passphrase=passphrase,
            key_usage="sign", subkey_usage="encrypt", expire_date=0, **params,
        )
        result = self._gpg.gen_key(spec)
        created = [s.args[1].upper() for s in only(statuses_of(result), "KEY_CREATED")
                   if len(s.args) >= 2 and s.args[0] in ("B", "P")]
        if len(created) != 1 or not FINGERPRINT_RE.match(created[0]):
            raise CryptoError(f"gpg could not create the practice key: {self._why(result)}")
        return created[0]

    @staticmethod
    def _imported(result: object) -> list[str]:
        """Fingerprints of ``IMPORT_OK <reasons> <fingerprint>`` lines."""
        return sorted({
            s.args[1].upper() for s in only(statuses_of(result), "IMPORT_OK")
            if len(s.args) == 2 and FINGERPRINT_RE.match(s.args[1].upper())
        })

    def import_keys(self, data: str | bytes) -> list[str]:
        """Import public key material; returns the primary fingerprints imported."""
        result = self._gpg.import_keys(data)
        fprs = self._imported(result)
        if not fprs:
            raise CryptoError(f"gpg imported no key: {self._why(result)}")
        return fprs

    def import_secret(self, data: str | bytes, passphrase: str) -> list[str]:
        result = self._gpg.import_keys(data, passphrase=passphrase)
        fprs = self._imported(result)
        # IMPORT_RES field 11 counts the secret keys imported
        counts = [s.args for s in only(statuses_of(result), "IMPORT_RES") if len(s.args) >= 11]
        if not fprs or len(counts) != 1 or not counts[0][10].isdigit() or int(counts[0][10]) < 1:
            raise CryptoError(f"gpg imported no secret key: {self._why(result)}")
        return fprs

    def _listed(self, fingerprint: str, secret: bool = False) -> ListedKey | None:
        """The key with exactly this fingerprint, from gpg's colon listing read as bytes."""
        result = self._gpg.list_keys(secret=secret, keys=[fingerprint])
        raw = getattr(result, "data", b"")
        for key in colon_listing(raw if isinstance(raw, bytes) else b""):
            if key.fingerprint == fingerprint:
                return key
        return None

    def key_info(self, fingerprint: str) -> KeyInfo | None:
        key = self._listed(fingerprint)
        return _key_info(key) if key is not None else None

    def has_secret_key(self, fingerprint: str) -> bool:
        return self._listed(fingerprint, secret=True) is not None

    def _signing_subkeys(self, fingerprint: str) -> set[str]:
        """The usable signing subkeys of a key: gpg signs with one of them when the
        primary key itself cannot sign."""
        key = self._listed(fingerprint)
        if key is None:
            return set()
        now = datetime.now(UTC)
        return {
            fpr for record, fpr in key.subkeys
            if "s" in record.field(11) and _usable(record.field(1), _ts(record.field(6)), now)
        }

    def export_public(self, fingerprint: str) -> str:
        text = self._gpg.export_keys([fingerprint], armor=True, minimal=True)
        if "BEGIN PGP PUBLIC KEY BLOCK" not in text:
            raise CryptoError(f"{fingerprint}: no such public key in the client's keyring")
        return str(text)

    def export_secret(self, fingerprint: str, passphrase: str) -> str:
        text = self._gpg.export_keys([fingerprint], secret=True, armor=True, passphrase=passphrase)
        if "BEGIN PGP PRIVATE KEY BLOCK" not in text:
            raise CryptoError(f"{fingerprint}: the secret key could not be exported")
        return str(text)

    def delete_key(self, fingerprint: str) -> None:
        self._gpg.delete_keys([fingerprint])

    def fingerprints(self) -> list[str]:
        """The primary fingerprints of every public key in this home."""
        return sorted({str(k["fingerprint"]).upper() for k in self._gpg.list_keys()})

    # -- signatures -------------------------------------------------------------

    def verify_detached(self, data: bytes, signature: bytes) -> SignatureCheck:
        """Verify a detached signature over exactly ``data`` against this home's keys."""
        with tempfile.NamedTemporaryFile(dir=self.home, suffix=".sig", delete=False) as sig:
            sig.write(signature)
        try:
            result = self._gpg.verify_data(sig.name, data)
        finally:
            os.unlink(sig.name)
        return self._judge(result)

    def decrypt_clearsigned(self, text: bytes) -> tuple[bytes, SignatureCheck]:
        """The exact signed content of a clearsigned message, and who signed it.

        The content comes from gpg's own output, never from parsing the armor, so
        text outside the signed part can never be mistaken for signed text."""
        result = self._gpg.decrypt(text)
        return bytes(result.data), self._judge(result)

    @staticmethod
    def _judge(result: object) -> SignatureCheck:
        return judge_signature(statuses_of(result), getattr(result, "returncode", None))

    def _check_signed(self, result: object, signer: str, kind: str, what: str) -> None:
        """gpg made exactly one signature (``SIG_CREATED <kind> <algo> <hash> <class> <time>
        <fingerprint>``), of ``kind`` (D detached, C clearsigned, S signed message), by
        ``signer`` or one of its signing subkeys - not by whatever key gpg.conf or the
        keyring would have chosen besides or instead."""
        created = only(statuses_of(result), "SIG_CREATED")
        if not created:
            raise CryptoError(f"{what}: {self._why(result)}")
        if len(created) != 1:
            raise CryptoError(f"{what}: gpg made {len(created)} signatures, expected one by {signer}")
        args = created[0].args
        made_by = args[5].upper() if len(args) == 6 else ""
        if args[0] != kind or not FINGERPRINT_RE.match(made_by):
            raise CryptoError(f"{what}: gpg reported a malformed signature ({' '.join(args[:1])})")
        if made_by != signer and made_by not in self._signing_subkeys(signer):
            raise CryptoError(f"{what}: the signature was made by key {made_by}, not by {signer}")

    def sign(self, data: bytes, signer: str, passphrase: str | None, *, clearsign: bool = False) -> bytes:
        """An ASCII-armored signature by ``signer`` (a fingerprint): detached over exactly
        ``data``, or a clearsigned message wrapping it (see :meth:`_check_signed`)."""
        signer = normalize_fingerprint(signer)
        result = self._gpg.sign(
            data, keyid=signer, passphrase=passphrase,
            clearsign=clearsign, detach=not clearsign, binary=False,
        )
        self._check_signed(result, signer, "C" if clearsign else "D", "gpg could not sign")
        return bytes(result.data)

    # -- documents ------------------------------------------------------------------

    def sign_encrypt_file(
        self,
        source: Path,
        output: Path,
        recipients: Sequence[str],
        signer: str,
        passphrase: str,
        filename: str,
        compress: bool = False,
        recipient_files: Sequence[Path] = (),
    ) -> None:
        """Sign with ``signer`` then encrypt to ``recipients`` (fingerprints), streaming
        from ``source`` to ``output``. Memory does not grow with the file size.

        gpg opens ``source`` itself: pumping it through a pipe from Python costs a copy
        of every byte and about a fifth of gpg's speed on a large file. The passphrase
        still travels on stdin. ``source`` must be a file the caller owns (the spool):
        gpg follows a link where the caller's own reads would not. ``recipient_files``
        are further recipients' keys read from files, never imported into this home."""
        extra = [*_recipient_file_args(recipient_files), "--set-filename", filename,
                 "--compress-algo", "zlib" if compress else "none", "--", str(source)]
        for fpr in recipients:
            normalize_fingerprint(fpr)
        signer = normalize_fingerprint(signer)
        result = self._gpg.encrypt_file(
            io.BytesIO(b""), list(recipients), sign=signer, passphrase=passphrase, always_trust=True,
            armor=False, output=str(output), extra_args=extra,
        )
        try:
            self._check_encrypted(result, signer)
        except CryptoError:
            with contextlib.suppress(FileNotFoundError):
                output.unlink()
            raise

    def sign_encrypt_bytes(
        self, data: bytes, recipients: Sequence[str], signer: str, passphrase: str, filename: str,
        recipient_files: Sequence[Path] = (), armor: bool = False,
    ) -> bytes:
        signer = normalize_fingerprint(signer)
        result = self._gpg.encrypt(
            data, list(recipients), sign=signer, passphrase=passphrase, always_trust=True,
            armor=armor, extra_args=[*_recipient_file_args(recipient_files), "--set-filename", filename],
        )
        self._check_encrypted(result, signer)
        return bytes(result.data)

    def _check_encrypted(self, result: object, signer: str) -> None:
        """END_ENCRYPTION and one signature by ``signer``. Not the exit code: gpg exits 2 on
        warnings such as a source that grew while it read it, which the caller's digests
        catch and name."""
        what = "gpg could not sign and encrypt"
        if "END_ENCRYPTION" not in keywords(statuses_of(result)):
            raise CryptoError(f"{what}: {self._why(result)}")
        self._check_signed(result, signer, "S", what)

    def unwrap(self, source: Path | bytes, output: Path, passphrase: str | None = None) -> None:
        """Remove only the encryption layer, writing the signed message inside to ``output``,
        so that its signature can be checked in a home that holds only the expected signer."""
        if isinstance(source, Path):
            with open(source, "rb") as handle:
                result = self._gpg.decrypt_file(
                    handle, passphrase=passphrase, output=str(output), extra_args=["--unwrap"]
                )
        else:
            result = self._gpg.decrypt(
                source, passphrase=passphrase, output=str(output), extra_args=["--unwrap"]
            )
        if not self._decrypted(result):
            with contextlib.suppress(FileNotFoundError):
                output.unlink()
            raise CryptoError(f"gpg could not decrypt: {self._why(result)}")

    @staticmethod
    def _decrypted(result: object, *required: str) -> bool:
        found = keywords(statuses_of(result))
        return (
            getattr(result, "returncode", None) == 0 and "DECRYPTION_OKAY" in found
            and "DECRYPTION_FAILED" not in found and all(k in found for k in required)
        )

    def open_signed(self, source: Path, output: Path | None = None,
                    max_output: int = 0) -> tuple[bytes, SignatureCheck, str]:
        """The content of a signed (not encrypted) message: data (empty when written to
        ``output``), the signature check against this home's keys, the literal file name.
        ``max_output``: gpg stops past that many bytes (a compressed message can unpack to
        any size; 0 = no limit) - the caller sees the check fail and the output cut."""
        extra = ["--max-output", str(max_output)] if max_output else []
        with open(source, "rb") as handle:
            result = self._gpg.decrypt_file(handle, output=str(output) if output else None, extra_args=extra)
        return bytes(result.data or b""), self._judge(result), self._plaintext_name(result)

    @staticmethod
    def _plaintext_name(result: object) -> str:
        """The file name from the literal packet: ``PLAINTEXT <format> <time> <name>``,
        the name percent-escaped by gpg. One literal packet, or no name."""
        plain = only(statuses_of(result), "PLAINTEXT")
        if len(plain) != 1 or len(plain[0].args) != 3:
            return ""
        return unquote(plain[0].args[2], errors="replace")

    # -- passphrase-protected data (key backups) -------------------------------------

    _SYMMETRIC_ARGS = ("--no-symkey-cache", "--s2k-mode", "3", "--s2k-digest-algo", "SHA512",
                       "--s2k-count", "65011712")

    def encrypt_symmetric(self, data: bytes, passphrase: str) -> bytes:
        """AES-256 under a passphrase (slow salted S2K), ASCII-armored. The agent never
        caches the passphrase, so a later wrong one cannot succeed from a cache."""
        result = self._gpg.encrypt(
            data, None, symmetric="AES256", passphrase=passphrase, armor=True,
            extra_args=list(self._SYMMETRIC_ARGS),
        )
        if "END_ENCRYPTION" not in keywords(statuses_of(result)):
            raise CryptoError(f"gpg could not encrypt: {self._why(result)}")
        return bytes(result.data)

    def decrypt_symmetric(self, data: bytes, passphrase: str) -> bytes:
        """Raises :class:`CryptoError` for a wrong passphrase or damaged data."""
        result = self._gpg.decrypt(data, passphrase=passphrase, extra_args=["--no-symkey-cache"])
        if not self._decrypted(result, "GOODMDC"):
            raise CryptoError(f"gpg could not decrypt: {self._why(result)}")
        return bytes(result.data)

    # -- housekeeping ---------------------------------------------------------------

    def kill_agent(self) -> None:
        """Agents outlive their callers: stop ours when done (tests, throw-away homes)."""
        gpgconf = shutil.which("gpgconf")
        if gpgconf:
            subprocess.run(  # noqa: S603
                [gpgconf, "--homedir", str(self.home), "--kill", "gpg-agent"],
                check=False, capture_output=True, timeout=10,
            )

    @staticmethod
    def _why(result: object) -> str:
        """The problems gpg reported, for an error message: keywords and their first fields
        (never a user id: those name patients)."""
        problems = [
            " ".join((s.keyword, *s.args[: 1 if s.keyword in _WITH_USER_ID else 2]))
            for s in statuses_of(result) if any(w in s.keyword for w in _PROBLEM_WORDS)
        ]
        if not problems and getattr(result, "returncode", 0) not in (0, None):
            problems = [f"gpg exit code {getattr(result, 'returncode', '')}"]
        return "; ".join(problems[:4]) or "unknown gpg error"


def _recipient_file_args(files: Sequence[Path]) -> list[str]:
    return [arg for path in files for arg in ("--recipient-file", str(path))]


@contextlib.contextmanager
def isolated(keys: Sequence[str | bytes] = ()) -> Iterator[Gpg]:
    """A throw-away GnuPG home holding only ``keys`` (armored public keys)."""
    root = tempfile.mkdtemp(prefix="pcg", dir=short_temp_root())
    gpg = Gpg(Path(root))
    try:
        for key in keys:
            gpg.import_keys(key)
        yield gpg
    finally:
        if (Path(root) / "S.gpg-agent").exists():
            gpg.kill_agent()
        shutil.rmtree(root, ignore_errors=True)


def inspect_keys(data: str | bytes) -> list[KeyInfo]:
    """Parse public key material without touching any real keyring."""
    with isolated() as gpg:
        try:
            fprs = gpg.import_keys(data)
        except CryptoError:
            return []
        infos = [gpg.key_info(f) for f in fprs]
    return [i for i in infos if i is not None]
