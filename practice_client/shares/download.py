"""Which shares the platform lists, and their downloads.

Listing: ``GET /v1/shares`` page by page from the stored cursor; each page's new rows and
the next cursor go into the store in one transaction (a crash never skips a share).
Downloads: both parts of a share into its private folder in the client's home, streamed
and bounded by ``max_share_mb`` (a larger share is never fetched), resumed with HTTP
Range after any interruption (:meth:`PlatformClient.download_share`).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from practice_client.shares.verify import DOCUMENT, MANIFEST, MAX_MANIFEST_BYTES

if TYPE_CHECKING:
    from practice_client.context import Context
    from practice_client.core.models import Share
    from practice_client.platform.api import PlatformClient

MAX_PAGES = 100  # per poll; the next poll goes on from the cursor


def shares_root(ctx: Context) -> Path:
    """``<home>/shares``: one private folder per share (ciphertexts, encrypted to the
    practice key; a work folder only while a step needs the plaintext)."""
    root = ctx.home.root / "shares"
    root.mkdir(mode=0o700, exist_ok=True)
    if os.name == "posix":
        os.chmod(root, 0o700)
    return root


def share_folder(ctx: Context, share_id: str) -> Path:
    folder = shares_root(ctx) / share_id
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


def max_bytes(ctx: Context) -> int:
    return max(1, ctx.config.max_share_mb) * 1024 * 1024


def poll_listing(ctx: Context, client: PlatformClient) -> list[str]:
    """New shares' ids (their rows written), following the listing's pages."""
    added: list[str] = []
    cursor = ctx.store.get_meta("shares_cursor")
    for _ in range(MAX_PAGES):
        listed, next_cursor = client.shares(cursor)
        added += ctx.store.add_shares([(s.share_id, s.size, s.manifest_size) for s in listed], next_cursor)
        if not listed or next_cursor in (None, cursor):
            break
        cursor = next_cursor
    return added


def download(ctx: Context, client: PlatformClient, share: Share, cancel: threading.Event) -> Path:
    """Both parts complete in the share's folder (resumed where they stopped); the folder.
    Raises AnswerTooLarge above the limit, PlatformRefused when the platform has it no
    more, NetworkError otherwise (tried again later)."""
    folder = share_folder(ctx, share.share_id)
    for part, name, size, limit in (("manifest", MANIFEST, share.manifest_size, MAX_MANIFEST_BYTES * 2),
                                    ("document", DOCUMENT, share.size, max_bytes(ctx) * 2)):
        # the ciphertext of a document of the limit is a little larger: twice bounds both
        if not (folder / name).exists():
            client.download_share(share.share_id, part, folder / name, size, limit, cancel)
    return folder
