"""trust import|list|remove through the real command line, with real certificates
built for each attack: every refusal is one line, pins nothing, imports no key, and
leaves the audit log intact."""

from __future__ import annotations

import json
import os
import pty
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import kill_agents, require, short_tmpdir

from practice_client.crypto.gpg import Gpg
from practice_client.testbed.identity import IdentityAuthority
from practice_client.testbed.patient import SimulatedPatient
from tests.support.trust import (
    ERIKA,
    PATIENTS_CSV,
    audit_ok,
    configure_home,
    copy_home,
    expired_key,
    gpg_cli,
    one_line_error,
    pins,
    revoked_key,
    run,
    sign_only_key,
)


@dataclass
class World:
    root: Path
    authority: IdentityAuthority
    rogue: IdentityAuthority
    erika: SimulatedPatient
    erika_new: SimulatedPatient  # the same person with a new phone / key: a re-pin
    other: SimulatedPatient
    expired: tuple[str, str]
    revoked: tuple[str, str]
    sign_only: tuple[str, str]
    template: Path
    practice_key: str


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    """Every key once per module (key generation is slow); the tests only read them."""
    import keyring

    require(shutil.which("gpg") is not None, "gpg")
    backend = type(keyring.get_keyring()).__module__
    require("fail" not in backend and "keyrings.alt" not in backend, "a real OS keyring backend")
    root = short_tmpdir("pctw")
    authority = IdentityAuthority.create(root / "auth")
    (root / "ident.asc").write_text(authority.public_key())
    template = root / "home"
    configure_home(template, root / "ident.asc", PATIENTS_CSV)
    os.environ["PRACTICE_CLIENT_HOME"] = str(template)
    practice_key = run("key", "export").stdout
    del os.environ["PRACTICE_CLIENT_HOME"]
    world = World(
        root=root, authority=authority, rogue=IdentityAuthority.create(root / "rogue"),
        erika=SimulatedPatient.create(root / "erika", **ERIKA),
        erika_new=SimulatedPatient.create(root / "erika2", **ERIKA),
        other=SimulatedPatient.create(root / "other", "Max Muster", "1970-01-01", "+4915123456789"),
        expired=expired_key(root / "expired"), revoked=revoked_key(root / "revoked"),
        sign_only=sign_only_key(root / "signonly"), template=template, practice_key=practice_key,
    )
    kill_agents(root)
    yield world
    kill_agents(root)
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def home(world: World, keyring_backend: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A configured client home (setup + master data), fresh for each test."""
    root = short_tmpdir("pch")
    copy_home(world.template, root)
    monkeypatch.setenv("PRACTICE_CLIENT_HOME", str(root))
    yield root
    kill_agents(root)
    shutil.rmtree(root, ignore_errors=True)


def attest(authority: IdentityAuthority, key: str, payload: dict[str, object] | bytes) -> str:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return key.strip() + "\n\n" + authority.clearsign(body)


def good_fields(w: World) -> dict[str, object]:
    return {"version": 1, "fingerprint": w.erika.fingerprint, **ERIKA, "ident": "video",
            "issued_at": "2026-01-02T10:00:00Z"}


def import_cert(home: Path, content: str | bytes, *args: str) -> subprocess.CompletedProcess[str]:
    path = home / "test.trust.asc"
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return run("trust", "import", str(path), *args)


def in_client_keyring(home: Path, fingerprint: str) -> bool:
    gpg = Gpg(home / "gnupg")
    try:
        return gpg.key_info(fingerprint) is not None
    finally:
        gpg.kill_agent()


def assert_nothing_changed(home: Path, result: subprocess.CompletedProcess[str], *fingerprints: str) -> None:
    assert one_line_error(result), result.stderr
    assert pins() == []
    assert audit_ok()
    for fpr in fingerprints:
        assert not in_client_keyring(home, fpr)
    events = [json.loads(x)["event"] for x in (home / "audit.jsonl").read_text().splitlines()]
    assert not any(e.startswith("trust.") for e in events)


# -- the happy path -------------------------------------------------------------------


def test_import_links_by_name_and_birth_date_and_pins(world: World, home: Path) -> None:
    result = import_cert(home, world.erika.trust_certificate(world.authority), "--yes")
    assert result.returncode == 0, result.stderr
    [pin] = pins()
    assert pin["fingerprint"] == world.erika.fingerprint and pin["patient_number"] == "1001"
    assert pin["phone"] == ERIKA["phone"] and pin["ident"] == "video"
    assert not in_client_keyring(home, world.erika.fingerprint)  # pinned keys stay in the database
    assert audit_ok()
    listed = run("trust", "list")
    assert world.erika.fingerprint[:4] in listed.stdout and "1001" in listed.stdout


def test_import_with_patient_number(world: World, home: Path) -> None:
    result = import_cert(home, world.erika.trust_certificate(world.authority), "--patient-number", "1001", "--yes")
    assert result.returncode == 0, result.stderr
    assert [p["patient_number"] for p in pins()] == ["1001"]


# -- refusals: each attack with a real certificate -----------------------------------------

Attack = Callable[[World], tuple[str | bytes, list[str], str, list[str]]]


def _wrong_signer(w: World):  # type: ignore[no-untyped-def]
    cert = w.erika.trust_certificate(w.rogue)
    return cert, [], "not signed by the platform's identity key", [w.erika.fingerprint]


def _glued_second_attestation(w: World):  # type: ignore[no-untyped-def]
    evil = dict(good_fields(w), phone="+491709999999")
    cert = w.erika.trust_certificate(w.authority) + "\n" + w.rogue.clearsign(json.dumps(evil).encode())
    return cert, [], "not a trust certificate", [w.erika.fingerprint]


def _glued_genuine_attestation_twice(w: World):  # type: ignore[no-untyped-def]
    cert = w.erika.trust_certificate(w.authority)
    signed = cert[cert.index("-----BEGIN PGP SIGNED MESSAGE-----"):]
    return cert + "\n" + signed, [], "not a trust certificate", [w.erika.fingerprint]


def _text_appended(w: World):  # type: ignore[no-untyped-def]
    cert = w.erika.trust_certificate(w.authority) + '\n{"phone": "+491709999999"}\n'
    return cert, [], "not a trust certificate", [w.erika.fingerprint]


def _text_prepended(w: World):  # type: ignore[no-untyped-def]
    cert = "Verified patient: Max Muster\n" + w.erika.trust_certificate(w.authority)
    return cert, [], "not a trust certificate", [w.erika.fingerprint]


def _second_key_block(w: World):  # type: ignore[no-untyped-def]
    cert = w.other.public_key() + "\n" + w.erika.trust_certificate(w.authority)
    return cert, [], "not a trust certificate", [w.erika.fingerprint, w.other.fingerprint]


def _two_keys_in_one_block(w: World):  # type: ignore[no-untyped-def]
    scratch = w.root / "two"
    both = Gpg(scratch)
    both.import_keys(w.erika.public_key())
    both.import_keys(w.other.public_key())
    block = gpg_cli(scratch, "--armor", "--export", w.erika.fingerprint, w.other.fingerprint)
    return attest(w.authority, block, good_fields(w)), [], "exactly one key", [w.erika.fingerprint]


def _fingerprint_mismatch(w: World):  # type: ignore[no-untyped-def]
    cert = w.authority.issue(w.other.public_key(), fingerprint=w.erika.fingerprint, **ERIKA)
    return cert, [], "names key", [w.erika.fingerprint, w.other.fingerprint]


def _expired(w: World):  # type: ignore[no-untyped-def]
    fpr, key = w.expired
    return w.authority.issue(key, fingerprint=fpr, **ERIKA), [], "has expired", [fpr]


def _revoked(w: World):  # type: ignore[no-untyped-def]
    fpr, key = w.revoked
    return w.authority.issue(key, fingerprint=fpr, **ERIKA), [], "revoked", [fpr]


def _no_encryption_subkey(w: World):  # type: ignore[no-untyped-def]
    fpr, key = w.sign_only
    return w.authority.issue(key, fingerprint=fpr, **ERIKA), [], "no usable encryption subkey", [fpr]


def _tampered_attestation(w: World):  # type: ignore[no-untyped-def]
    cert = w.erika.trust_certificate(w.authority).replace(ERIKA["phone"], "+491709999999")
    return cert, [], "not signed by the platform's identity key", [w.erika.fingerprint]


def _garbage(w: World):  # type: ignore[no-untyped-def]
    return bytes(range(256)) * 4, [], "not a trust certificate", []


def _empty(w: World):  # type: ignore[no-untyped-def]
    return b"", [], "not a trust certificate", []


def _truncated_armor(w: World):  # type: ignore[no-untyped-def]
    cert = w.erika.trust_certificate(w.authority)
    return cert[: len(cert) - 40], [], "not a trust certificate", [w.erika.fingerprint]


def _damaged_key_block(w: World):  # type: ignore[no-untyped-def]
    cert = w.erika.trust_certificate(w.authority)
    lines = cert.splitlines(keepends=True)
    del lines[3]  # a line of the key's base64
    return "".join(lines), [], "damaged", [w.erika.fingerprint]


def _unknown_patient_number(w: World):  # type: ignore[no-untyped-def]
    cert = w.erika.trust_certificate(w.authority)
    return cert, ["--patient-number", "9999"], "not in the patient master data", [w.erika.fingerprint]


def _other_patients_number(w: World):  # type: ignore[no-untyped-def]
    cert = w.erika.trust_certificate(w.authority)
    return cert, ["--patient-number", "1002"], "differs from the master data", [w.erika.fingerprint]


def _ambiguous_patient(w: World):  # type: ignore[no-untyped-def]
    cert = w.authority.issue(w.other.public_key(), fingerprint=w.other.fingerprint, name="Hans Zwilling",
                             birth_date="1980-05-05", phone="+4915123456789")
    return cert, [], "2 patients", [w.other.fingerprint]


def _unknown_patient(w: World):  # type: ignore[no-untyped-def]
    cert = w.authority.issue(w.other.public_key(), fingerprint=w.other.fingerprint, name="Nobody Known",
                             birth_date="1990-01-01", phone="+4915123456789")
    return cert, [], "no patient", [w.other.fingerprint]


def _identity_key_as_patient(w: World):  # type: ignore[no-untyped-def]
    cert = w.authority.issue(w.authority.public_key(), fingerprint=w.authority.fingerprint, **ERIKA)
    return cert, [], "own key", []


def _practice_key_as_patient(w: World):  # type: ignore[no-untyped-def]
    fpr = Gpg(w.root / "pk").import_keys(w.practice_key)[0]
    cert = w.authority.issue(w.practice_key, fingerprint=fpr, **ERIKA)
    return cert, [], "own key", []


def _bad_json(**changes: object) -> Attack:
    def build(w: World):  # type: ignore[no-untyped-def]
        fields = good_fields(w)
        for key, value in changes.items():
            if value is None:
                fields.pop(key)
            else:
                fields[key] = value
        return attest(w.authority, w.erika.public_key(), fields), [], "attestation", [w.erika.fingerprint]
    return build


def _not_json(w: World):  # type: ignore[no-untyped-def]
    return attest(w.authority, w.erika.public_key(), b"fingerprint: x\n"), [], "not valid JSON", []


def _duplicate_field(w: World):  # type: ignore[no-untyped-def]
    body = json.dumps(good_fields(w))[:-1] + ', "phone": "+491709999999"}'
    return attest(w.authority, w.erika.public_key(), body.encode()), [], "duplicate", []


ATTACKS: dict[str, Attack] = {
    "wrong-signer": _wrong_signer,
    "glued-second-attestation": _glued_second_attestation,
    "glued-genuine-attestation-twice": _glued_genuine_attestation_twice,
    "text-appended": _text_appended,
    "text-prepended": _text_prepended,
    "second-key-block": _second_key_block,
    "two-keys-in-one-block": _two_keys_in_one_block,
    "fingerprint-mismatch": _fingerprint_mismatch,
    "expired-key": _expired,
    "revoked-key": _revoked,
    "no-encryption-subkey": _no_encryption_subkey,
    "tampered-attestation": _tampered_attestation,
    "garbage": _garbage,
    "empty": _empty,
    "truncated-armor": _truncated_armor,
    "damaged-key-block": _damaged_key_block,
    "unknown-patient-number": _unknown_patient_number,
    "other-patients-number": _other_patients_number,
    "ambiguous-patient": _ambiguous_patient,
    "unknown-patient": _unknown_patient,
    "identity-key-as-patient": _identity_key_as_patient,
    "practice-key-as-patient": _practice_key_as_patient,
    "version-2": _bad_json(version=2),
    "phone-not-e164": _bad_json(phone="0171 1234567"),
    "birth-date-invalid": _bad_json(birth_date="1964-02-30"),
    "missing-field": _bad_json(ident=None),
    "unknown-field": _bad_json(photo="data"),
    "issued-in-future": _bad_json(issued_at="2999-01-01T00:00:00Z"),
    "fingerprint-not-hex": _bad_json(fingerprint="Z" * 40),
    "not-json": _not_json,
    "duplicate-field": _duplicate_field,
}


@pytest.mark.parametrize("attack", list(ATTACKS), ids=list(ATTACKS))
def test_refusals_pin_nothing(world: World, home: Path, attack: str) -> None:
    content, args, needle, fingerprints = ATTACKS[attack](world)
    result = import_cert(home, content, *args, "--yes")
    assert needle in result.stderr, result.stderr
    assert_nothing_changed(home, result, *fingerprints)


def test_missing_file_is_one_line(home: Path) -> None:
    result = run("trust", "import", str(home / "nope.trust.asc"), "--yes")
    assert one_line_error(result) and "nope.trust.asc" in result.stderr


# -- re-pin, remove, confirmation -----------------------------------------------------


def test_second_key_needs_explicit_replace(world: World, home: Path) -> None:
    assert import_cert(home, world.erika.trust_certificate(world.authority), "--yes").returncode == 0
    new_cert = world.erika_new.trust_certificate(world.authority)
    refused = import_cert(home, new_cert, "--yes")
    assert one_line_error(refused) and "--replace" in refused.stderr
    assert [p["fingerprint"] for p in pins()] == [world.erika.fingerprint]
    assert not in_client_keyring(home, world.erika_new.fingerprint)
    assert audit_ok()

    again = import_cert(home, world.erika.trust_certificate(world.authority), "--yes")
    assert one_line_error(again) and "already pinned" in again.stderr

    replaced = import_cert(home, new_cert, "--yes", "--replace")
    assert replaced.returncode == 0, replaced.stderr
    assert [(p["fingerprint"], p["patient_number"]) for p in pins()] == [(world.erika_new.fingerprint, "1001")]
    assert not in_client_keyring(home, world.erika_new.fingerprint)  # pinned keys stay in the database
    assert not in_client_keyring(home, world.erika.fingerprint)
    entries = [json.loads(x) for x in (home / "audit.jsonl").read_text().splitlines()]
    repin = [e for e in entries if e["event"] == "trust.repinned"]
    assert len(repin) == 1 and repin[0]["details"]["replaced"] == [world.erika.fingerprint]
    assert audit_ok()


def test_remove_unpins(world: World, home: Path) -> None:
    assert import_cert(home, world.erika.trust_certificate(world.authority), "--yes").returncode == 0
    refused = run("trust", "remove", world.erika.fingerprint)  # no terminal, no --yes
    assert one_line_error(refused) and len(pins()) == 1
    removed = run("trust", "remove", "--yes", world.erika.fingerprint.lower())
    assert removed.returncode == 0, removed.stderr
    assert pins() == [] and not in_client_keyring(home, world.erika.fingerprint)
    entries = [json.loads(x)["event"] for x in (home / "audit.jsonl").read_text().splitlines()]
    assert entries[-1] == "trust.removed" and audit_ok()
    unknown = run("trust", "remove", "--yes", world.erika.fingerprint)
    assert one_line_error(unknown) and "no trust certificate" in unknown.stderr
    assert one_line_error(run("trust", "remove", "--yes", "not-a-fingerprint"))


def test_without_yes_and_without_terminal_nothing_is_pinned(world: World, home: Path) -> None:
    result = import_cert(home, world.erika.trust_certificate(world.authority))
    assert "confirmation needed" in result.stderr
    assert_nothing_changed(home, result, world.erika.fingerprint)


def _interactive_import(path: Path, answer: str) -> subprocess.CompletedProcess[str]:
    """Run the import with a real terminal on stdin and type ``answer``."""
    master, slave = pty.openpty()
    try:
        os.write(master, answer.encode() + b"\n")
        return subprocess.run(
            [sys.executable, "-m", "practice_client", "trust", "import", str(path)],
            stdin=slave, capture_output=True, text=True, timeout=120, env=os.environ.copy(),
        )
    finally:
        os.close(master)
        os.close(slave)


def test_interactive_confirmation_shows_fingerprint_groups(world: World, home: Path) -> None:
    path = home / "erika.trust.asc"
    path.write_text(world.erika.trust_certificate(world.authority))
    declined = _interactive_import(path, "n")
    assert one_line_error(declined) and "not confirmed" in declined.stderr
    grouped = " ".join(world.erika.fingerprint[i:i + 4] for i in range(0, 40, 4))
    assert grouped in declined.stdout and ERIKA["phone"] in declined.stdout and "1964-08-12" in declined.stdout
    assert pins() == [] and not in_client_keyring(home, world.erika.fingerprint)
    accepted = _interactive_import(path, "j")
    assert accepted.returncode == 0, accepted.stderr
    assert [p["fingerprint"] for p in pins()] == [world.erika.fingerprint]


def test_import_before_setup_is_refused(world: World, client_home: Path) -> None:
    path = client_home / "erika.trust.asc"
    path.write_text(world.erika.trust_certificate(world.authority))
    result = run("trust", "import", str(path), "--yes")
    assert one_line_error(result) and "setup" in result.stderr


def test_attestation_with_a_second_signature_is_refused(world: World, work_dir: Path) -> None:
    """Signed by the identity key *and* another key: "the identity key and no other"."""
    from practice_client.core.errors import InputError
    from practice_client.crypto.trust import verify_certificate_text

    home = work_dir / "two-signers"
    gpg_cli(home, "--quick-gen-key", "Ident <ident@test.invalid>", "ed25519", "sign", "never")
    gpg_cli(home, "--quick-gen-key", "Other <other@test.invalid>", "ed25519", "sign", "never")
    listing = gpg_cli(home, "--list-keys", "--with-colons").splitlines()
    ident, other = [line.split(":")[9] for line in listing if line.startswith("fpr:")][:2]
    payload = home / "attestation.json"
    payload.write_text(json.dumps(good_fields(world)))
    gpg_cli(home, "--clearsign", "--local-user", ident, "--local-user", other, "-o", str(home / "a.asc"),
            str(payload))
    cert = world.erika.public_key().strip() + "\n\n" + (home / "a.asc").read_text()
    ident_key = gpg_cli(home, "--armor", "--export", ident)
    with pytest.raises(InputError, match="not signed by the platform's identity key"):
        verify_certificate_text(cert, "two.trust.asc", ident_key, ident)
    # the same attestation signed by the identity key alone is accepted
    gpg_cli(home, "--clearsign", "--local-user", ident, "-o", str(home / "b.asc"), str(payload))
    alone = world.erika.public_key().strip() + "\n\n" + (home / "b.asc").read_text()
    assert verify_certificate_text(alone, "one.trust.asc", ident_key, ident).fingerprint == world.erika.fingerprint
    assert other != ident
