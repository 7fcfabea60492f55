"""Installers against local attackers: what they install, and what they read as root,
must be out of reach of any user but root.

- Linux: a bundle built by an ordinary user (uid 1000, group-writable modes, a set-uid
  file) is installed into /opt owned by root, writable by root only, without set-id bits.
- macOS postinstall (run here against a stand-in volume; it is a bash script): a
  practice-client.conf that a user could have written or swapped - in a user's folder, owned
  by a user, writable by others, a link - is refused, and nothing is changed.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from practice_client.core import policy
from practice_client.core.config import load_config
from tests.conftest import require
from tests.installer.conftest import ROOT
from tests.support.installer import LINUX, postinstall, read_policy_at

BUILDER = 1000  # the uid of the person who ran `make dist`


@pytest.fixture(autouse=True)
def _as_root() -> None:
    require(os.geteuid() == 0, "root (to own files as another user, as on a build machine)")


def builders_bundle(tmp_path: Path) -> Path:
    """A bundle with the real layout, as an ordinary user's build leaves it."""
    bundle = tmp_path / "dist" / "practice-client"
    (bundle / "_internal" / "lib").mkdir(parents=True)
    for name in ("practice-client", "practice-client-gui"):
        (bundle / name).write_text("#!/bin/sh\necho practice-client 0\n")
        (bundle / name).chmod(0o775)
    (bundle / "_internal" / "lib" / "libpython.so").write_bytes(b"\x7fELF")
    (bundle / "_internal" / "lib" / "libpython.so").chmod(0o664)
    (bundle / "_internal" / "helper").write_text("#!/bin/sh\n")
    (bundle / "_internal" / "helper").chmod(0o4775)  # set-uid, group-writable
    (bundle / "_internal" / "lib" / "libalias.so").symlink_to("libpython.so")
    (bundle / "_internal").chmod(0o777)
    for path in [bundle, *bundle.rglob("*")]:
        os.lchown(path, BUILDER, BUILDER)
    return bundle


def install(bundle: Path, dest: Path, *properties: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LINUX / "install.sh"), str(bundle), *properties], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env={"DESTDIR": str(dest), "PATH": "/usr/bin:/bin"})


def test_linux_install_of_a_users_bundle_belongs_to_root_and_only_root_can_write_it(tmp_path: Path) -> None:
    bundle = builders_bundle(tmp_path)
    dest = tmp_path / "root"
    result = install(bundle, dest)
    assert result.returncode == 0, result.stderr
    prefix = dest / "opt" / "practice-client"
    installed = [prefix, *prefix.rglob("*")]
    assert len(installed) == 1 + len(list(bundle.rglob("*")))
    for path in installed:
        info = path.lstat()
        assert (info.st_uid, info.st_gid) == (0, 0), path
        if not stat.S_ISLNK(info.st_mode):
            assert info.st_mode & 0o022 == 0, f"{path}: {oct(info.st_mode)}"
            assert info.st_mode & (stat.S_ISUID | stat.S_ISGID) == 0, path
    assert os.access(prefix / "practice-client", os.X_OK)
    assert (prefix / "practice-client").stat().st_mode & 0o777 == 0o755
    assert (prefix / "_internal" / "lib" / "libpython.so").stat().st_mode & 0o777 == 0o644
    assert (prefix / "_internal" / "lib" / "libalias.so").readlink() == Path("libpython.so")
    opt = (dest / "opt").stat()
    assert opt.st_uid == 0 and opt.st_mode & 0o022 == 0


def test_linux_install_writes_the_policy_from_msi_style_properties(tmp_path: Path) -> None:
    """`install.sh BUNDLE KEY=value ...` sets (and with LOCK_SETTINGS locks) CA_FILE,
    SPKI_PINS, DNS_SERVER like the MSI's properties; without properties an update keeps it."""
    bundle = builders_bundle(tmp_path)
    dest = tmp_path / "root"
    pins = "A" * 43 + "=," + "B" * 43 + "="
    result = install(bundle, dest, "SERVER_URL=https://platform.test", "CA_FILE=/etc/ssl/praxis/ca.pem",
                     f"SPKI_PINS={pins}", "DNS_SERVER=10.0.0.53:53", 'PROXY_USER=PRAXIS\\"empfang"',
                     "LOCK_SETTINGS=1")
    assert result.returncode == 0, result.stderr
    written = dest / "etc" / "practice-client" / "policy.toml"
    assert written.stat().st_uid == 0 and written.stat().st_mode & 0o777 == 0o644
    found = policy.read_os_policy(dest)
    assert found is not None
    assert found.values == {"server_url": "https://platform.test", "ca_file": "/etc/ssl/praxis/ca.pem",
                            "spki_pins": pins, "dns_server": "10.0.0.53:53", "proxy_user": 'PRAXIS\\"empfang"'}
    assert found.locked == set(found.values)
    assert load_config(tmp_path / "config.toml", found).pins() == ("A" * 43 + "=", "B" * 43 + "=")
    assert install(bundle, dest).returncode == 0  # an update without properties keeps the policy
    assert policy.read_os_policy(dest) == found


@pytest.mark.parametrize("argument, problem", [("BOGUS=1", "BOGUS: unknown setting"), ("SERVER_URL", "not KEY=value"),
                                               ("LOCK_SETTINGS=maybe", "LOCK_SETTINGS must be 1 or 0"),
                                               ("SERVER_URL=a\nb", "control characters")])
def test_linux_install_refuses_a_bad_property_and_installs_nothing(tmp_path: Path, argument: str,
                                                                    problem: str) -> None:
    dest = tmp_path / "root"
    result = install(builders_bundle(tmp_path), dest, "PRACTICE_ID=praxis-1", argument)
    assert result.returncode == 1 and problem in result.stderr and result.stderr.count("\n") == 1
    assert not dest.exists()


CONF = "SERVER_URL=https://attacker.test\nLOCK_SETTINGS=1\nAUTOSTART_AGENT=1\n"


def attempt(mac_root: Path, pkg_dir: Path) -> subprocess.CompletedProcess[str]:  # noqa: F811
    """Run the postinstall with ``pkg_dir``'s conf; nothing on the volume may change."""
    before = sorted((p.relative_to(mac_root), p.stat().st_mtime_ns) for p in mac_root.rglob("*"))
    result = postinstall(pkg_dir, mac_root)
    assert sorted((p.relative_to(mac_root), p.stat().st_mtime_ns) for p in mac_root.rglob("*")) == before
    assert read_policy_at(mac_root) is None
    return result


def deploy_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "deploy"
    folder.mkdir()
    folder.chmod(0o755)
    (folder / "practice-client.conf").write_text(CONF)
    (folder / "practice-client.conf").chmod(0o644)
    return folder


def test_a_conf_in_a_users_downloads_is_refused(mac_root: Path, tmp_path: Path) -> None:  # noqa: F811
    downloads = tmp_path / "Users" / "anna" / "Downloads"
    downloads.mkdir(parents=True)
    (downloads / "practice-client.conf").write_text(CONF)
    os.chown(downloads, BUILDER, BUILDER)  # the user's folder; the file looks like root's
    result = attempt(mac_root, downloads)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"practice-client postinstall: {downloads / 'practice-client.conf'}: not used: {downloads} can be "
        "changed by others than root (put the pkg and the conf into a folder only root can write)"
    )


@pytest.mark.parametrize("attack", ["owned by a user", "writable by others", "group-writable", "a link",
                                    "folder writable by others", "parent owned by a user"])
def test_a_conf_that_others_than_root_could_have_written_is_refused(
    mac_root: Path, tmp_path: Path, attack: str  # noqa: F811
) -> None:
    folder = deploy_dir(tmp_path)
    conf = folder / "practice-client.conf"
    if attack == "owned by a user":
        os.chown(conf, BUILDER, BUILDER)
    elif attack == "writable by others":
        conf.chmod(0o666)
    elif attack == "group-writable":
        conf.chmod(0o664)
    elif attack == "a link":
        target = tmp_path / "elsewhere.conf"
        shutil.move(conf, target)
        conf.symlink_to(target)
    elif attack == "folder writable by others":
        folder.chmod(0o777)
    else:
        inner = folder / "sub"
        inner.mkdir(mode=0o755)
        shutil.move(conf, inner / conf.name)
        os.chown(folder, BUILDER, BUILDER)  # the user can rename 'sub' away and put their own
        folder = inner
    result = attempt(mac_root, folder)
    assert result.returncode == 1, result.stderr
    assert "not used" in result.stderr and result.stderr.count("\n") == 1


def test_a_conf_only_root_can_write_is_used_also_below_a_sticky_folder(mac_root: Path, tmp_path: Path) -> None:  # noqa: F811
    sticky = tmp_path / "shared"
    sticky.mkdir()
    sticky.chmod(0o1777)  # like /tmp: others may add, not rename root's entries
    folder = deploy_dir(sticky)
    result = postinstall(folder, mac_root)
    assert result.returncode == 0, result.stderr
    found = read_policy_at(mac_root)
    assert found is not None and found.values == {"server_url": "https://attacker.test"}
