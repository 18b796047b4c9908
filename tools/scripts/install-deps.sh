#!/usr/bin/env bash
# Installs what hotstate needs to build and test on Debian 12, but only when
# something is missing: with everything present it runs no apt-get at all, so
# it is safe to re-run and works offline.
#
# Source it and call hotstate_install_deps (as test.sh and demo.sh do), or run
# it: bash tools/scripts/install-deps.sh

HOTSTATE_DEB_PACKAGES=(g++ cmake ninja-build libsqlitecpp-dev libsqlite3-dev sqlite3 libsimdjson-dev catch2 libcli11-dev)

hotstate_install_deps() {
  local missing=() package status
  for package in "${HOTSTATE_DEB_PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null || true)
    if [[ $status != installed ]]; then
      missing+=("$package")
    fi
  done
  if ((${#missing[@]} == 0)); then
    return 0
  fi

  echo "install-deps: missing ${missing[*]}; installing with apt-get" >&2
  local sudo=()
  if ((EUID != 0)); then
    if command -v sudo >/dev/null 2>&1; then
      sudo=(sudo)
    else
      echo "install-deps: not root and no sudo; install as root: apt-get install ${HOTSTATE_DEB_PACKAGES[*]}" >&2
      return 1
    fi
  fi
  "${sudo[@]}" apt-get update
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends "${HOTSTATE_DEB_PACKAGES[@]}"
}

# Run directly: install now.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  set -euo pipefail
  hotstate_install_deps
fi
