"""The composition root: one home, its config, secrets, store and GnuPG, and the one
place a client of the configured platform is built (:meth:`Context.platform`).

The CLI, the agent and the GUI's service all open a :class:`Context` and hand it
to the domain functions (crypto, intake, delivery). Opening is cheap; the store
and GnuPG are created on first use, so commands that need neither (``--help``,
``testbed``) never touch the keyring.
"""

from __future__ import annotations

import threading
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from practice_client.core.audit import AuditLog, ChainKey
from practice_client.core.config import Config, load_config, require_configured, save_settings
from practice_client.core.errors import NotConfigured
from practice_client.core.fieldcrypt import FieldCipher
from practice_client.core.logs import debug_requested, register_sensitive, setup_logging
from practice_client.core.paths import Home, resolve_home
from practice_client.core.policy import Policy, read_policy
from practice_client.core.sealedfile import derive_key
from practice_client.core.secrets import (
    AUDIT_KEY,
    DATABASE_KEY,
    PLATFORM_TOKEN,
    PRACTICE_KEY_PASSPHRASE,
    PROXY_PASSWORD,
    Secrets,
    SecretStore,
)
from practice_client.core.store import Store, database_key_bytes
from practice_client.core.text import Text

if TYPE_CHECKING:
    from practice_client.crypto.gpg import Gpg
    from practice_client.platform.api import PlatformClient
    from practice_client.platform.http import Profile, ProfileName
    from practice_client.platform.proxy import ProxyResolver


class Context:
    """Everything a command needs, for one home."""

    def __init__(self, home: Home | None = None, policy: Policy | None = None,
                 secrets: SecretStore | None = None) -> None:
        self.home = (home or resolve_home()).ensure()
        self.policy = read_policy() if policy is None else policy
        self.config: Config = load_config(self.home.config, self.policy)
        # the user's keyring; the practice service passes its vault
        self.secrets: SecretStore = secrets or Secrets(self.home.instance_id())
        self._lock = threading.Lock()
        # set by the agent's stop: every platform client of this context sends nothing more
        # and gives up its retry waits, so a stop never waits out a backoff schedule
        self.stopping = threading.Event()
        setup_logging(self.home.logs, debug=debug_requested(self.config.debug_logging,
                                                            self.config.is_locked("debug_logging")))

    def update_config(self, **changes: object) -> Config:
        """Persist settings atomically (refusing policy-locked keys) and reload."""
        self.config = save_settings(self.home.config, dict(changes), self.policy)
        return self.config

    def require_setup(self) -> Config:
        return require_configured(self.config, self.home.config)

    def _practice_home(self) -> None:
        """A workstation's home holds no practice: its data is the practice service's."""
        if self.home.service_connection.exists():
            from practice_client.core.errors import StateError

            raise StateError(Text(
                f"{self.home.root}: dieser Arbeitsplatz arbeitet über den Praxis-Dienst: die App benutzen oder "
                "'request accept'/'request decline' (alles andere am Praxis-Server)",
                f"{self.home.root}: this workstation works through the practice service: use the app, "
                "or 'request accept'/'request decline' (the rest at the practice server)"))

    @cached_property
    def store(self) -> Store:
        self._practice_home()
        key = self.secrets.get_or_create(DATABASE_KEY)
        register_sensitive(key)
        audit_key = self.secrets.get(AUDIT_KEY)
        new_audit_key = audit_key is None  # a log keyed before cannot have an untagged head
        audit_key = audit_key or self.secrets.get_or_create(AUDIT_KEY)
        register_sensitive(audit_key)
        audit = AuditLog(self.home.audit, ChainKey(database_key_bytes(audit_key)), new_key=new_audit_key)
        return Store(self.home.database, audit, FieldCipher(database_key_bytes(key)))

    @cached_property
    def spool_key(self) -> bytes:
        """The key of originals sealed at rest in the spool, derived from the database key
        (in the OS keyring, never on disk)."""
        key = self.secrets.get_or_create(DATABASE_KEY)
        register_sensitive(key)
        return derive_key(database_key_bytes(key), b"practice-client spool v1")

    @cached_property
    def gpg(self) -> Gpg:
        self._practice_home()
        from practice_client.crypto.gpg import Gpg
        from practice_client.crypto.gpg_binary import select_gpg

        # resolved and its version checked once, here: a clear message before any work
        return Gpg(self.home.gnupg, binary=select_gpg(self.config.gpg_binary).path)

    def platform(self, profile: ProfileName | Profile = "background") -> PlatformClient:
        """A client of the configured platform: server URL, CA file and pins from the
        config, the token from the OS keyring, the route of :meth:`proxy_resolver`.
        ``profile``: ``interactive`` where staff wait for the answer (gives up quickly),
        ``background`` for the agent (patient) - or a Profile of its own (tests)."""
        from practice_client.platform.api import PlatformClient
        from practice_client.platform.http import PROFILES

        cfg = self.config
        if not cfg.server_url:
            raise NotConfigured(
                f"{self.home.config}: no platform server is configured - run 'practice-client setup'"
            )
        chosen = PROFILES[profile] if isinstance(profile, str) else profile
        return PlatformClient(
            cfg.server_url, self.secrets.require(PLATFORM_TOKEN),
            ca_file=Path(cfg.ca_file) if cfg.ca_file else None, spki_pins=cfg.pins(),
            proxy=self.proxy_resolver(), retry=chosen.retry, timeouts=chosen.timeouts,
            stopping=self.stopping,
        )

    def proxy_resolver(self) -> ProxyResolver:
        """The route to servers as configured (``proxy``, ``proxy_pac_url``, ``proxy_user``
        and its password from the keyring), for the platform API and IMAP alike."""
        from practice_client.platform.proxy import ProxyConfig, ProxyResolver

        cfg = self.config
        password = (self.secrets.get(PROXY_PASSWORD) or "") if cfg.proxy_user else ""
        config = ProxyConfig(cfg.proxy.strip() or "system", cfg.proxy_pac_url.strip(), cfg.proxy_user, password)
        config.check(str(self.home.config))
        return ProxyResolver(config)

    def practice_passphrase(self) -> str:
        value = self.secrets.require(PRACTICE_KEY_PASSPHRASE)
        register_sensitive(value)
        return value

    def close(self) -> None:
        if "store" in self.__dict__:
            self.store.close()
        if "gpg" in self.__dict__:
            self.gpg.kill_agent()
