#!/usr/bin/env bash
# Installs what hotstate needs to build and test on Debian 12, but only when
# something is missing: with everything present it runs no apt-get at all, so
# it is safe to re-run and works offline.
#
# Source it and call hotstate_install_deps (as test.sh and demo.sh do), or run
# it: bash tools/scripts/install-deps.sh
#
# The fuzz targets (fuzz/, tools/scripts/fuzz.sh) also need clang with its
# compiler-rt (libFuzzer, ASan, UBSan): hotstate_install_fuzz_deps, or
# bash tools/scripts/install-deps.sh --fuzz for both lists.
#
# The Rust crate's tests (bindings/rust, tools/scripts/rust-test.sh) need
# Debian's cargo and rustc and the crates it uses, as Debian packages them:
# hotstate_install_rust_deps, or --rust.
#
# The tests of `hotstate report` (tests/report_test.cpp) open the HTML file it
# writes in headless Chromium: hotstate_install_report_deps, or --report.
#
# The PostgreSQL tests (tests/postgresql_*; the ctest fixture `postgresql`)
# run a throwaway PostgreSQL 15 cluster (tools/scripts/pg-cluster.sh):
# hotstate_install_postgresql_deps, or --postgresql.

# libpq-dev: the library links libpq (PostgreSQL's client library).
HOTSTATE_DEB_PACKAGES=(gcc g++ cmake pkgconf ninja-build libsqlitecpp-dev libsqlite3-dev sqlite3 libsimdjson-dev catch2 libcli11-dev
  libpq-dev)
# clang and clang++ (the clang package; clang-14 on Debian 12) and
# libclang-rt-14-dev, which holds libclang_rt.fuzzer and the sanitizer runtimes
# (only recommended by clang-14, so --no-install-recommends would skip it).
HOTSTATE_FUZZ_DEB_PACKAGES=(clang libclang-rt-14-dev)
# Debian 12's cargo and rustc (1.63), and the crates the crate builds on from
# /usr/share/cargo/registry: serde (+ derive), serde_json, tokio (+ its macros,
# for the tests' #[tokio::test]).
HOTSTATE_RUST_DEB_PACKAGES=(cargo rustc librust-serde-dev librust-serde-derive-dev librust-serde-json-dev
  librust-tokio-dev librust-tokio-macros-dev)
# Debian 12's chromium (/usr/bin/chromium), run headless by the report tests.
HOTSTATE_REPORT_DEB_PACKAGES=(chromium)
# Debian 12's PostgreSQL 15 server (initdb, pg_ctl in /usr/lib/postgresql/15/bin).
# The script also needs runuser (util-linux) and useradd (passwd), both of
# priority required, so on every Debian system.
HOTSTATE_POSTGRESQL_DEB_PACKAGES=(postgresql)

hotstate_install_deps() {
  hotstate_install_packages "${HOTSTATE_DEB_PACKAGES[@]}"
}

hotstate_install_fuzz_deps() {
  hotstate_install_packages "${HOTSTATE_FUZZ_DEB_PACKAGES[@]}"
}

hotstate_install_rust_deps() {
  hotstate_install_packages "${HOTSTATE_RUST_DEB_PACKAGES[@]}"
}

hotstate_install_report_deps() {
  hotstate_install_packages "${HOTSTATE_REPORT_DEB_PACKAGES[@]}"
}

hotstate_install_postgresql_deps() {
  # The tests start a throwaway cluster of their own: no system cluster
  # ("15 main", a service on port 5432) is created when the package is first
  # installed here. A machine that has one keeps it.
  if ! dpkg-query -W -f='${Status}' postgresql-15 2>/dev/null | grep -q "ok installed"; then
    mkdir -p /etc/postgresql-common/createcluster.d
    echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.d/hotstate-no-main-cluster.conf
  fi
  hotstate_install_packages "${HOTSTATE_POSTGRESQL_DEB_PACKAGES[@]}"
}

# Installs the given Debian packages with apt-get if any of them is missing.
hotstate_install_packages() {
  local packages=("$@")
  local missing=() package status
  for package in "${packages[@]}"; do
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
      echo "install-deps: not root and no sudo; install as root: apt-get install ${packages[*]}" >&2
      return 1
    fi
  fi
  "${sudo[@]}" apt-get update
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends "${packages[@]}"
}

# Run directly: install now.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  set -euo pipefail
  hotstate_install_deps
  for option in "$@"; do
    case $option in
      --fuzz) hotstate_install_fuzz_deps ;;
      --rust) hotstate_install_rust_deps ;;
      --report) hotstate_install_report_deps ;;
      --postgresql) hotstate_install_postgresql_deps ;;
      *)
        echo "install-deps: unknown option '$option' (--fuzz, --rust, --report, --postgresql)" >&2
        exit 2
        ;;
    esac
  done
fi
