#!/usr/bin/env bash
# hotstate's benchmark, for a fresh Debian 12 machine (as root):
#
#   bash tools/scripts/bench.sh
#
# Installs what is missing (see install-deps.sh), builds the release
# configuration in build/release and runs tools/bench (hotstate_bench) with its
# data files in build/bench-data, on the same disk as the checkout. Prints one
# line per figure with the raw SQLite baseline measured in the same run, the
# ratio and the target. Extra arguments go to hotstate_bench (e.g. --quick).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# shellcheck source=tools/scripts/install-deps.sh
source tools/scripts/install-deps.sh
hotstate_install_deps

cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHOTSTATE_BUILD_TESTS=OFF >/dev/null
cmake --build build/release -j2 --target hotstate_bench hotstate_bench_scaling hotstate_bench_space hotstate_bench_json hotstate_bench_verify hotstate_bench_trim hotstate_bench_coherence >/dev/null
build/release/tools/hotstate_bench --dir build/bench-data "$@"
