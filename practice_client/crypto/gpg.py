"""GnuPG through python-gnupg, always with a home of our own.

Rules (each one a lesson from other clients):
- never the user's own keyring: every :class:`Gpg` has an explicit home (0700);
- keys are addressed by full fingerprint only, with ``--trust-model always``
  because *we* decide trust (pins), not the web of trust;
- gpg can exit 0 while reporting a problem, so results are judged by the status
  lines, not the exit code;
- signatures that must come from one particular key are verified in a throw-away
  home that holds only that key, so no other key in any keyring can satisfy them.
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


def _ts(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromtimestamp(int(value), UTC)


def _key_info(raw: dict[str, object]) -> KeyInfo:
    now = datetime.now(UTC)
    subkeys: list[str] = []
    info = raw.get("subkey_info") or {}
    assert isinstance(info, dict)
    for sub in raw.get("subkeys") or []:  # type: ignore[attr-defined]
        keyid, caps, fpr = sub[0], sub[1], sub[2]
        details = info.get(keyid, {})
        validity = details.get("trust", "")
        expires = _ts(details.get("expires"))
        if "e" in caps and validity not in ("r", "e") and (expires is None or expires > now):
            subkeys.append(fpr)
    caps = str(raw.get("cap", ""))
    return KeyInfo(
        fingerprint=str(raw["fingerprint"]).upper(),
        uids=tuple(raw.get("uids") or ()),  # type: ignore[arg-type]
        created=_ts(str(raw.get("date") or "") or None),
        expires=_ts(str(raw.get("expires") or "") or None),
        revoked=raw.get("trust") == "r",
        can_sign="s" in caps or "S" in caps,
        encryption_subkeys=tuple(subkeys),
    )


class Gpg:
    """One GnuPG home. Create with :meth:`open`; use :func:`isolated` for throw-away homes."""

    def __init__(self, home: Path) -> None:
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
            gnupghome=str(self.home),
            # --no-random-seed-file: parallel gpg processes of one home queue on the seed
            # file's lock; libgcrypt seeds from the kernel's CSPRNG instead
            options=["--trust-model", "always", "--no-auto-key-retrieve", "--no-greeting",
                     "--no-random-seed-file"],
            encoding="utf-8",
        )
        self._gpg.buffer_size = 256 * 1024  # python-gnupg pumps streams in 16 KiB by default: slow for GiBs

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
        if not result.fingerprint:
            raise CryptoError(f"gpg could not create the practice key: {self._why(result)}")
        return str(result.fingerprint).upper()

    def import_keys(self, data: str | bytes) -> list[str]:
        """Import public key material; returns the primary fingerprints imported."""
        result = self._gpg.import_keys(data)
        fprs = sorted({str(f).upper() for f in result.fingerprints if f})
        if not fprs:
            raise CryptoError(f"gpg imported no key: {self._why(result)}")
        return fprs

    def import_secret(self, data: str | bytes, passphrase: str) -> list[str]:
        result = self._gpg.import_keys(data, passphrase=passphrase)
        if not result.fingerprints or not result.sec_imported:
            raise CryptoError(f"gpg imported no secret key: {self._why(result)}")
        return sorted({str(f).upper() for f in result.fingerprints if f})

    def key_info(self, fingerprint: str) -> KeyInfo | None:
        for raw in self._gpg.list_keys(keys=[fingerprint]):
            if str(raw["fingerprint"]).upper() == fingerprint:
                return _key_info(raw)
        return None

    def has_secret_key(self, fingerprint: str) -> bool:
        return any(
            str(k["fingerprint"]).upper() == fingerprint
            for k in self._gpg.list_keys(secret=True, keys=[fingerprint])
        )

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

    def _judge(self, result: gnupg.Verify) -> SignatureCheck:
        stderr = getattr(result, "stderr", "") or ""
        statuses = {line.split()[1] for line in stderr.splitlines()
                    if line.startswith("[GNUPG:] ") and len(line.split()) > 1}
        bad = statuses & {"BADSIG", "ERRSIG", "EXPSIG", "EXPKEYSIG", "REVKEYSIG", "NO_PUBKEY"}
        goods = [line for line in stderr.splitlines() if line.startswith("[GNUPG:] VALIDSIG ")]
        if bad or len(goods) != 1 or not result.valid:
            problem = ", ".join(sorted(bad)) or ("several signatures" if len(goods) > 1 else "no valid signature")
            return SignatureCheck(False, None, problem)
        signer = str(result.pubkey_fingerprint or result.fingerprint or "").upper() or None
        return SignatureCheck(True, signer, "")

    def sign(self, data: bytes, signer: str, passphrase: str | None, *, clearsign: bool = False) -> bytes:
        """An ASCII-armored signature by ``signer`` (a fingerprint): detached over exactly
        ``data``, or a clearsigned message wrapping it. Judged by SIG_CREATED, not the exit code."""
        result = self._gpg.sign(
            data, keyid=normalize_fingerprint(signer), passphrase=passphrase,
            clearsign=clearsign, detach=not clearsign, binary=False,
        )
        if "[GNUPG:] SIG_CREATED" not in (result.stderr or ""):
            raise CryptoError(f"gpg could not sign: {self._why(result)}")
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
        result = self._gpg.encrypt_file(
            io.BytesIO(b""), list(recipients), sign=signer, passphrase=passphrase, always_trust=True,
            armor=False, output=str(output), extra_args=extra,
        )
        stderr = result.stderr or ""
        if not result.ok or "[GNUPG:] SIG_CREATED" not in stderr or "[GNUPG:] END_ENCRYPTION" not in stderr:
            with contextlib.suppress(FileNotFoundError):
                output.unlink()
            raise CryptoError(f"gpg could not sign and encrypt: {self._why(result)}")

    def sign_encrypt_bytes(
        self, data: bytes, recipients: Sequence[str], signer: str, passphrase: str, filename: str,
        recipient_files: Sequence[Path] = (), armor: bool = False,
    ) -> bytes:
        result = self._gpg.encrypt(
            data, list(recipients), sign=signer, passphrase=passphrase, always_trust=True,
            armor=armor, extra_args=[*_recipient_file_args(recipient_files), "--set-filename", filename],
        )
        stderr = result.stderr or ""
        if not result.ok or "[GNUPG:] SIG_CREATED" not in stderr:
            raise CryptoError(f"gpg could not sign and encrypt: {self._why(result)}")
        return bytes(result.data)

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
        if not result.ok or "[GNUPG:] DECRYPTION_OKAY" not in (result.stderr or ""):
            with contextlib.suppress(FileNotFoundError):
                output.unlink()
            raise CryptoError(f"gpg could not decrypt: {self._why(result)}")

    def open_signed(self, source: Path, output: Path | None = None) -> tuple[bytes, SignatureCheck, str]:
        """The content of a signed (not encrypted) message: data (empty when written to
        ``output``), the signature check against this home's keys, the literal file name."""
        with open(source, "rb") as handle:
            result = self._gpg.decrypt_file(handle, output=str(output) if output else None)
        return bytes(result.data or b""), self._judge(result), self._plaintext_name(result)

    @staticmethod
    def _plaintext_name(result: object) -> str:
        """The file name gpg reports from the literal packet (PLAINTEXT status line)."""
        for line in (getattr(result, "stderr", "") or "").splitlines():
            if line.startswith("[GNUPG:] PLAINTEXT "):
                parts = line.split(" ", 4)
                if len(parts) == 5:
                    return unquote(parts[4])
        return ""

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
        if not result.ok or "[GNUPG:] END_ENCRYPTION" not in (result.stderr or ""):
            raise CryptoError(f"gpg could not encrypt: {self._why(result)}")
        return bytes(result.data)

    def decrypt_symmetric(self, data: bytes, passphrase: str) -> bytes:
        """Raises :class:`CryptoError` for a wrong passphrase or damaged data."""
        result = self._gpg.decrypt(data, passphrase=passphrase, extra_args=["--no-symkey-cache"])
        stderr = result.stderr or ""
        if not result.ok or "[GNUPG:] DECRYPTION_OKAY" not in stderr or "[GNUPG:] GOODMDC" not in stderr:
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
        status = getattr(result, "status", "") or ""
        stderr = getattr(result, "stderr", "") or ""
        problems = [
            line[len("[GNUPG:] "):] for line in stderr.splitlines()
            if line.startswith("[GNUPG:] ") and any(
                w in line for w in ("FAILURE", "ERROR", "INV_", "NO_", "BAD", "MISSING", "KEYEXPIRED", "KEYREVOKED")
            )
        ]
        return "; ".join([status, *problems][:4]).strip("; ") or "unknown gpg error"


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
