"""Which request sources the config enables, each wired to one inbox.

The one place that knows both sides: the sources (:mod:`practice_client.intake.sources`)
and the inbox they deliver to (:mod:`practice_client.intake.inbox`), so neither imports
the other. The agent, ``request fetch`` and the demo take their sources from here.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from practice_client.core.errors import NotConfigured
from practice_client.core.secrets import IMAP_PASSWORD
from practice_client.intake.decisions import flush_decisions
from practice_client.intake.inbox import Inbox
from practice_client.intake.sources import Source
from practice_client.intake.sources.folder import FolderSource
from practice_client.intake.sources.imap import ImapSource, proxied_socket
from practice_client.intake.sources.platform import PlatformSource

if TYPE_CHECKING:
    from practice_client.context import Context
    from practice_client.platform.api import PlatformClient
    from practice_client.platform.http import ProfileName


def configured_sources(ctx: Context, inbox: Inbox | None = None, profile: ProfileName = "background") -> list[Source]:
    """Every request source the config enables: platform API, IMAP mailbox, .eml folder.

    Stored-but-unverified messages (a crash last time) are verified first. ``profile``
    ``interactive`` lets the command line give up sooner than the agent."""
    inbox = inbox or Inbox(ctx)
    inbox.process_pending()
    cfg = ctx.config
    sources: list[Source] = []
    if cfg.server_url and not cfg.offline:
        sources.append(platform_source(ctx, inbox, lambda: ctx.platform(profile)))
    if cfg.imap_host:
        sources.append(imap_source(ctx, inbox))
    if cfg.eml_dir:
        sources.append(folder_source(ctx, inbox))
    return sources


def platform_source(ctx: Context, inbox: Inbox, client: Callable[[], PlatformClient] | None = None) -> PlatformSource:
    """The platform's inbox; ``client`` makes the client of each poll (the configured
    platform's, patient, unless given)."""
    return PlatformSource(
        client or ctx.platform, ctx.store, deliver=inbox.receive, settle=inbox.process_pending,
        decisions=lambda api: flush_decisions(ctx, api),
    )


def imap_source(ctx: Context, inbox: Inbox) -> ImapSource:
    """The configured mailbox: its password from the OS keyring, along the proxy route."""
    cfg = ctx.config
    if not cfg.imap_host or not cfg.imap_user:
        raise NotConfigured(f"{ctx.home.config}: IMAP host or user is not configured")
    return ImapSource(
        host=cfg.imap_host, port=cfg.imap_port, user=cfg.imap_user,
        password=ctx.secrets.require(IMAP_PASSWORD), folder=cfg.imap_folder,
        processed_folder=cfg.imap_processed_folder, ca_file=cfg.imap_ca_file,
        deliver=inbox.receive, settle=inbox.process_pending,
        socket_factory=proxied_socket(ctx.proxy_resolver()),
    )


def folder_source(ctx: Context, inbox: Inbox, directory: Path | None = None) -> FolderSource:
    """The folder of saved request mails (``eml_dir``, unless given)."""
    return FolderSource(Path(directory or ctx.config.eml_dir), deliver=inbox.receive, settle=inbox.process_pending)
