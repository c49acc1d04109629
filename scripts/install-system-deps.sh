#!/usr/bin/env bash
# Installs the Debian packages listed in deps/apt.txt that are not installed yet.
# Runs `apt-get update` only when something is missing, so a ready machine pays nothing.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
list="${APT_LIST:-deps/apt.txt}"   # benchmarks/apt.txt for `make bench`
mapfile -t wanted < <(grep -vE '^\s*(#|$)' "$here/$list" | awk '{print $1}')
missing=()
for pkg in "${wanted[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0
echo "installing Debian packages: ${missing[*]}"
sudo=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
