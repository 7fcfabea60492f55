#!/bin/bash
# Build the macOS installer package from the PyInstaller app (macOS only: pkgbuild and
# productbuild exist nowhere else).
#
#   installer/macos/build-pkg.sh [APP] [OUTPUT_DIR]     (run from the repository root)
#
# Signing is optional and comes from the environment, never from this repository:
#   PC_CODESIGN_IDENTITY   "Developer ID Application: ..." signs the app (hardened runtime)
#   PC_INSTALLER_IDENTITY  "Developer ID Installer: ..." signs the product archive
# Notarization (xcrun notarytool) runs afterwards in the release workflow.
set -euo pipefail
app=${1:-"dist/Practice Client.app"}
outdir=${2:-dist}
here=installer/macos
[[ -d $here/scripts ]] || { echo "$0: run from the repository root" >&2; exit 2; }
[[ -d $app ]] || { echo "$0: $app: no app bundle (run PyInstaller first)" >&2; exit 1; }
for tool in pkgbuild productbuild; do
  command -v "$tool" >/dev/null || { echo "$0: $tool is missing (macOS only)" >&2; exit 127; }
done
python=${PYTHON:-python3}
version=$("$python" -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')
work=$(mktemp -d "${TMPDIR:-/tmp}/pcpkg.XXXXXX")
trap 'rm -rf "$work"' EXIT

if [[ -n ${PC_CODESIGN_IDENTITY:-} ]]; then
  codesign --force --deep --timestamp --options runtime \
    --entitlements "$here/entitlements.plist" --sign "$PC_CODESIGN_IDENTITY" "$app"
  codesign --verify --deep --strict "$app"
fi

# Payload: the app, and the LaunchAgent template that postinstall enables on request.
root="$work/root"
mkdir -p "$root/Applications" "$root/Library/Application Support/PracticeClient"
ditto "$app" "$root/Applications/Practice Client.app"
cp "$here/de.practiceclient.agent.plist" "$here/de.practiceclient.service.plist" "$root/Library/Application Support/PracticeClient/"

# The app must land in /Applications, never be "relocated" to a copy found elsewhere.
pkgbuild --analyze --root "$root" "$work/components.plist"
plutil -replace 0.BundleIsRelocatable -bool NO "$work/components.plist"

pkgbuild --root "$root" --component-plist "$work/components.plist" \
  --scripts "$here/scripts" --identifier de.practiceclient.client.pkg \
  --version "$version" --install-location / "$work/practice-client-component.pkg"

mkdir -p "$outdir"
output="$outdir/practice-client-$version.pkg"
sign=()
if [[ -n ${PC_INSTALLER_IDENTITY:-} ]]; then
  sign=(--sign "$PC_INSTALLER_IDENTITY" --timestamp)
fi
productbuild --synthesize --package "$work/practice-client-component.pkg" "$work/distribution.xml"
# ${sign[@]+...}: macOS's bash 3.2 treats an empty array as unset under set -u.
productbuild --distribution "$work/distribution.xml" --package-path "$work" \
  ${sign[@]+"${sign[@]}"} "$output"
echo "$output"
