#!/usr/bin/env bash
# Install the Linux bundle for every user of the machine: /opt/practice-client, the
# `practice-client` command, the desktop entry with its icon, and the systemd user unit
# of the agent (not enabled: see docs/admin.md). Run again to update; data is untouched.
#
#   sudo installer/linux/install.sh [BUNDLE_DIR [KEY=value ...]]   (default: dist/practice-client)
#
# KEY=value: the policy, with the MSI's property names (SERVER_URL=... SPKI_PINS=a,b
# CA_FILE=... DNS_SERVER=... LOCK_SETTINGS=1, see docs/admin.md).
# SERVICE=1: this machine runs the practice service (the "Praxis-Server" of the MSI): the
# system unit practice-client.service is installed, its account `practice-client` and its
# vault key (a systemd credential) are created, and it is enabled and started. Without it
# the unit file is installed but not enabled (a workstation).
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

# Policy: KEY=value arguments with the MSI's property names become the machine's policy
# /etc/practice-client/policy.toml (root-owned, mode 0644), replacing the one there; without
# any, the policy already on the machine is kept (an update changes nothing). All are
# checked before anything is installed.
policy_keys=" SERVER_URL PRACTICE_ID PLATFORM_DOMAIN EXPORT_DIR IDENT_KEY_FINGERPRINT CA_FILE SPKI_PINS DNS_SERVER GPG_BINARY PROXY PROXY_PAC_URL PROXY_USER LOCK_SETTINGS NUMBER_ONLY_MATCHING PMS_IMPORT_DIR SHARE_NAME_PATTERN MAX_SHARE_MB SCANNER CLAMD_ADDRESS SCANNER_COMMAND LOCAL_USER_IS_ADMIN "
policy_lines=()
service=0
for arg in "${@:2}"; do
  [[ $arg == *=* ]] || { echo "install.sh: $arg: not KEY=value" >&2; exit 1; }
  key=${arg%%=*}
  value=${arg#*=}
  if [[ $key == SERVICE ]]; then
    case $value in
      1 | true | yes) service=1 ;;
      0 | false | no) service=0 ;;
      *) echo "install.sh: SERVICE must be 1 or 0" >&2; exit 1 ;;
    esac
    continue
  fi
  [[ $policy_keys == *" $key "* ]] || { echo "install.sh: $key: unknown setting" >&2; exit 1; }
  [[ $value != *[[:cntrl:]]* ]] || { echo "install.sh: $key: control characters in the value" >&2; exit 1; }
  if [[ $key == LOCK_SETTINGS ]]; then
    case $value in
      1 | true | yes) policy_lines+=("LOCK_SETTINGS = true") ;;
      0 | false | no) policy_lines+=("LOCK_SETTINGS = false") ;;
      *) echo "install.sh: LOCK_SETTINGS must be 1 or 0" >&2; exit 1 ;;
    esac
  else
    value=${value//\\/\\\\}
    policy_lines+=("$key = \"${value//\"/\\\"}\"")
  fi
done

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

if ((${#policy_lines[@]})); then
  policy_dir="$dest/etc/practice-client"
  mkdir -p "$policy_dir"
  chmod 0755 "$policy_dir"
  policy_tmp=$(mktemp "$policy_dir/.policy.XXXXXX")
  printf '# written by installer/linux/install.sh\n' >"$policy_tmp"
  printf '%s\n' "${policy_lines[@]}" >>"$policy_tmp"
  chmod 0644 "$policy_tmp"
  mv -f "$policy_tmp" "$policy_dir/policy.toml"
fi
install -D -m 0644 "$here/practice-client.desktop" "$dest/usr/share/applications/practice-client.desktop"
install -D -m 0644 "$icons/practice-client-256.png" "$dest/usr/share/icons/hicolor/256x256/apps/practice-client.png"
install -D -m 0644 "$icons/practice-client.svg" "$dest/usr/share/icons/hicolor/scalable/apps/practice-client.svg"
install -D -m 0644 "$here/practice-client-agent.service" "$dest/usr/lib/systemd/user/practice-client-agent.service"
install -D -m 0644 "$here/practice-client.service" "$dest/etc/systemd/system/practice-client.service"
mkdir -p "$dest/usr/local/bin"
ln -sfn /opt/practice-client/practice-client "$dest/usr/local/bin/practice-client"
if ((service)); then
  if [[ -n $dest ]]; then
    echo "install.sh: SERVICE=1 with DESTDIR: the unit is installed, not enabled" >&2
  else
    id practice-client >/dev/null 2>&1 ||
      useradd --system --home-dir /var/lib/practice-client --no-create-home --shell /usr/sbin/nologin practice-client
    vault_key=/etc/credstore.encrypted/practice-client-vault-key
    [[ -f $vault_key ]] || /opt/practice-client/practice-client service credential --create "$vault_key"
    systemctl daemon-reload
    systemctl enable --now practice-client.service
  fi
fi
echo "installed to ${dest:-}/opt/practice-client"
