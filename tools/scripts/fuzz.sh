#!/usr/bin/env bash
# hotstate's bounded fuzz run, for a fresh Debian 12 machine (as root):
#
#   bash tools/scripts/fuzz.sh [--build-only | --no-build] [target...]
#
# Installs what is missing (see install-deps.sh, including the fuzz toolchain:
# clang and libclang-rt-14-dev), configures build/fuzz with clang
# (-DHOTSTATE_FUZZ=ON: libFuzzer, AddressSanitizer and UBSan, the library
# instrumented for coverage), builds the targets of fuzz/ and runs each one for
# HOTSTATE_FUZZ_SECONDS seconds (default 20) on a copy of its checked-in
# corpus fuzz/corpus/<target>/, so the checkout is not modified. Targets
# default to all three: fuzz_from_bytes fuzz_json_parse fuzz_state_manager.
#
# Prints one summary line per target (executions, speed, final coverage). Any
# crash, sanitizer report, failed check, timeout (-timeout=10 s per input) or
# memory blow-up (-rss_limit_mb=2048) fails the script with a non-zero status,
# after every target ran; the failing target's log tail and the reproducer
# (build/fuzz/run/<target>/crash-*, ...) are shown. Reproduce with
#   build/fuzz/fuzz/<target> <reproducer>
# Full logs: build/fuzz/run/<target>/fuzz.log.
#
# --build-only stops after the build; --no-build runs what build/fuzz holds
# (test.sh builds every configuration first, then runs them).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# shellcheck source=tools/scripts/install-deps.sh
source tools/scripts/install-deps.sh
hotstate_install_deps
hotstate_install_fuzz_deps

build=1
run=1
case ${1:-} in
  --build-only)
    run=0
    shift
    ;;
  --no-build)
    build=0
    shift
    ;;
esac

all_targets=(fuzz_from_bytes fuzz_json_parse fuzz_state_manager)
targets=("$@")
if ((${#targets[@]} == 0)); then
  targets=("${all_targets[@]}")
fi
for target in "${targets[@]}"; do
  if [[ ! -d fuzz/corpus/$target ]]; then
    echo "fuzz.sh: unknown target '$target' (known: ${all_targets[*]})" >&2
    exit 2
  fi
done

seconds=${HOTSTATE_FUZZ_SECONDS:-20}
if [[ ! $seconds =~ ^[1-9][0-9]*$ ]]; then
  echo "fuzz.sh: HOTSTATE_FUZZ_SECONDS must be a positive number of seconds, not '$seconds'" >&2
  exit 2
fi

dir=build/fuzz
if ((build)); then
  # A build directory configured with another compiler cannot switch to clang.
  if [[ -f $dir/CMakeCache.txt ]] && ! grep -q '^CMAKE_CXX_COMPILER:[A-Z]*=.*clang++' "$dir/CMakeCache.txt"; then
    echo "fuzz.sh: $dir was configured with another compiler; starting it afresh"
    rm -rf "$dir"
  fi
  echo "== fuzz: configure and build in $dir"
  CC=clang CXX=clang++ cmake -S . -B "$dir" -G Ninja -DHOTSTATE_FUZZ=ON -DHOTSTATE_SANITIZE=address,undefined \
    -DHOTSTATE_BUILD_TESTS=OFF -DHOTSTATE_BUILD_TOOLS=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$dir" -j2 --target "${targets[@]}"
fi
if ((!run)); then
  exit 0
fi
for target in "${targets[@]}"; do
  if [[ ! -x $dir/fuzz/$target ]]; then
    echo "fuzz.sh: $dir/fuzz/$target is not built (run without --no-build)" >&2
    exit 2
  fi
done

# The state manager target's database files: in memory when /dev/shm exists.
scratch_parent=/dev/shm
if [[ ! -d $scratch_parent || ! -w $scratch_parent ]]; then
  scratch_parent=${TMPDIR:-/tmp}
fi
scratch=$(mktemp -d "$scratch_parent/hotstate-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

# A figure of -print_final_stats: "stat::<name>: <value>".
final_stat() {
  awk -v name="stat::$2:" '$1 == name { print $2 }' "$1" | tail -n 1
}

# A value of "key: value" on the last libFuzzer log line that matches $2.
field() {
  local log=$1 prefix=$2 key=$3
  grep -E "$prefix" "$log" | tail -n 1 | grep -oE "$key: [0-9]+" | head -n 1 | cut -d' ' -f2 || true
}

echo "== fuzz: ${targets[*]}, ${seconds} s each"
failed=()
for target in "${targets[@]}"; do
  workdir=$dir/run/$target
  rm -rf "$workdir"
  mkdir -p "$workdir"
  cp -R "fuzz/corpus/$target" "$workdir/corpus"
  chmod -R u+w "$workdir/corpus"
  seeds=$(find "$workdir/corpus" -type f | wc -l)
  log=$workdir/fuzz.log
  status=0
  HOTSTATE_FUZZ_DIR=$scratch \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$dir/fuzz/$target" "$workdir/corpus" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$workdir/" >"$log" 2>&1 || status=$?

  runs=$(final_stat "$log" number_of_executed_units)
  speed=$(final_stat "$log" average_exec_per_sec)
  rss=$(final_stat "$log" peak_rss_mb)
  cov_start=$(field "$log" 'INITED' cov)
  cov=$(field "$log" '^#[0-9]+' cov)
  ft=$(field "$log" '^#[0-9]+' ft)
  inputs=$(find "$workdir/corpus" -type f | wc -l)
  if ((status == 0)); then
    echo "fuzz: $target: ok, ${runs:-?} executions in ${seconds} s (${speed:-?}/s), coverage ${cov:-?} edges" \
      "(${cov_start:-?} from the seed corpus), ${ft:-?} features, corpus $seeds -> $inputs inputs, peak rss ${rss:-?} MB"
  else
    failed+=("$target")
    echo "fuzz: $target: FAILED (exit status $status) after ${runs:-?} executions; log $log"
    tail -n 60 "$log" | sed 's/^/  | /'
    for artifact in "$workdir"/crash-* "$workdir"/leak-* "$workdir"/timeout-* "$workdir"/oom-* "$workdir"/slow-unit-*; do
      if [[ -f $artifact ]]; then
        echo "  reproducer: $artifact (run: $dir/fuzz/$target $artifact)"
      fi
    done
  fi
done

if ((${#failed[@]} != 0)); then
  echo "fuzz.sh: failed: ${failed[*]}" >&2
  exit 1
fi
