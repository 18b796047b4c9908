#!/usr/bin/env bash
# hotstate's single test command, for a fresh Debian 12 machine (as root):
#
#   bash tools/scripts/test.sh
#
# Installs what is missing, then configures, builds and tests each
# configuration in its own directory:
#
#   asan     build/ci-asan     Debug, -DHOTSTATE_SANITIZE=address,undefined
#   tsan     build/ci-tsan     Debug, -DHOTSTATE_SANITIZE=thread
#   fuzz     build/fuzz        clang, -DHOTSTATE_FUZZ=ON: the libFuzzer targets of
#                              fuzz/ (ASan, UBSan), each run for
#                              HOTSTATE_FUZZ_SECONDS seconds (default 20) on a copy
#                              of its corpus, by tools/scripts/fuzz.sh
#   release  build/ci-release  RelWithDebInfo, -DHOTSTATE_WERROR=ON
#                              -DHOTSTATE_RUST_TESTS=ON: also the Rust crate's
#                              tests and cargo doc (bindings/rust), against the
#                              installed package, with Debian's cargo and rustc
#
# Sanitizer runs and the fuzz run come first and the release run last, so on
# success the last line printed is ctest's summary of the release run. The
# first failing build, test or fuzz run stops the script with a non-zero
# status, its output visible.
#
# HOTSTATE_TEST_CONFIGS selects configurations (default "asan tsan fuzz
# release"); they always run in the order above.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# shellcheck source=tools/scripts/install-deps.sh
source tools/scripts/install-deps.sh
hotstate_install_deps

all_configs=(asan tsan fuzz release)
read -r -a selected <<<"${HOTSTATE_TEST_CONFIGS:-asan tsan fuzz release}"
for config in "${selected[@]}"; do
  case $config in
    asan | tsan | fuzz | release) ;;
    *)
      echo "test.sh: unknown configuration '$config' in HOTSTATE_TEST_CONFIGS (known: ${all_configs[*]})" >&2
      exit 2
      ;;
  esac
done
configs=()
for config in "${all_configs[@]}"; do
  for wanted in "${selected[@]}"; do
    if [[ $wanted == "$config" ]]; then
      configs+=("$config")
      break
    fi
  done
done
if ((${#configs[@]} == 0)); then
  echo "test.sh: HOTSTATE_TEST_CONFIGS selects no configuration" >&2
  exit 2
fi

cmake_args() {
  case $1 in
    asan) echo "-DCMAKE_BUILD_TYPE=Debug -DHOTSTATE_SANITIZE=address,undefined" ;;
    tsan) echo "-DCMAKE_BUILD_TYPE=Debug -DHOTSTATE_SANITIZE=thread" ;;
    release) echo "-DCMAKE_BUILD_TYPE=RelWithDebInfo -DHOTSTATE_WERROR=ON -DHOTSTATE_RUST_TESTS=ON" ;;
  esac
}

for config in "${configs[@]}"; do
  if [[ $config == release ]]; then
    # Only the release configuration tests the Rust crate: cargo's test
    # programs load libhotstate.so, which a sanitizer build cannot be.
    hotstate_install_rust_deps
  fi
  if [[ $config != fuzz ]]; then
    # Every configuration that runs ctest runs the report tests, which open
    # the tool's HTML in headless Chromium (a process of its own, so also
    # under ASan and TSan).
    hotstate_install_report_deps
    # ... and the PostgreSQL tests, on a throwaway cluster that ctest starts
    # (the fixture postgresql, tools/scripts/pg-cluster.sh).
    hotstate_install_postgresql_deps
  fi
done

for config in "${configs[@]}"; do
  if [[ $config == fuzz ]]; then
    # Installs clang and libclang-rt-14-dev if missing, configures build/fuzz with clang.
    bash tools/scripts/fuzz.sh --build-only
    continue
  fi
  dir=build/ci-$config
  echo "== $config: configure and build in $dir"
  # shellcheck disable=SC2046 # the arguments are split on purpose
  cmake -S . -B "$dir" -G Ninja $(cmake_args "$config")
  cmake --build "$dir" -j2
done

for config in "${configs[@]}"; do
  if [[ $config == fuzz ]]; then
    echo "== fuzz: bounded libFuzzer run in build/fuzz"
    bash tools/scripts/fuzz.sh --no-build
    continue
  fi
  dir=build/ci-$config
  echo "== $config: ctest in $dir"
  case $config in
    asan)
      ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        ctest --test-dir "$dir" -j2 --output-on-failure --no-tests=error
      ;;
    tsan)
      # TSan is for threads. Left to the ASan and release runs: the tests
      # whose work is many single-threaded processes or one browser (the 50
      # replicating hosts, the replicator killed again and again, the random
      # sequences shipped once, the report of 100,000 events), which under
      # TSan cost minutes and race nothing.
      tsan_elsewhere='report of 100 plugins and 100,000 events|^50 hosts ship|replicator killed with SIGKILL|random operations shipped with replicate_once'
      TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
        ctest --test-dir "$dir" -j2 --output-on-failure --no-tests=error -E "$tsan_elsewhere"
      ;;
    release)
      # ctest ends with "Total Test time"; repeat its summary line so that it
      # is the script's last line of output.
      log=$dir/ctest.log
      status=0
      ctest --test-dir "$dir" -j2 --output-on-failure --no-tests=error 2>&1 | tee "$log" || status=$?
      if ((status != 0)); then
        echo "test.sh: the release configuration failed"
      fi
      grep -E '^[0-9]+% tests passed' "$log" | tail -n 1 || true
      exit "$status"
      ;;
  esac
done
