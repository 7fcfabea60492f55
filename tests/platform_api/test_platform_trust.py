"""TLS trust as the OS does it: the OS trust store plus ca_file, nothing else.

On Linux the OS store is OpenSSL's (``SSL_CERT_FILE``/``SSL_CERT_DIR``, which
``update-ca-certificates`` fills): the tests build such a store in a temporary folder with
update-ca-certificates itself. Attacks: a CA only in certifi's bundle (requests would load
it into every connection) and a CA only in REQUESTS_CA_BUNDLE are refused.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests.adapters

from practice_client.core.errors import NetworkError
from practice_client.platform.api import PlatformClient
from practice_client.testbed.platform import TestbedPlatform
from tests.conftest import require
from tests.support.platform import FAST_RETRY, start_platform


@pytest.fixture(scope="module")
def other_platform() -> Iterator[TestbedPlatform]:
    with start_platform() as platform:
        yield platform


def os_store(root: Path, *cas: Path) -> Path:
    """An OS trust store holding ``cas``, built by update-ca-certificates; returns its
    etc/ssl/certs folder (hashed links and ca-certificates.crt)."""
    tool = shutil.which("update-ca-certificates") or "/usr/sbin/update-ca-certificates"
    require(Path(tool).exists(), "update-ca-certificates (apt-get install ca-certificates)")
    local, etc, hooks, share = (root / d for d in ("local", "etc-certs", "hooks", "share"))
    for folder in (local, etc, hooks, share):
        folder.mkdir(parents=True)
    for index, ca in enumerate(cas):
        shutil.copy(ca, local / f"practice-{index}.crt")
    conf = root / "ca-certificates.conf"
    conf.write_text("")
    subprocess.run([tool, "--fresh", "--certsconf", str(conf), "--certsdir", str(share),
                    "--localcertsdir", str(local), "--etccertsdir", str(etc), "--hooksdir", str(hooks)],
                   check=True, capture_output=True, timeout=120)
    assert (etc / "ca-certificates.crt").read_text().count("BEGIN CERTIFICATE") == len(cas)
    return etc


@pytest.fixture
def as_os_store(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Make a store of the given CAs the OS trust store of this process."""

    def install(*cas: Path) -> Path:
        etc = os_store(tmp_path / "store", *cas)
        monkeypatch.setenv("SSL_CERT_FILE", str(etc / "ca-certificates.crt"))
        monkeypatch.setenv("SSL_CERT_DIR", str(etc))
        return etc

    return install


def client(platform: TestbedPlatform, ca_file: Path | None = None) -> PlatformClient:
    return PlatformClient(platform.url, platform.token, ca_file=ca_file, retry=FAST_RETRY)


def test_a_ca_in_the_os_store_is_trusted(testbed_platform: TestbedPlatform, as_os_store) -> None:  # type: ignore[no-untyped-def]
    with client(testbed_platform) as before, pytest.raises(NetworkError, match="not trusted"):
        before.inbox(None)
    as_os_store(testbed_platform.ca_file)  # the IT provider rolls out the platform's CA
    with client(testbed_platform) as after:
        assert after.inbox(None) == ([], None)


def test_a_ca_only_in_certifis_bundle_is_refused(
    testbed_platform: TestbedPlatform, other_platform: TestbedPlatform, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """requests hands its certifi bundle to every connection (``cert_verify``): a root that
    is only in Mozilla's list - never in the practice's OS store - must not be trusted."""
    bundle = tmp_path / "cacert.pem"
    bundle.write_bytes(Path(requests.adapters.DEFAULT_CA_BUNDLE_PATH).read_bytes()
                       + other_platform.ca_file.read_bytes())
    monkeypatch.setattr(requests.adapters, "DEFAULT_CA_BUNDLE_PATH", str(bundle))
    calls = other_platform.stats.calls("inbox")
    for ca_file in (None, testbed_platform.ca_file):
        with client(other_platform, ca_file) as attacked, pytest.raises(NetworkError, match="not trusted"):
            attacked.inbox(None)
    assert other_platform.stats.calls("inbox") == calls  # refused before any request was sent


def test_trusted_are_exactly_the_os_store_and_ca_file(
    testbed_platform: TestbedPlatform, other_platform: TestbedPlatform, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, as_os_store,  # type: ignore[no-untyped-def]
) -> None:
    """Three servers, three CAs: the one in the OS store and the one in ca_file are
    accepted by the same client configuration; the third, offered through certifi's bundle
    and every environment variable requests knows, is refused."""
    with start_platform() as third:
        as_os_store(other_platform.ca_file)
        bundle = tmp_path / "cacert.pem"
        bundle.write_bytes(third.ca_file.read_bytes())
        monkeypatch.setattr(requests.adapters, "DEFAULT_CA_BUNDLE_PATH", str(bundle))
        for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
            monkeypatch.setenv(name, str(bundle))
        for platform in (testbed_platform, other_platform):
            with client(platform, testbed_platform.ca_file) as trusted:
                assert trusted.inbox(None) == ([], None)
        with client(third, testbed_platform.ca_file) as refused, pytest.raises(NetworkError, match="not trusted"):
            refused.inbox(None)
        assert third.stats.calls("inbox") == 0
