#!/usr/bin/env bash
# Builds the release configuration in build/release and runs the demo on the
# default database file, hotstate.db in the repository root:
#
#   bash tools/scripts/demo.sh
#
# Installs what is missing first (see install-deps.sh). Re-running it shows
# that history survives restarts.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# shellcheck source=tools/scripts/install-deps.sh
source tools/scripts/install-deps.sh
hotstate_install_deps

cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHOTSTATE_BUILD_TESTS=OFF
cmake --build build/release -j2 --target hotstate_cli
build/release/tools/hotstate --db hotstate.db demo
