"""The practice service takes over an existing single-user home: its practice key, pins,
requests, documents on their way (spool and outbox), audit log, settings and secrets.

``practice-client service adopt --from HOME`` runs once, with the service stopped, as the
user whose OS keyring holds that home's secrets and with the service's vault key at hand
(docs/admin.md says how on each system). Nothing is ever half-done:

1. checks: the home is set up and not in use (its agent's lock is free), the service is
   not running, the service's home holds no practice of its own;
2. a staging folder inside the service's home receives copies - the database through
   SQLite's backup API (a consistent snapshot of a WAL database), the rest file by file -
   and is checked: the database opens with the adopted key, the practice key is in the
   copied GnuPG home;
3. a marker (``adopting.json``) is written; the secrets go into the service's vault, the
   staged entries move into place by rename, the configuration last; the marker goes.
   A crash in between leaves the marker: the service refuses to start, and running
   ``adopt`` again finishes the job from the staging folder;
4. the old home's practice data is moved aside into ``adopted-by-service/`` (so no
   second agent delivers from it); the admin deletes that folder once the service works.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from practice_client.core.atomic import atomic_write, fsync_dir
from practice_client.core.config import read_user_config, save_settings
from practice_client.core.errors import InputError, StateError
from practice_client.core.paths import Home
from practice_client.core.policy import Policy
from practice_client.core.secrets import DATABASE_KEY, HOME_SECRETS, PRACTICE_KEY_PASSPHRASE, SecretStore

MARKER = "adopting.json"
STAGING = "adopting"
ASIDE = "adopted-by-service"
# what a home holds of its practice, moved in this order (the configuration last: it is
# what makes the service's home a set-up practice)
ENTRIES = ("gnupg", "spool", "audit.jsonl", "platform-ca.pem", "state.sqlite3", "config.toml")
_NOT_COPIED = ("S.", ".#", "random_seed")  # gpg-agent sockets, lock files, the RNG seed


@dataclass(frozen=True)
class Adopted:
    practice_key: str
    requests: int
    documents: int
    moved_aside: Path


def unfinished(service_home: Home) -> bool:
    return (service_home.root / MARKER).exists()


def adopt(source: Home, source_secrets: SecretStore, target: Home, vault: SecretStore,
          policy: Policy) -> Adopted:
    """Adopt ``source`` into the service's home ``target`` (see the module doc)."""
    from practice_client.delivery.locks import FileLock

    target.root.mkdir(parents=True, exist_ok=True)
    staging = target.root / STAGING
    if not unfinished(target):
        _check_source(source)
        _check_target(target)
        shutil.rmtree(staging, ignore_errors=True)  # a staging folder left by a check that failed
        secrets = {name: value for name in HOME_SECRETS if (value := source_secrets.get(name)) is not None}
        for name in (DATABASE_KEY, PRACTICE_KEY_PASSPHRASE):
            if name not in secrets:
                raise StateError(f"{source.root}: the OS keyring of this user has no '{name}' for this home "
                                 "(run adopt as the user who set the practice up)")
        lock = FileLock(source.root / "agent.lock")
        if not lock.acquire():
            raise StateError(f"{source.root}: the agent or the app runs on this home: close them first")
        try:
            _stage(source, staging, target)
        finally:
            lock.release()
        summary = _verify(staging, secrets, policy)
        atomic_write(target.root / MARKER, json.dumps({"source": str(source.root), **summary}).encode())
        for name, value in secrets.items():
            vault.set(name, value)
    summary = json.loads((target.root / MARKER).read_text(encoding="utf-8"))
    for name in ENTRIES:
        staged = staging / name
        if staged.exists():
            os.replace(staged, target.root / name)
    fsync_dir(target.root)
    aside = _move_aside(Path(summary["source"]))
    shutil.rmtree(staging, ignore_errors=True)
    (target.root / MARKER).unlink()
    return Adopted(summary["practice_key"], summary["requests"], summary["documents"], aside)


def _check_source(source: Home) -> None:
    if source.service_connection.exists():
        raise InputError(source.root, "a workstation's home (connected to a service), not a practice")
    if not source.database.exists() or not read_user_config(source.config).get("practice_key_fingerprint"):
        raise InputError(source.root, "no practice set up in this home (nothing to adopt)")


def _check_target(target: Home) -> None:
    from practice_client.service.files import ServiceFiles

    files = ServiceFiles(target)
    if files.endpoint.exists():
        raise StateError(f"{target.root}: the practice service is running: stop it first")
    if read_user_config(target.config).get("practice_key_fingerprint"):
        raise StateError(f"{target.root}: the service has a practice of its own already (not replaced)")
    if target.database.exists():
        _refuse_if_has_rows(target.database)


def _refuse_if_has_rows(database: Path) -> None:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        for table in ("requests", "documents", "pins", "workstations"):
            if table in tables and db.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone():  # noqa: S608
                raise StateError(f"{database}: the service has {table} of its own already (not replaced; "
                                 "adopt a home into a new service, then pair the workstations)")
    # an empty database of a service that ran before set-up: replaced by the adopted one


def _stage(source: Home, staging: Path, target: Home) -> None:
    staging.mkdir(mode=0o700)
    for name in ENTRIES:
        path = source.root / name
        if name == "state.sqlite3":
            _backup_database(path, staging / name)
        elif path.is_dir():
            shutil.copytree(path, staging / name, ignore=_skip, symlinks=False)
        elif path.exists():
            shutil.copy2(path, staging / name)
    config = staging / "config.toml"
    raw = read_user_config(config)
    moved = {key: str(target.root / Path(value).relative_to(source.root)) for key, value in raw.items()
             if isinstance(value, str) and _inside(value, source.root)}
    if moved:
        save_settings(config, moved, Policy())
    for path in staging.rglob("*"):
        if path.is_file():
            with path.open("rb+") as handle:
                os.fsync(handle.fileno())


def _skip(_folder: str, names: list[str]) -> set[str]:
    return {n for n in names if n.startswith(_NOT_COPIED) or n.endswith(".lock")}


def _inside(value: str, root: Path) -> bool:
    try:
        Path(value).relative_to(root)
    except ValueError:
        return False
    return True


def _backup_database(source: Path, copy: Path) -> None:
    with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as src, sqlite3.connect(copy) as dst:
        src.backup(dst)
    with sqlite3.connect(copy) as db:
        db.execute("PRAGMA journal_mode=DELETE")  # one file: nothing beside it to move


def _verify(staging: Path, secrets: dict[str, str], policy: Policy) -> dict[str, Any]:
    """The staged copy is a working practice with the adopted secrets."""
    from practice_client.context import Context

    ctx = Context(Home(staging), policy, secrets=_Given(secrets))
    try:
        config = ctx.require_setup()
        fingerprint = config.practice_key_fingerprint
        if not ctx.gpg.has_secret_key(fingerprint):
            raise StateError(f"{staging}: the practice key {fingerprint} is not in the home's GnuPG folder")
        ctx.gpg.sign(b"adoption check", fingerprint, ctx.practice_passphrase())  # key and passphrase fit
        requests = len(ctx.store.list_requests())
        documents = len(ctx.store.list_documents())
        ctx.store.record("service.adopted_home", practice_key=fingerprint, requests=requests, documents=documents)
    finally:
        ctx.close()
    return {"practice_key": fingerprint, "requests": requests, "documents": documents}


def _move_aside(source: Path) -> Path:
    """The old home keeps its data, out of the way of a second agent."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    aside = source / f"{ASIDE}-{stamp}"
    aside.mkdir(mode=0o700)
    for name in (*ENTRIES, "state.sqlite3-wal", "state.sqlite3-shm"):
        if (source / name).exists():
            os.replace(source / name, aside / name)
    fsync_dir(source)
    return aside


class _Given:
    """The adopted secrets, for checking the staged copy before the vault has them; a
    secret the copy creates on opening (the audit key of a home from before it had one)
    joins them and goes into the vault with them."""

    service = "adoption"

    def __init__(self, values: dict[str, str]) -> None:
        self._values = values

    def get(self, name: str) -> str | None:
        return self._values.get(name)

    def require(self, name: str) -> str:
        value = self._values.get(name)
        if value is None:
            raise StateError(f"the adopted home has no secret '{name}'")
        return value

    def set(self, name: str, value: str) -> None:
        self._values[name] = value

    def delete(self, name: str) -> None:
        raise StateError(f"adoption: the staged copy must not delete the secret '{name}'")

    def get_or_create(self, name: str, nbytes: int = 32) -> str:
        import secrets as _random

        return self._values.setdefault(name, _random.token_urlsafe(nbytes))
