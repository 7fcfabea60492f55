"""The OpenPGP implementations a testbed party can be played by: GnuPG, Sequoia (``sq``),
OpenPGP.js (node) and rnp.

Patients' apps are not built on GnuPG: web and mobile apps use OpenPGP.js, Rust apps
Sequoia, Thunderbird-style apps rnp. Each :class:`Tool` makes its party's key (of a key
type and layout that implementation can make), signs a consent (detached), clearsigns an
attestation and opens a delivered document (decrypts it and checks the practice's
signature) with that implementation's own program, as an app built on it would. The
client under test only ever sees their OpenPGP output.

A tool keeps its party's key material in the party's folder (a test party: the GnuPG
key under a passphrase file beside it, the others unprotected, in a private folder).
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import subprocess
import tempfile
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache, cached_property
from pathlib import Path
from typing import ClassVar

from practice_client.core.atomic import atomic_write
from practice_client.core.errors import CryptoError
from practice_client.crypto.gpg import Gpg, isolated, short_temp_root
from practice_client.crypto.gpg_output import colon_listing

KEY_TYPES = ("ed25519", "rsa3072", "rsa4096", "p256", "p384")
RFC9580_KEY_TYPES = ("v6", "rfc9580-v4")  # RFC 9580: a v6 key; a v4 key with its new Ed25519/X25519
STRUCTURES = ("default", "signing-subkey", "expired-revoked")
KEY_TYPE_LABELS = {
    "ed25519": "Ed25519/Cv25519", "rsa3072": "RSA-3072", "rsa4096": "RSA-4096",
    "p256": "NIST P-256", "p384": "NIST P-384",
    "v6": "v6 key (RFC 9580, Ed25519/X25519)", "rfc9580-v4": "v4 key with RFC 9580 Ed25519/X25519",
}
STRUCTURE_LABELS = {
    "default": "the implementation's usual key",
    "signing-subkey": "signing done by a subkey",
    "expired-revoked": "an expired and a revoked encryption subkey next to a valid one",
}
INTEROP_DIR = Path(__file__).resolve().parents[2] / "tests" / "interop"
TIMEOUT = 300.0  # RSA-4096 key generation in JavaScript on a busy machine
_HEX40 = re.compile(r"\b[0-9A-Fa-f]{40}\b")


@dataclass(frozen=True)
class Opened:
    """What opening a delivered document told the party's app."""

    name: str  # the literal packet's file name ("" where the tool does not report it)
    signed: bool  # validly signed by the expected key, and by no other


def run(args: list[str], what: str, data: bytes | None = None, cwd: Path | None = None) -> bytes:
    """Run one program of an implementation; its stdout, or a one-line CryptoError."""
    try:
        done = subprocess.run(args, input=data, capture_output=True, timeout=TIMEOUT, check=False, cwd=cwd)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CryptoError(f"{what}: {type(exc).__name__}: {exc}") from None
    if done.returncode != 0:
        lines = [line for line in done.stderr.decode("utf-8", "replace").splitlines() if line.strip()]
        raise CryptoError(f"{what}: {lines[-1] if lines else f'exit code {done.returncode}'}")
    return done.stdout


class Tool(ABC):
    """One party's key, made and used by one OpenPGP implementation."""

    name: ClassVar[str]
    label: ClassVar[str]
    reports_file_name: ClassVar[bool] = True  # the literal packet's name, when opening a document
    usual_layout: ClassVar[str] = "primary key signs, one encryption subkey"

    def __init__(self, directory: Path, fingerprint: str = "") -> None:
        self.directory = Path(directory)
        self.fingerprint = fingerprint

    programs: ClassVar[tuple[str, ...]]  # the commands it runs; the first one tells its version
    package: ClassVar[str]  # the Debian package that brings them

    @classmethod
    def missing(cls) -> str | None:
        """What this machine lacks to run the implementation; None when it runs."""
        if all(shutil.which(p) for p in cls.programs):
            return None
        return f"{cls.programs[0]} (Debian package {cls.package})"

    @classmethod
    @cache
    def version(cls) -> str:
        return run([cls.programs[0], "--version"], cls.label).decode("utf-8", "replace").splitlines()[0]

    @classmethod
    def cannot(cls, key_type: str, structure: str) -> str | None:
        """Why the implementation cannot make this key; None when it can."""
        if key_type not in KEY_TYPES or structure not in STRUCTURES:
            return f"{cls.label} makes no '{key_type}' key with layout '{structure}'"
        return None

    def generate(self, uid: str, key_type: str, structure: str) -> str:
        """Make the party's key in its (private) folder; its primary fingerprint."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.fingerprint = self.make_key(uid, key_type, structure)
        return self.fingerprint

    @abstractmethod
    def make_key(self, uid: str, key_type: str, structure: str) -> str: ...

    @abstractmethod
    def public_key(self) -> str: ...

    @abstractmethod
    def sign(self, data: bytes) -> bytes:
        """A detached, ASCII-armored signature over exactly ``data``."""

    @abstractmethod
    def clearsign(self, data: bytes) -> bytes: ...

    @abstractmethod
    def open(self, source: Path, output: Path, signer_key: str) -> Opened:
        """Decrypt ``source`` to ``output`` (replaced) and check it is signed by ``signer_key``
        (armored public key). Raises :class:`CryptoError` when it cannot decrypt."""

    @abstractmethod
    def encrypt(self, data: bytes, recipient_key: str, sign: bool, filename: str) -> bytes:
        """A binary OpenPGP message of ``data`` encrypted to ``recipient_key`` (armored public
        key: the practice's) and, with ``sign``, signed by the party's key - what a patient's
        app uploads when the patient shares a document. ``filename`` goes into the literal
        packet where the implementation lets the app set it."""

    def close(self) -> None:  # noqa: B027 - only GnuPG leaves something running
        """Stop what the tool left running (gpg-agent)."""

    def scratch(self) -> tempfile.TemporaryDirectory[str]:
        return tempfile.TemporaryDirectory(prefix="t", dir=short_temp_root())


# -- GnuPG -------------------------------------------------------------------------------


class GnuPG(Tool):
    """gpg 2.2: keys made with gpg's command line; signing and opening through the
    client's own wrapper (the same python-gnupg driving a GnuPG-based app would do)."""

    name = "gnupg"
    label = "GnuPG"
    programs = ("gpg",)
    package = "gnupg"
    ALGORITHMS: ClassVar[dict[str, tuple[str, str]]] = {
        "ed25519": ("ed25519", "cv25519"), "rsa3072": ("rsa3072", "rsa3072"),
        "rsa4096": ("rsa4096", "rsa4096"), "p256": ("nistp256", "nistp256"), "p384": ("nistp384", "nistp384"),
    }

    @property
    def home(self) -> Path:
        return self.directory / "gnupg"

    @property
    def passphrase(self) -> str:
        return (self.directory / "passphrase").read_text(encoding="ascii").strip()

    @cached_property
    def gpg(self) -> Gpg:
        return Gpg(self.home)  # creates the home (0700) with the client's agent settings

    @classmethod
    @cache
    def version(cls) -> str:
        return super().version().replace("gpg (GnuPG)", "GnuPG")

    def _cli(self, *args: str, data: bytes | None = None) -> bytes:
        return run(["gpg", "--homedir", str(self.home), "--batch", "--no-tty", "--pinentry-mode", "loopback",
                    "--passphrase-file", str(self.directory / "passphrase"), *args], "gpg", data)

    def make_key(self, uid: str, key_type: str, structure: str) -> str:
        import secrets

        atomic_write(self.directory / "passphrase", secrets.token_urlsafe(18).encode("ascii"))
        assert self.gpg.home.is_dir()
        primary, encryption = self.ALGORITHMS[key_type]
        past = ("--faked-system-time", (datetime.now(UTC) - timedelta(days=3)).strftime("%Y%m%dT%H%M%S"))
        back = past if structure == "expired-revoked" else ()
        usage = "cert" if structure == "signing-subkey" else "sign"
        self._cli(*back, "--quick-gen-key", uid, primary, usage, "never")
        (fpr,) = [k.fingerprint for k in colon_listing(self._cli("--with-colons", "--list-secret-keys"))]
        if structure == "signing-subkey":
            self._cli("--quick-add-key", fpr, primary, "sign", "never")
        self._cli(*back, "--quick-add-key", fpr, encryption, "encr", "never")
        if structure == "expired-revoked":
            self._cli(*back, "--quick-add-key", fpr, encryption, "encr", "1d")  # expired two days ago
            self._cli("--quick-add-key", fpr, encryption, "encr", "never")
            newest = [f for k in colon_listing(self._cli("--with-colons", "--list-keys", fpr))
                      for _, f in k.subkeys][-1]
            # select the subkey by fingerprint: revkey with nothing selected revokes the whole key
            self._cli("--command-fd", "0", "--edit-key", fpr,
                      data=f"key {newest}\nrevkey\ny\n0\n\ny\nsave\n".encode("ascii"))
        return fpr

    def public_key(self) -> str:
        """``gpg --export``, everything (the client's minimal export would drop expired subkeys)."""
        return self._cli("--armor", "--export", self.fingerprint).decode("utf-8")

    def sign(self, data: bytes) -> bytes:
        return self.gpg.sign(data, self.fingerprint, self.passphrase)

    def clearsign(self, data: bytes) -> bytes:
        return self.gpg.sign(data, self.fingerprint, self.passphrase, clearsign=True)

    def open(self, source: Path, output: Path, signer_key: str) -> Opened:
        """The encryption layer comes off with the party's key; the signature inside is
        checked in a throw-away home holding only ``signer_key``, so no other key can make
        it look valid."""
        with isolated([signer_key]) as verifier:
            inner = verifier.home / "inner.pgp"
            self.gpg.unwrap(source, inner, self.passphrase)
            _, check, name = verifier.open_signed(inner, output)
        return Opened(name, check.valid)

    def encrypt(self, data: bytes, recipient_key: str, sign: bool, filename: str) -> bytes:
        with self.scratch() as scratch:
            key, source, target = (Path(scratch) / n for n in ("recipient.asc", "input", "output"))
            key.write_text(recipient_key, encoding="ascii")
            source.write_bytes(data)
            signing = ("--sign", "--local-user", self.fingerprint) if sign else ()
            self._cli("--trust-model", "always", "--recipient-file", str(key), *signing, "--encrypt",
                      "--set-filename", filename, "--output", str(target), str(source))
            return target.read_bytes()

    def close(self) -> None:
        self.gpg.kill_agent()


# -- Sequoia -------------------------------------------------------------------------------


class Sequoia(Tool):
    """Sequoia's ``sq`` (Debian 0.27): stateless, the key in ``key.pgp``."""

    name = "sequoia"
    label = "Sequoia"
    programs = ("sq",)
    package = "sq"
    usual_layout = "certification-only primary key; signing, authentication and encryption subkeys"
    SUITES: ClassVar[dict[str, str]] = {"ed25519": "cv25519", "rsa3072": "rsa3k", "rsa4096": "rsa4k"}

    @property
    def key(self) -> Path:
        return self.directory / "key.pgp"

    @classmethod
    def cannot(cls, key_type: str, structure: str) -> str | None:
        if key_type in ("p256", "p384"):
            return "sq 0.27 makes only Cv25519, RSA-3072 and RSA-4096 keys (sq key generate --cipher-suite)"
        return super().cannot(key_type, structure)

    def _sq(self, *args: str, data: bytes | None = None) -> bytes:
        return run(["sq", *args], "sq", data)

    def _generate(self, target: Path, uid: str, suite: str, *extra: str) -> str:
        self._sq("key", "generate", "--userid", uid, "--cipher-suite", suite, "--export", str(target),
                 "--rev-cert", str(target.with_suffix(".rev")), *extra)
        listing = self._sq("inspect", str(target)).decode("utf-8", "replace")
        return str(_HEX40.findall(listing.split("Fingerprint:", 1)[1])[0]).upper()

    def _last_subkey(self, target: Path) -> str:
        return str(_HEX40.findall(self._sq("inspect", str(target)).decode("utf-8", "replace"))[-1]).upper()

    def make_key(self, uid: str, key_type: str, structure: str) -> str:
        """sq's own layout in every case: a certification-only primary key with signing,
        authentication and encryption subkeys (so signing is always done by a subkey).
        The expired and the revoked encryption subkeys come from keys of their own,
        bound to this one with ``sq key adopt``."""
        suite = self.SUITES[key_type]
        fingerprint = self._generate(self.key, uid, suite)
        if structure == "expired-revoked":
            old = self.directory / "expired.pgp"
            created = (datetime.now(UTC) - timedelta(days=3)).strftime("%Y%m%dT%H%M%SZ")
            self._generate(old, uid, suite, "--cannot-sign", "--creation-time", created, "--expires-in", "1d")
            spare = self.directory / "spare.pgp"
            self._generate(spare, uid, suite, "--cannot-sign")
            adopted = self.directory / "adopted.pgp"
            self._sq("key", "adopt", "--keyring", str(old), "--key", self._last_subkey(old), str(self.key),
                     "--output", str(adopted))
            revoked = self._last_subkey(spare)
            self._sq("--force", "key", "adopt", "--keyring", str(spare), "--key", revoked, str(adopted),
                     "--output", str(adopted))
            revocation = self.directory / "revocation.pgp"
            revocation.write_bytes(self._sq("revoke", "subkey", "--certificate", str(adopted), revoked,
                                            "superseded", "replaced by a newer subkey"))
            atomic_write(self.key, self._sq("keyring", "merge", str(adopted), str(revocation)), mode=0o600)
            for helper in (old, spare, adopted, revocation):
                helper.unlink()
        return fingerprint

    def public_key(self) -> str:
        return self._sq("key", "extract-cert", str(self.key)).decode("utf-8")  # Comment: the user id

    def sign(self, data: bytes) -> bytes:
        return self._sq("sign", "--detached", "--signer-key", str(self.key), data=data)

    def clearsign(self, data: bytes) -> bytes:
        return self._sq("sign", "--cleartext-signature", "--signer-key", str(self.key), data=data)

    def open(self, source: Path, output: Path, signer_key: str) -> Opened:
        """``sq decrypt --signer-cert`` fails unless one signature by that certificate
        verifies; a second try that asks for no signature tells a bad signature from a
        message sq cannot decrypt at all."""
        with self.scratch() as scratch:
            cert = Path(scratch) / "signer.asc"
            cert.write_text(signer_key, encoding="ascii")
            args = ["sq", "--force", "decrypt", "--dump", "--recipient-key", str(self.key),
                    "--signer-cert", str(cert), "--output", str(output), str(source)]
            done = subprocess.run(args, capture_output=True, timeout=TIMEOUT, check=False)
            if done.returncode != 0:
                run([*args[:-1], "--signatures", "0", str(source)], "sq could not decrypt")
        dump = (done.stdout + done.stderr).decode("utf-8", "replace")
        names = re.findall(r"^[\W]*Filename: (.*)$", dump, re.MULTILINE)
        return Opened(names[0] if names else "", done.returncode == 0)

    def encrypt(self, data: bytes, recipient_key: str, sign: bool, filename: str) -> bytes:
        """sq 0.27 sets no file name in the literal packet (the manifest carries it)."""
        del filename
        with self.scratch() as scratch:
            cert = Path(scratch) / "recipient.asc"
            cert.write_text(recipient_key, encoding="ascii")
            signing = ("--signer-key", str(self.key)) if sign else ()
            return self._sq("encrypt", "--binary", "--recipient-cert", str(cert), *signing, data=data)


# -- OpenPGP.js ----------------------------------------------------------------------------


class OpenPgpJs(Tool):
    """OpenPGP.js 6 in node, through ``tests/interop/openpgpjs.mjs`` (its npm packages
    from ``tests/interop/package-lock.json``, installed by ``make install``)."""

    name = "openpgpjs"
    label = "OpenPGP.js"
    programs = ("node",)
    package = "nodejs"
    SCRIPT = INTEROP_DIR / "openpgpjs.mjs"
    PACKAGE = INTEROP_DIR / "node_modules" / "openpgp" / "package.json"

    @classmethod
    def missing(cls) -> str | None:
        if super().missing():
            return super().missing()
        if not cls.SCRIPT.is_file():
            return f"the OpenPGP.js script {cls.SCRIPT} (a source checkout)"
        if not cls.PACKAGE.is_file():
            return "OpenPGP.js (npm ci in tests/interop - make install does it)"
        return None

    @classmethod
    @cache
    def version(cls) -> str:
        package = json.loads(cls.PACKAGE.read_text(encoding="utf-8"))
        return f"OpenPGP.js {package['version']} (node {super().version()})"

    @classmethod
    def cannot(cls, key_type: str, structure: str) -> str | None:
        if key_type in RFC9580_KEY_TYPES and structure == "default":
            return None
        return super().cannot(key_type, structure)

    def _node(self, *args: str) -> bytes:
        return run(["node", str(self.SCRIPT), *args, "--dir", str(self.directory)], "OpenPGP.js", cwd=INTEROP_DIR)

    def make_key(self, uid: str, key_type: str, structure: str) -> str:
        made = json.loads(self._node("generate", "--type", key_type, "--structure", structure, "--uid", uid))
        return str(made["fingerprint"]).upper()

    def public_key(self) -> str:
        return (self.directory / "public.asc").read_text(encoding="utf-8")

    def _with_input(self, command: str, data: bytes, *extra: str) -> bytes:
        with self.scratch() as scratch:
            source = Path(scratch) / "input"
            source.write_bytes(data)
            return self._node(command, "--in", str(source), *extra)

    def sign(self, data: bytes) -> bytes:
        return self._with_input("sign", data)

    def sign_with_notations(self, data: bytes, notations: dict[str, bytes]) -> bytes:
        """A detached signature carrying extra (binary) notations besides OpenPGP.js's salt."""
        pairs = [arg for name, value in notations.items() for arg in ("--notation", f"{name}={value.hex()}")]
        return self._with_input("sign", data, *pairs)

    def clearsign(self, data: bytes) -> bytes:
        return self._with_input("clearsign", data)

    def open(self, source: Path, output: Path, signer_key: str) -> Opened:
        with self.scratch() as scratch:
            cert = Path(scratch) / "signer.asc"
            cert.write_text(signer_key, encoding="ascii")
            opened = json.loads(self._node("decrypt", "--in", str(source), "--out", str(output),
                                           "--signer", str(cert)))
        return Opened(str(opened.get("filename") or ""), opened.get("signed") is True)

    def encrypt(self, data: bytes, recipient_key: str, sign: bool, filename: str) -> bytes:
        with self.scratch() as scratch:
            cert, source, target = (Path(scratch) / n for n in ("recipient.asc", "input", "output"))
            cert.write_text(recipient_key, encoding="ascii")
            source.write_bytes(data)
            self._node("encrypt", "--in", str(source), "--out", str(target), "--recipient", str(cert),
                       "--filename", filename, *(["--sign"] if sign else []))
            return target.read_bytes()


# -- rnp -------------------------------------------------------------------------------------


class Rnp(Tool):
    """rnp (Debian 0.16), the library of Thunderbird: a keyring folder of its own."""

    name = "rnp"
    label = "rnp"
    programs = ("rnp", "rnpkeys")
    package = "rnp"
    reports_file_name = False  # rnp writes the data where it is told, and never names it
    # answers to rnpkeys --expert: key kind, then curve or size
    CHOICES: ClassVar[dict[str, str]] = {
        "ed25519": "22\n", "rsa3072": "1\n3072\n", "rsa4096": "1\n4096\n", "p256": "19\n1\n", "p384": "19\n2\n",
    }

    @property
    def home(self) -> Path:
        return self.directory / "rnp"

    @classmethod
    def cannot(cls, key_type: str, structure: str) -> str | None:
        if structure != "default":
            return "rnpkeys 0.16 makes a primary key with one encryption subkey and cannot add subkeys"
        return super().cannot(key_type, structure)

    @staticmethod
    def fingerprints(home: Path) -> list[str]:
        listing = run(["rnpkeys", "--homedir", str(home), "--list-keys"], "rnpkeys").decode("utf-8", "replace")
        return [f.upper() for f in _HEX40.findall(listing)]

    def make_key(self, uid: str, key_type: str, structure: str) -> str:
        self.home.mkdir(mode=0o700, parents=True, exist_ok=True)
        run(["rnpkeys", "--homedir", str(self.home), "--generate-key", "--expert", "--userid", uid,
             "--password", "", "--notty"], "rnpkeys", self.CHOICES[key_type].encode("ascii"))
        return self.fingerprints(self.home)[0]

    def public_key(self) -> str:
        return run(["rnpkeys", "--homedir", str(self.home), "--export-key", self.fingerprint],
                   "rnpkeys").decode("utf-8")

    def _rnp(self, data: bytes, *args: str) -> bytes:
        with self.scratch() as scratch:
            source, target = Path(scratch) / "input", Path(scratch) / "output"
            source.write_bytes(data)
            run(["rnp", "--homedir", str(self.home), "-u", self.fingerprint, "--password", "",
                 *args, "--output", str(target), str(source)], "rnp")
            return target.read_bytes()

    def sign(self, data: bytes) -> bytes:
        return self._rnp(data, "--sign", "--detach", "--armor")

    def clearsign(self, data: bytes) -> bytes:
        return self._rnp(data, "--clearsign")

    def open(self, source: Path, output: Path, signer_key: str) -> Opened:
        """rnp exits 0 even when a signature is unknown or bad, so its report is read:
        every ``using ... key <id>`` must be one of the signer's keys, and rnp must call
        the signatures verified."""
        with self.scratch() as scratch:
            home, signer = Path(scratch) / "rnp", Path(scratch) / "signer"
            shutil.copytree(self.home, home)
            signer.mkdir(mode=0o700)
            cert = Path(scratch) / "signer.asc"
            cert.write_text(signer_key, encoding="ascii")
            run(["rnpkeys", "--homedir", str(signer), "--import", str(cert)], "rnpkeys")
            signer_ids = {f[-16:] for f in self.fingerprints(signer)}
            run(["rnpkeys", "--homedir", str(home), "--import", str(cert)], "rnpkeys")
            done = subprocess.run(["rnp", "--homedir", str(home), "--password", "", "--overwrite", "--decrypt",
                                   str(source), "--output", str(output)],
                                  capture_output=True, timeout=TIMEOUT, check=False)
        report = (done.stdout + done.stderr).decode("utf-8", "replace")
        if done.returncode != 0:
            with contextlib.suppress(FileNotFoundError):
                output.unlink()
            raise CryptoError(f"rnp could not decrypt: {report.strip().splitlines()[-1:] or ['?']}")
        used = {k.upper() for k in re.findall(r"using \w+ key ([0-9a-fA-F]{16})", report)}
        signed = bool(used) and used <= signer_ids and "Signature(s) verified successfully" in report
        return Opened("", signed)

    def encrypt(self, data: bytes, recipient_key: str, sign: bool, filename: str) -> bytes:
        """The recipient's key is imported into a copy of the party's keyring (rnp encrypts
        to keys of its keyring only); rnp sets the literal packet's name from the input file."""
        with self.scratch() as scratch:
            home, folder = Path(scratch) / "rnp", Path(scratch) / "in"
            shutil.copytree(self.home, home)
            folder.mkdir()
            cert = Path(scratch) / "recipient.asc"
            cert.write_text(recipient_key, encoding="ascii")
            before = set(self.fingerprints(home))
            run(["rnpkeys", "--homedir", str(home), "--import", str(cert)], "rnpkeys")
            recipient = next(f for f in self.fingerprints(home) if f not in before)
            source, target = folder / (Path(filename).name or "input"), Path(scratch) / "output"
            source.write_bytes(data)
            signing = ["-u", self.fingerprint, "--sign"] if sign else []
            run(["rnp", "--homedir", str(home), "--password", "", *signing, "--encrypt", "-r", recipient,
                 "--output", str(target), str(source)], "rnp")
            return target.read_bytes()


TOOLS: dict[str, type[Tool]] = {tool.name: tool for tool in (GnuPG, Sequoia, OpenPgpJs, Rnp)}
PREFERRED_PATIENT_APPS = ("openpgpjs", "sequoia")  # what most patients' apps are built on


def tool(name: str, directory: Path, fingerprint: str = "") -> Tool:
    if name not in TOOLS:
        raise CryptoError(f"unknown OpenPGP implementation '{name}' ({', '.join(TOOLS)})")
    return TOOLS[name](directory, fingerprint)


def preferred_implementation() -> str:
    """The non-GnuPG implementation to play a patient's app with, where this machine has
    one; GnuPG otherwise (the caller says so)."""
    return next((n for n in PREFERRED_PATIENT_APPS if TOOLS[n].missing() is None), GnuPG.name)

