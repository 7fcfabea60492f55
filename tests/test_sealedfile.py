"""Files sealed at rest (chunked AES-256-GCM, the STREAM construction): every size round
trips; a changed, moved, dropped, repeated or appended chunk, a file cut short at a chunk
boundary, another document's label or another key all fail to open."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from practice_client.core.errors import CryptoError
from practice_client.core.sealedfile import CHUNK, HEADER, TAG, seal_stream, unseal_bytes, unseal_file, unseal_stream

KEY = os.urandom(32)
LABEL = b"0b5e5c1e-doc/original"


def sealed(data: bytes, label: bytes = LABEL, key: bytes = KEY) -> bytes:
    out = io.BytesIO()
    seal_stream(key, io.BytesIO(data), out, label)
    return out.getvalue()


def opened(blob: bytes, label: bytes = LABEL, key: bytes = KEY) -> bytes:
    out = io.BytesIO()
    unseal_stream(key, io.BytesIO(blob), out, label)
    return out.getvalue()


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 3 * CHUNK + 17])
def test_every_size_round_trips_and_no_plaintext_shows(size: int) -> None:
    data = (b"Befund Mustermann " * (size // 18 + 1))[:size]
    blob = sealed(data)
    assert opened(blob) == data
    chunks = max(1, -(-size // CHUNK))
    assert len(blob) == HEADER + size + chunks * TAG
    assert size < 18 or b"Mustermann" not in blob


def chunk_blocks(blob: bytes) -> tuple[bytes, list[bytes]]:
    body = blob[HEADER:]
    return blob[:HEADER], [body[i:i + CHUNK + TAG] for i in range(0, len(body), CHUNK + TAG)]


@pytest.mark.parametrize("attack", ["flip", "drop last", "cut at boundary", "append", "swap", "repeat"])
def test_tampering_fails(attack: str) -> None:
    data = os.urandom(3 * CHUNK + 100)
    header, blocks = chunk_blocks(sealed(data))
    if attack == "flip":
        blocks[1] = blocks[1][:5] + bytes([blocks[1][5] ^ 1]) + blocks[1][6:]
    elif attack == "drop last":
        blocks = blocks[:-1]
    elif attack == "cut at boundary":
        blocks = blocks[:2]
    elif attack == "append":
        blocks.append(blocks[0])
    elif attack == "swap":
        blocks[0], blocks[1] = blocks[1], blocks[0]
    else:
        blocks[2] = blocks[1]
    with pytest.raises(CryptoError):
        opened(header + b"".join(blocks))


def test_an_exact_multiple_cut_at_its_last_boundary_fails() -> None:
    header, blocks = chunk_blocks(sealed(os.urandom(2 * CHUNK)))
    assert [len(b) for b in blocks] == [CHUNK + TAG] * 2
    with pytest.raises(CryptoError):
        opened(header + blocks[0])


def test_another_documents_label_or_key_fails() -> None:
    blob = sealed(b"Arztbrief")
    with pytest.raises(CryptoError):
        opened(blob, label=b"another-doc/original")
    with pytest.raises(CryptoError):
        opened(blob, key=os.urandom(32))
    with pytest.raises(CryptoError):
        opened(b"PCSEAL1\n")


def test_files_are_atomic_and_small_ones_are_bounded(tmp_path: Path) -> None:
    (tmp_path / "s").write_bytes(sealed(b"x" * 1000))
    assert unseal_bytes(KEY, tmp_path / "s", LABEL, 1000) == b"x" * 1000
    with pytest.raises(CryptoError, match="larger than 999"):
        unseal_bytes(KEY, tmp_path / "s", LABEL, 999)
    (tmp_path / "bad").write_bytes(sealed(b"y" * 10)[:-1])
    with pytest.raises(CryptoError):
        unseal_file(KEY, tmp_path / "bad", tmp_path / "plain", LABEL)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad", "s"]  # no half-written plain file
