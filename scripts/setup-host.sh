#!/usr/bin/env bash
# Installs the Debian packages listed in scripts/host-packages.txt that are not
# installed yet (one apt-get run; nothing happens when all are present).
#   scripts/setup-host.sh            # install what is missing
#   scripts/setup-host.sh --check    # list what is missing, exit 1 if anything is
set -euo pipefail
cd "$(dirname "$0")/.."

mapfile -t wanted < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' scripts/host-packages.txt | grep -v '^$')
missing=()
for pkg in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "${pkg}" 2>/dev/null | grep -q 'install ok installed' || missing+=("${pkg}")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi
if [[ "${1:-}" == --check ]]; then
  printf 'missing Debian packages: %s\n' "${missing[*]}"
  exit 1
fi
command -v apt-get >/dev/null 2>&1 || {
  printf 'setup: these Debian packages are missing and there is no apt-get: %s\n' "${missing[*]}" >&2
  exit 1
}
[[ "$(id -u)" -eq 0 ]] || {
  printf 'setup: these Debian packages are missing; install them as root: apt-get install %s\n' "${missing[*]}" >&2
  exit 1
}
printf '==> apt-get install %s\n' "${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
