#!/usr/bin/env bash
# Installs the system packages keysweep's build and tests need (Debian/Ubuntu), only where missing.
# Safe to run repeatedly. Uses sudo when not root.
set -euo pipefail
# chromium: tests/html_report.rs renders the HTML report in headless Chromium.
# postgresql: tests/it/common/pg.rs starts a real PostgreSQL server (initdb, pg_ctl) for the shared-datastore tests.
PKGS=(libhyperscan-dev pkg-config git openssl docker-registry skopeo chromium postgresql)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "setup: installing ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
