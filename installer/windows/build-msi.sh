#!/usr/bin/env bash
# Build the MSI from a PyInstaller bundle with wixl (Linux; msitools). On Windows the same
# .wxs builds with the WiX Toolset v3: see build-msi.ps1.
#
#   installer/windows/build-msi.sh BUNDLE_DIR OUTPUT_DIR    (run from the repository root)
#
# Prints the path of the MSI. VERSION=x.y.z overrides the version from pyproject.toml
# (upgrade tests). The file list is harvested with stable component GUIDs
# (harvest.py). wixl ignores two WiX attributes it does not know (Package/@Platform: it
# takes the architecture from -a; Property/@Secure); their warnings are filtered, every
# other message is shown.
set -euo pipefail
if [[ $# -ne 2 ]]; then
  echo "usage: $0 BUNDLE_DIR OUTPUT_DIR" >&2
  exit 2
fi
bundle=$1
outdir=$2
python=${PYTHON:-python3}
here=installer/windows
[[ -f $here/practice-client.wxs ]] || { echo "$0: run from the repository root" >&2; exit 2; }
command -v wixl >/dev/null || { echo "$0: wixl is missing (apt-get install wixl)" >&2; exit 127; }
version=${VERSION:-$("$python" -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')}
work=$(mktemp -d "${TMPDIR:-/tmp}/pcmsi.XXXXXX")
trap 'rm -rf "$work"' EXIT
"$python" "$here/harvest.py" "$bundle" "$work/bundle-files.wxs"
service_defines=()
while IFS= read -r define; do service_defines+=(-D "$define"); done < <("$python" "$here/harvest.py" --service-exe "$bundle")
mkdir -p "$outdir"
output="$outdir/practice-client-$version.msi"
wixl -a x64 -D "Version=$version" -D IconFile=resources/icons/practice-client.ico "${service_defines[@]}" \
  -o "$output.tmp" "$here/practice-client.wxs" "$work/bundle-files.wxs" \
  2> >(grep -v -e "has no property named 'Secure'" -e "has no property named 'Platform'" -e '^$' >&2 || true)
mv -f "$output.tmp" "$output"
echo "$output"
