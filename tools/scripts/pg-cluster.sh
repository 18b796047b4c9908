#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster for the tests (tests/CMakeLists.txt runs
# it as the ctest fixture `postgresql`):
#
#   pg-cluster.sh start DIR    new cluster in DIR (a stale one there is removed
#                              first), started; prints its URL
#   pg-cluster.sh stop DIR     stops it (if running) and removes DIR
#   pg-cluster.sh pause DIR    stops it abruptly (pg_ctl stop -m immediate),
#                              keeping its data: a test's "PostgreSQL went away"
#   pg-cluster.sh resume DIR   starts it again on the same data
#   pg-cluster.sh url DIR      prints its URL (also in DIR/url)
#
# The URL is postgresql:///hotstate_test?host=DIR/socket&user=ROLE. The server
# listens on the Unix socket in DIR/socket only, with trust authentication, and
# logs to DIR/log. PostgreSQL refuses to run as root, so as root the cluster
# belongs to the system user hotstate-pg (created if missing) and every
# initdb/pg_ctl runs through runuser; otherwise it belongs to the current user.
# ROLE is that user; trust lets root's tests connect as it over the socket.
#
# For speed, fsync and full_page_writes are off: a commit survives the
# server's crash (pause) but not the machine's. HOTSTATE_PG_DURABLE=1 keeps
# PostgreSQL's durable defaults (benchmarks). HOTSTATE_PG_BIN names the
# directory of initdb and pg_ctl (default /usr/lib/postgresql/15/bin).
set -euo pipefail

usage() {
  echo "usage: pg-cluster.sh start|stop|pause|resume|url DIR" >&2
  exit 2
}
(($# == 2)) || usage
command=$1
case $command in
  start | stop | pause | resume | url) ;;
  *) usage ;;
esac
# Absolute, as it ends up in the URL; and cd / so that the unprivileged user
# is never left in a working directory it cannot read.
dir=$(realpath -m -- "$2")
cd /

pg_bin=${HOTSTATE_PG_BIN:-/usr/lib/postgresql/15/bin}
database=hotstate_test
system_user=hotstate-pg
data=$dir/data
socket=$dir/socket
log=$dir/log

if ((EUID == 0)); then
  owner=$system_user
  as_owner=(runuser -u "$system_user" --)
else
  owner=$(id -un)
  as_owner=()
fi

fail() {
  echo "pg-cluster: $*" >&2
  exit 1
}

# Percent-encodes a URL query value (a path may hold spaces, '&', '#', ...).
url_encode() {
  local LC_ALL=C value=$1 out='' c i
  for ((i = 0; i < ${#value}; i++)); do
    c=${value:i:1}
    case $c in
      [A-Za-z0-9._~/-]) out+=$c ;;
      *) out+=$(printf '%%%02X' "'$c") ;;
    esac
  done
  printf '%s' "$out"
}

print_log_and_fail() {
  [[ -f $log ]] && tail -n 40 "$log" >&2
  fail "$*"
}

pg_ctl() {
  "${as_owner[@]}" "$pg_bin/pg_ctl" -D "$data" "$@"
}

# Idempotent, and safe against a concurrent start (another build tree).
ensure_system_user() {
  id -u "$system_user" >/dev/null 2>&1 && return 0
  useradd --system --no-create-home --shell /usr/sbin/nologin "$system_user" ||
    id -u "$system_user" >/dev/null 2>&1 ||
    fail "could not create the system user $system_user"
}

# Whether DIR's postmaster.pid names a live postgres. A killed one may linger
# as a zombie (nothing reaps it in a container whose init does not), on which
# pg_ctl stop would wait.
server_alive() {
  local pid state
  [[ -f $data/postmaster.pid ]] || return 1
  read -r pid <"$data/postmaster.pid" || return 1
  [[ $pid =~ ^[0-9]+$ && $(cat "/proc/$pid/comm" 2>/dev/null) == postgres ]] || return 1
  state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 1
  [[ $state != Z ]]
}

start_cluster() {
  [[ -x $pg_bin/initdb ]] || fail "no $pg_bin/initdb (install-deps.sh: hotstate_install_postgresql_deps)"
  # sun_path holds 107 bytes; PostgreSQL would refuse a longer socket path.
  local socket_file=$socket/.s.PGSQL.5432
  ((${#socket_file} <= 107)) || fail "socket path too long for a Unix socket (${#socket_file} > 107): $socket_file"
  if ((EUID == 0)); then
    ensure_system_user
  fi
  # A server left running by an interrupted run would outlive its deleted directory.
  if server_alive; then
    pg_ctl stop -s -m immediate -w >/dev/null 2>&1 || true
  fi
  rm -rf -- "$dir"
  mkdir -p -- "$socket"
  : >"$log"
  if ((EUID == 0)); then
    chown -R "$system_user:" "$dir"
    "${as_owner[@]}" test -w "$socket" ||
      fail "$dir is not reachable by $system_user (a parent directory without o+x?)"
  fi

  # --no-sync: initdb's fsync of every file is most of its time.
  "${as_owner[@]}" "$pg_bin/initdb" -D "$data" -U "$owner" --auth=trust --encoding=UTF8 \
    --locale=C --no-sync --no-instructions >>"$log" 2>&1 ||
    print_log_and_fail "initdb failed in $data"

  {
    echo "# pg-cluster.sh: a throwaway test cluster"
    echo "listen_addresses = ''"
    echo "unix_socket_directories = '${socket//\'/\'\'}'"
    # One test runs 50 processes at once, each with a connection or more.
    echo "max_connections = 200"
    echo "shared_buffers = 32MB"
    # Dynamic shared memory as files in the data directory, removed with it:
    # a killed server leaves nothing in /dev/shm (64 MB in a Docker container).
    echo "dynamic_shared_memory_type = mmap"
    # No fsync: data outlives the server's crash (pause) but not the machine's.
    # synchronous_commit stays on: off, a commit acknowledged up to ~0.6 s
    # before a pause is lost, and with fsync off it costs only a write().
    if [[ ${HOTSTATE_PG_DURABLE:-} != 1 ]]; then
      echo "fsync = off"
      echo "full_page_writes = off"
    fi
  } >>"$data/postgresql.conf"

  pg_ctl start -s -w -t 60 -l "$log" >/dev/null || print_log_and_fail "the server did not start"
  "${as_owner[@]}" "$pg_bin/createdb" -h "$socket" -U "$owner" "$database" ||
    print_log_and_fail "createdb $database failed"

  printf 'postgresql:///%s?host=%s&user=%s\n' "$database" "$(url_encode "$socket")" \
    "$(url_encode "$owner")" >"$dir/url"
  cat "$dir/url"
}

case $command in
  start)
    start_cluster
    ;;
  stop)
    if server_alive; then
      pg_ctl stop -s -m fast -w >/dev/null 2>&1 || true
    fi
    rm -rf -- "$dir"
    ;;
  pause)
    [[ -d $data ]] || fail "no cluster in $dir"
    pg_ctl stop -s -m immediate -w >/dev/null || print_log_and_fail "could not stop the server"
    ;;
  resume)
    [[ -d $data ]] || fail "no cluster in $dir"
    pg_ctl start -s -w -t 60 -l "$log" >/dev/null || print_log_and_fail "the server did not start again"
    ;;
  url)
    [[ -f $dir/url ]] || fail "no cluster in $dir"
    cat "$dir/url"
    ;;
esac
