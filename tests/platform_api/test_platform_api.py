"""The platform API over real HTTPS: token, inbox, decisions, keys, documents, and
the server's refusal of path traversal."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import requests

from practice_client.core.errors import NetworkError
from practice_client.platform.api import PlatformClient
from practice_client.testbed.platform import TestbedPlatform


def raw(platform: TestbedPlatform, method: str, path: str, token: str | None = "ok",
        **kwargs: object) -> requests.Response:
    """A plain request (no PlatformClient) to probe what the server itself enforces."""
    headers = dict(kwargs.pop("headers", {}) or {})  # type: ignore[arg-type]
    if token == "ok":
        token = platform.token
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return requests.request(method, platform.url + path, headers=headers,
                            verify=str(platform.ca_file), timeout=10, **kwargs)  # type: ignore[arg-type]


CALLS = [
    ("GET", "/v1/inbox"),
    ("POST", "/v1/requests/req-00000001/decision"),
    ("OPTIONS", "/v1/uploads"),
    ("POST", "/v1/uploads"),
    ("HEAD", "/v1/uploads/doc-00000001.document"),
    ("PATCH", "/v1/uploads/doc-00000001.document"),
    ("GET", "/v1/documents/doc-00000001"),
    ("GET", "/v1/documents/doc-00000001/manifest"),
    ("GET", f"/v1/patients/{'A' * 40}/key"),
    ("PUT", "/v1/practice/key"),
]


@pytest.mark.parametrize("token", [None, "wrong-token", ""])
def test_every_call_requires_the_bearer_token(testbed_platform: TestbedPlatform, token: str | None) -> None:
    (testbed_platform.data_dir / "inbox" / "a.eml").write_bytes(b"Subject: secret\r\n\r\n")
    for method, path in CALLS:
        response = raw(testbed_platform, method, path, token=token)
        assert response.status_code == 401, (method, path)
        assert b"secret" not in response.content
    assert not any((testbed_platform.data_dir / "decisions").iterdir())
    assert not (testbed_platform.data_dir / "practice" / "key.asc").exists()


def test_a_wrong_token_fails_at_once_with_a_message_without_the_token(
    testbed_platform: TestbedPlatform,
) -> None:
    with (
        PlatformClient(testbed_platform.url, "not-the-token-123", ca_file=testbed_platform.ca_file) as c,
        pytest.raises(NetworkError) as err,
    ):
        c.inbox(None)
    message = str(err.value)
    assert "401" in message and "\n" not in message
    assert "not-the-token-123" not in message and testbed_platform.token not in message
    assert testbed_platform.stats.calls("inbox") == 1  # a 4xx is not retried


def test_inbox_pages_by_cursor_in_file_name_order(testbed_platform: TestbedPlatform, client: PlatformClient) -> None:
    inbox = testbed_platform.data_dir / "inbox"
    for name in ("b", "a", "c"):
        (inbox / f"{name}.eml").write_bytes(f"Message-ID: <{name}>\r\n\r\n{name}".encode())
    (inbox / "ignored.txt").write_bytes(b"not a message")
    messages, cursor = client.inbox(None)
    assert [m.rsplit(b"\n", 1)[-1] for m in messages] == [b"a", b"b", b"c"]
    assert cursor
    again, same = client.inbox(cursor)
    assert again == [] and same == cursor
    (inbox / "d.eml").write_bytes(b"\r\n\r\nd")
    new, later = client.inbox(cursor)
    assert new == [b"\r\n\r\nd"] and later != cursor
    assert client.inbox(None)[0] == messages + new
    assert raw(testbed_platform, "GET", "/v1/inbox", params={"after": "%%%"}).status_code == 400


def test_decisions_are_idempotent_and_a_conflict_is_refused(
    testbed_platform: TestbedPlatform, client: PlatformClient
) -> None:
    client.send_decision("req-00000001", "accepted", "")
    client.send_decision("req-00000001", "accepted", "")  # a retry after a lost answer
    record = json.loads((testbed_platform.data_dir / "decisions" / "req-00000001.json").read_text())
    assert record["decision"] == "accepted"
    with pytest.raises(NetworkError, match="409"):
        client.send_decision("req-00000001", "declined", "changed my mind")
    assert json.loads((testbed_platform.data_dir / "decisions" / "req-00000001.json").read_text()) == record
    client.send_decision("req-00000002", "declined", "Unterlagen liegen nicht vor")
    assert raw(testbed_platform, "POST", "/v1/requests/req-00000003/decision",
               json={"decision": "maybe"}).status_code == 400


def test_patient_key_is_returned_or_none(testbed_platform: TestbedPlatform, client: PlatformClient) -> None:
    fpr = "0123456789ABCDEF0123456789ABCDEF01234567"
    assert client.patient_key(fpr) is None
    armored = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nxx\n-----END PGP PUBLIC KEY BLOCK-----\n"
    (testbed_platform.data_dir / "patients" / f"{fpr}.asc").write_text(armored)
    assert client.patient_key(fpr.lower()) == armored


def test_practice_key_is_stored_and_non_keys_refused(
    testbed_platform: TestbedPlatform, client: PlatformClient
) -> None:
    armored = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nabc\n-----END PGP PUBLIC KEY BLOCK-----\n"
    client.register_practice_key(armored)
    assert (testbed_platform.data_dir / "practice" / "key.asc").read_text() == armored
    with pytest.raises(NetworkError, match="400"):
        client.register_practice_key("hello")
    assert (testbed_platform.data_dir / "practice" / "key.asc").read_text() == armored


TRAVERSALS = ["..%2F..%2Fetc%2Fpasswd", "..%2Ftoken", "..", "%2E%2E", "short", "a" * 65,
              "doc%00-00000001", "doc-0000%2F0001", "d%C3%B6c-00000001"]


@pytest.mark.parametrize("bad", TRAVERSALS)
def test_path_traversal_in_ids_is_refused_by_the_server(testbed_platform: TestbedPlatform, bad: str) -> None:
    data = testbed_platform.data_dir
    (data / "documents" / "secret.pgp").write_bytes(b"secret")
    for method, path in [
        ("GET", f"/v1/documents/{bad}"),
        ("GET", f"/v1/documents/{bad}/manifest"),
        ("HEAD", f"/v1/uploads/{bad}.document"),
        ("PATCH", f"/v1/uploads/{bad}.document"),
        ("POST", f"/v1/requests/{bad}/decision"),
        ("GET", f"/v1/patients/{bad}/key"),
    ]:
        response = raw(testbed_platform, method, path, json={"decision": "accepted"},
                       headers={"Tus-Resumable": "1.0.0", "Upload-Offset": "0",
                                "Content-Type": "application/offset+octet-stream"})
        assert response.status_code in (400, 404, 405), (method, path, response.status_code)
        assert b"secret" not in response.content and testbed_platform.token.encode() not in response.content
    name = requests.utils.unquote(bad)
    metadata = f"document_id {base64.b64encode(name.encode()).decode()},part ZG9jdW1lbnQ=," \
               f"request_id {base64.b64encode(b'req-00000001').decode()}"
    response = raw(testbed_platform, "POST", "/v1/uploads",
                   headers={"Tus-Resumable": "1.0.0", "Upload-Length": "3", "Upload-Metadata": metadata})
    assert response.status_code == 400
    assert sorted(p.name for p in (data / "documents").iterdir()) == ["secret.pgp"]
    assert list((data / "uploads").iterdir()) == []
    assert not any((data / "decisions").iterdir())
    assert not any(p.name != "secret.pgp" for p in data.parent.glob("*.pgp"))


def test_client_refuses_to_build_urls_from_bad_ids(client: PlatformClient, tmp_path: Path) -> None:
    for bad in ("../../etc", "a/b/c/d/e", "x" * 100, "short"):
        with pytest.raises(ValueError):
            client.download(bad)
        with pytest.raises(ValueError):
            client.send_decision(bad, "accepted", "")
        with pytest.raises(ValueError):
            client.tus.create(document_id=bad, part="document", request_id="req-00000001", length=1)


def test_a_netrc_entry_for_the_host_never_replaces_the_token(
    testbed_platform: TestbedPlatform, client: PlatformClient, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password other\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    assert client.inbox(None) == ([], None)
