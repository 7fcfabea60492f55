#!/usr/bin/env bash
# Install the Linux bundle for every user of the machine: /opt/practice-client, the
# `practice-client` command, the desktop entry with its icon, and the systemd user unit
# of the agent (not enabled: see docs/admin.md). Run again to update; data is untouched.
#
#   sudo installer/linux/install.sh [BUNDLE_DIR]      (default: dist/practice-client)
#
# DESTDIR=DIR installs below DIR instead of / (packaging, tests).
set -euo pipefail
bundle=${1:-dist/practice-client}
dest=${DESTDIR:-}
here=$(cd "$(dirname "$0")" && pwd)
icons="$here/../../resources/icons"
if [[ ! -x $bundle/practice-client || ! -x $bundle/practice-client-gui ]]; then
  echo "install.sh: $bundle: not a practice-client bundle (run make dist first)" >&2
  exit 1
fi

# The program folder is replaced as a whole: a copy first, then two renames. The copy
# belongs to root and only root can write it, whoever built the bundle (cp -a would keep
# the builder's ownership and modes: that user could then change the program every user
# runs); no set-id bits survive. Links inside the bundle stay links.
prefix="$dest/opt/practice-client"
mkdir -p "$dest/opt"
staging=$(mktemp -d "$dest/opt/.practice-client.XXXXXX")
trap 'rm -rf "$staging"' EXIT
cp -R "$bundle/." "$staging/"
chown -R -h 0:0 "$staging"
chmod -R u=rwX,go=rX "$staging"
if [[ -d $prefix ]]; then
  mv "$prefix" "$staging.old"
fi
mv "$staging" "$prefix"
rm -rf "$staging.old"

install -D -m 0644 "$here/practice-client.desktop" "$dest/usr/share/applications/practice-client.desktop"
install -D -m 0644 "$icons/practice-client-256.png" "$dest/usr/share/icons/hicolor/256x256/apps/practice-client.png"
install -D -m 0644 "$icons/practice-client.svg" "$dest/usr/share/icons/hicolor/scalable/apps/practice-client.svg"
install -D -m 0644 "$here/practice-client-agent.service" "$dest/usr/lib/systemd/user/practice-client-agent.service"
mkdir -p "$dest/usr/local/bin"
ln -sfn /opt/practice-client/practice-client "$dest/usr/local/bin/practice-client"
echo "installed to ${dest:-}/opt/practice-client"
