#!/usr/bin/env bash
# Builds, tests and documents the Rust crate (bindings/rust) against an
# installed libhotstate, found the way a user's build finds it: pkg-config.
#
#   rust-test.sh PKG_CONFIG_DIR WORK_DIR [test|doc]...
#
# PKG_CONFIG_DIR  the directory holding the installed hotstate.pc
# WORK_DIR        where the package is copied and built (in the build tree)
# test            cargo test (HOTSTATE_TOOL names the hotstate tool for the
#                 test that shares a file with it)
# doc             cargo doc --no-deps
#
# Debian 12's own cargo and rustc (/usr/bin; HOTSTATE_CARGO and HOTSTATE_RUSTC
# name others) build it offline against Debian's packaged crates
# (/usr/share/cargo/registry), through a CARGO_HOME of its own in WORK_DIR:
# the directory registry is this build's setting, never the user's.
#
# The package is copied first, so that the Cargo.lock cargo writes (with the
# directory registry's checksums) stays in the build tree and not beside the
# sources, where a build against crates.io would trip over it.
set -euo pipefail

if (($# < 3)); then
  echo "usage: rust-test.sh PKG_CONFIG_DIR WORK_DIR test|doc..." >&2
  exit 2
fi
pkg_config_dir=$1
work=$2
shift 2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cargo=${HOTSTATE_CARGO:-/usr/bin/cargo}
rustc=${HOTSTATE_RUSTC:-/usr/bin/rustc}
registry=/usr/share/cargo/registry

for tool in "$cargo" "$rustc"; do
  if [[ ! -x $tool ]]; then
    echo "rust-test.sh: $tool is missing (bash tools/scripts/install-deps.sh --rust)" >&2
    exit 1
  fi
done

package=$work/package
mkdir -p "$package" "$work/cargo-home"
# A fresh copy of the sources each run (a file removed from the sources must
# not linger); the target directory beside it keeps cargo's incremental state.
rm -rf "$package/src" "$package/tests"
cp -R "$here/bindings/rust/src" "$here/bindings/rust/tests" "$package/"
cp "$here/bindings/rust/Cargo.toml" "$here/bindings/rust/build.rs" "$here/bindings/rust/README.md" "$package/"
cat >"$work/cargo-home/config.toml" <<TOML
# Written by tools/scripts/rust-test.sh: Debian's packaged crates, offline.
[source.crates-io]
replace-with = "debian"

[source.debian]
directory = "$registry"

[net]
offline = true
TOML

export CARGO_HOME=$work/cargo-home
export CARGO_TARGET_DIR=$work/target
export RUSTC=$rustc
export RUSTDOC=${HOTSTATE_RUSTDOC:-$(dirname "$rustc")/rustdoc}
export PKG_CONFIG_PATH=$pkg_config_dir
# Warnings fail the build and the documentation (broken doc links included).
export RUSTFLAGS="-D warnings"
export RUSTDOCFLAGS="-D warnings"
unset HOTSTATE_LIB_DIR
cd "$package"
"$rustc" --version
for step in "$@"; do
  case $step in
    test) "$cargo" test --quiet ;;
    doc) "$cargo" doc --no-deps --quiet && test -f "$CARGO_TARGET_DIR/doc/hotstate/index.html" && echo "cargo doc: $CARGO_TARGET_DIR/doc/hotstate/index.html" ;;
    *)
      echo "rust-test.sh: unknown step '$step' (test, doc)" >&2
      exit 2
      ;;
  esac
done
