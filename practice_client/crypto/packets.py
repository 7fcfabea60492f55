"""What the key packets of an armored key block are, to explain what gpg cannot use.

GnuPG 2.2 reads neither RFC 9580's v6 keys nor its new algorithms (X25519, Ed25519,
X448, Ed448 as algorithms of their own) - OpenPGP.js 6 makes both. gpg then imports
nothing, or a key without the subkey that needed the new algorithm, and says so only in
free text. This module reads the packet headers itself (RFC 9580 section 4.2), so a
refusal can name the reason. It never decides whether a key is trusted or usable: that
is gpg's, after import.
"""

from __future__ import annotations

import binascii
from collections.abc import Iterator

KEY_TAGS = {5: "secret key", 6: "public key", 7: "secret subkey", 14: "public subkey"}
RFC9580_ALGORITHMS = {25: "X25519", 26: "X448", 27: "Ed25519", 28: "Ed448"}
MAX_PACKETS = 4096


def _dearmor(text: str) -> bytes:
    """The bytes of the first armored block (headers and checksum skipped)."""
    lines = text.replace("\r", "").split("\n")
    try:
        start = next(i for i, line in enumerate(lines) if line.startswith("-----BEGIN PGP "))
        blank = next(i for i in range(start + 1, len(lines)) if not lines[i].strip())
    except StopIteration:
        return b""
    body = []
    for line in lines[blank + 1:]:
        if line.startswith(("=", "-----END PGP ")):
            break
        body.append(line.strip())
    try:
        return binascii.a2b_base64("".join(body))
    except (binascii.Error, ValueError):
        return b""


def _packets(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(tag, body) of each packet; stops at the first malformed header."""
    pos = 0
    for _ in range(MAX_PACKETS):
        if pos >= len(data) or not data[pos] & 0x80:
            return
        first = data[pos]
        if first & 0x40:  # new format
            tag, pos = first & 0x3F, pos + 1
            if pos >= len(data):
                return
            octet = data[pos]
            if octet < 192:
                length, pos = octet, pos + 1
            elif octet < 224 and pos + 1 < len(data):
                length, pos = ((octet - 192) << 8) + data[pos + 1] + 192, pos + 2
            elif octet == 255 and pos + 4 < len(data):
                length, pos = int.from_bytes(data[pos + 1:pos + 5], "big"), pos + 5
            else:
                return  # partial lengths never occur in keys
        else:  # legacy format
            tag, kind, pos = (first >> 2) & 0x0F, first & 0x03, pos + 1
            if kind == 3:
                return
            size = (1, 2, 4)[kind]
            length, pos = int.from_bytes(data[pos:pos + size], "big"), pos + size
        yield tag, data[pos:pos + length]
        pos += length


def newer_formats(armored: str) -> list[str]:
    """What in the key block is newer than RFC 4880 (empty when nothing is), e.g.
    ``["a v6 public key (RFC 9580)"]`` or ``["an Ed25519 public key (RFC 9580 algorithm 27)"]``."""
    found: list[str] = []
    for tag, body in _packets(_dearmor(armored)):
        if tag not in KEY_TAGS or not body:
            continue
        version = body[0]
        if version in (5, 6):
            found.append(f"a v{version} {KEY_TAGS[tag]} ({'RFC 9580' if version == 6 else 'LibrePGP'})")
        elif version == 4 and len(body) > 5 and body[5] in RFC9580_ALGORITHMS:
            found.append(f"an {RFC9580_ALGORITHMS[body[5]]} {KEY_TAGS[tag]} (RFC 9580 algorithm {body[5]})")
    return found
