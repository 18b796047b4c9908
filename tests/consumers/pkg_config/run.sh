#!/bin/sh
# Builds and runs hosts against an installed hotstate with nothing but
# pkg-config and the compilers, as a Makefile-based project would:
#   run.sh PREFIX LIBDIR WORK_DIR
# the C++ host against libhotstate.so and against libhotstate.a, and the C
# host (the C API, compiled as C) against libhotstate.so.
set -eu
prefix=$1
libdir=$prefix/$2
work=$3
here=$(cd "$(dirname "$0")" && pwd)
export PKG_CONFIG_PATH="$libdir/pkgconfig"
mkdir -p "$work"
cd "$work"

pkg-config --exists --print-errors hotstate
cflags=$(pkg-config --cflags hotstate)
libs=$(pkg-config --libs hotstate)
rpath="-Wl,-rpath,$(pkg-config --variable=libdir hotstate)"

# shellcheck disable=SC2086 # word splitting of the flags is intended
c++ -std=c++20 $cflags "$here/../find_package/host.cpp" -o host_shared $libs $rpath
./host_shared "$work/shared.db"

# Static: the archive itself, then what it needs (pkg-config --static).
static_libs=$(pkg-config --static --libs-only-l hotstate | sed 's/-lhotstate//')
# shellcheck disable=SC2086
c++ -std=c++20 $cflags "$here/../find_package/host.cpp" -o host_static "$libdir/libhotstate.a" \
  $(pkg-config --libs-only-L hotstate) $static_libs
./host_static "$work/static.db"

# shellcheck disable=SC2086
cc -std=c11 -Wall -Wextra -pedantic -Werror $cflags "$here/host.c" -o host_c $libs $rpath
./host_c "$work/c.db"
echo "pkg-config consumers: ok"
