"""Harvest a PyInstaller one-dir bundle into a WiX v3 fragment with STABLE component GUIDs.

Windows Installer tracks every file by its component GUID. A GUID regenerated per build
(what ``heat -gg`` does) makes each release look like a different set of components, which
breaks upgrades, repairs and patching. Here a component's GUID is a UUIDv5 of its install
path under a fixed namespace: the same file gets the same GUID in every build, on every
machine, with no GUID list to maintain. Element ids are derived from the path the same way.

The GUI executable gets a fixed file id (``GuiExe``) that the product's shortcut and
autostart entries reference. The console executable is left out of the fragment: it is the
image of the practice service, so its component (with the ServiceInstall) is written in
practice-client.wxs, from the values ``--service-exe`` prints (``CliExeName``,
``CliExeSource``, ``CliExeGuid``: the same stable GUID it always had). Symbolic links (Linux/macOS bundles only) are skipped:
an MSI cannot represent them and a Windows bundle has none. Source paths are written
relative to the current directory (wixl resolves nothing else), so run the compiler from
the same directory as this script.

    python installer/windows/harvest.py dist/practice-client build/bundle-files.wxs
"""

from __future__ import annotations

import hashlib
import os
import sys
import uuid
from pathlib import Path, PurePosixPath
from xml.sax.saxutils import quoteattr

# Never change: the namespace makes every component GUID of every release.
COMPONENT_NAMESPACE = uuid.UUID("3fdd255f-6f54-43bb-9c83-90057a8480e2")
FIXED_FILE_IDS = {
    "practice-client": "CliExe",
    "practice-client.exe": "CliExe",
    "practice-client-gui": "GuiExe",
    "practice-client-gui.exe": "GuiExe",
}
WIX_NS = "http://schemas.microsoft.com/wix/2006/wi"


def component_guid(relpath: str) -> str:
    """The GUID of the component that installs ``relpath`` (``/``-separated, case-insensitive
    like Windows file names)."""
    return str(uuid.uuid5(COMPONENT_NAMESPACE, relpath.replace("\\", "/").lower())).upper()


def _element_id(prefix: str, relpath: str) -> str:
    return prefix + hashlib.sha1(relpath.lower().encode("utf-8"), usedforsecurity=False).hexdigest()[:32]


def bundle_files(bundle: Path) -> list[PurePosixPath]:
    """Regular files of the bundle, relative, sorted (so the output is byte-for-byte stable)."""
    found: list[PurePosixPath] = []
    for folder, dirs, files in os.walk(bundle):
        dirs[:] = [d for d in dirs if not (Path(folder) / d).is_symlink()]
        for name in files:
            path = Path(folder) / name
            if path.is_file() and not path.is_symlink():
                found.append(PurePosixPath(path.relative_to(bundle).as_posix()))
    return sorted(found, key=lambda p: str(p).lower())


SERVICE_EXE = ("practice-client.exe", "practice-client")  # the Windows name first


def service_exe(bundle: Path) -> PurePosixPath:
    """The console executable (the practice service's image) at the bundle's top."""
    for name in SERVICE_EXE:
        if (bundle / name).is_file():
            return PurePosixPath(name)
    raise SystemExit(f"{bundle}: not a practice-client bundle (no practice-client executable)")


def service_exe_defines(bundle: Path) -> list[str]:
    """``NAME=VALUE`` preprocessor values of the service's component (wixl -D)."""
    rel = service_exe(bundle)
    return [f"CliExeName={rel.name}", f"CliExeSource={Path(os.path.relpath(bundle / rel)).as_posix()}",
            f"CliExeGuid={component_guid(str(rel))}"]


def render_fragment(bundle: Path) -> str:
    """The ``<Fragment>``: a directory tree under INSTALLDIR and the BundleFiles group
    (every file but the service's executable)."""
    skip = service_exe(bundle)
    files = [f for f in bundle_files(bundle) if f != skip]
    tree: dict[str, list[PurePosixPath]] = {}
    for rel in files:
        tree.setdefault(str(rel.parent), []).append(rel)
    lines = ['<?xml version="1.0" encoding="utf-8"?>', f'<Wix xmlns="{WIX_NS}">', "  <Fragment>"]
    lines.append('    <DirectoryRef Id="INSTALLDIR">')
    _render_dir(lines, tree, bundle, ".", 3)
    lines.append("    </DirectoryRef>")
    lines.append('    <ComponentGroup Id="BundleFiles">')
    lines += [f'      <ComponentRef Id="{_element_id("c", str(rel))}" />' for rel in files]
    lines += ["    </ComponentGroup>", "  </Fragment>", "</Wix>", ""]
    return "\n".join(lines)


def _render_dir(lines: list[str], tree: dict[str, list[PurePosixPath]], bundle: Path,
                folder: str, depth: int) -> None:
    pad = "  " * depth
    for rel in tree.get(folder, []):
        rel_s = str(rel)
        file_id = FIXED_FILE_IDS.get(rel_s, _element_id("f", rel_s))
        source = Path(os.path.relpath(bundle / rel)).as_posix()
        lines.append(
            f'{pad}<Component Id="{_element_id("c", rel_s)}" Guid="{component_guid(rel_s)}"'
            ' Win64="yes">'
        )
        lines.append(
            f'{pad}  <File Id="{file_id}" Name={quoteattr(rel.name)} Source={quoteattr(source)}'
            ' KeyPath="yes" />'
        )
        lines.append(f"{pad}</Component>")
    children = sorted(
        {_child_of(folder, d) for d in tree if _child_of(folder, d) is not None}, key=str.lower
    )
    for child in children:
        name = PurePosixPath(child).name
        lines.append(f'{pad}<Directory Id="{_element_id("d", child)}" Name={quoteattr(name)}>')
        _render_dir(lines, tree, bundle, child, depth + 1)
        lines.append(f"{pad}</Directory>")


def _child_of(folder: str, candidate: str) -> str | None:
    """The direct child of ``folder`` on the way to ``candidate`` (or None if not below it)."""
    if candidate == folder:
        return None
    parts = PurePosixPath(candidate).parts
    base = () if folder == "." else PurePosixPath(folder).parts
    if parts[: len(base)] != base:
        return None
    return str(PurePosixPath(*parts[: len(base) + 1]))


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "--service-exe":
        print("\n".join(service_exe_defines(Path(argv[1]))))
        return 0
    if len(argv) != 2:
        print("usage: harvest.py BUNDLE_DIR OUTPUT.wxs | harvest.py --service-exe BUNDLE_DIR", file=sys.stderr)
        return 2
    bundle, output = Path(argv[0]), Path(argv[1])
    if not bundle.is_dir():
        print(f"harvest.py: {bundle}: not a directory", file=sys.stderr)
        return 1
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(output.name + ".tmp")
    tmp.write_text(render_fragment(bundle), encoding="utf-8")
    os.replace(tmp, output)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
