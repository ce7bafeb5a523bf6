# shellcheck shell=bash
# Sourced by .ci/run: starts a throwaway PostgreSQL cluster for the @cachevol/store-postgres
# tests and exports CACHEVOL_TEST_POSTGRES_URL; postgres_cleanup stops it and removes it.
# Nothing is installed: CI uses the PostgreSQL that is on the machine (Debian's postgresql,
# /usr/lib/postgresql/<version>/bin), and fails here, loudly, when it is missing. The server
# runs as the postgres user (it refuses to run as root), on a unix socket in its own temporary
# directory and on a free port on 127.0.0.1.
#
# Try it by hand:
#   bash -c '. .ci/postgres.sh; postgres_setup; psql "$CACHEVOL_TEST_POSTGRES_URL" -c "select 1"; postgres_cleanup'

# The cluster's directory (data/, the socket, logs) and the server binaries; empty until setup.
CACHEVOL_PG_DIR=""
CACHEVOL_PG_BIN=""

# The newest /usr/lib/postgresql/<version>/bin that has initdb and pg_ctl.
postgres_bindir() {
  local dir found=""
  for dir in /usr/lib/postgresql/*/bin; do
    if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then found="$dir"; fi
  done
  [ -n "$found" ] && echo "$found"
}

# Runs a server command as the postgres user when we are root (initdb and postgres refuse root).
postgres_as() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

postgres_setup() {
  local bin dir port _
  if ! bin="$(postgres_bindir)"; then
    echo "::: ERROR: PostgreSQL's server binaries are not under /usr/lib/postgresql/*/bin;" \
      "the store-postgres tests need them (Debian: apt-get install postgresql)" >&2
    return 1
  fi
  CACHEVOL_PG_BIN="$bin"
  dir="$(mktemp -d "${TMPDIR:-/tmp}/cachevol-ci-pg-XXXXXX")"
  CACHEVOL_PG_DIR="$dir"
  if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$dir"; fi
  echo "::: starting PostgreSQL ($("$bin/postgres" --version)) in $dir"
  if ! postgres_as "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C --no-sync \
    >"$dir/initdb.log" 2>&1; then
    cat "$dir/initdb.log" >&2
    return 1
  fi
  for _ in $(seq 1 50); do
    port=$((20000 + RANDOM % 40000))
    # Nothing answers on it: free (a race with another process is caught by pg_ctl below).
    if ! (: <"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
  done
  if ! postgres_as "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-k $dir -p $port -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null; then
    cat "$dir/server.log" >&2
    return 1
  fi
  # A collation that does not sort by bytes, so the tests see that the store's ordering does.
  if ! "$bin/psql" -h "$dir" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -q \
    -c "CREATE DATABASE cachevol_test LOCALE_PROVIDER icu ICU_LOCALE 'en-US' TEMPLATE template0" 2>/dev/null; then
    "$bin/psql" -h "$dir" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -q -c "CREATE DATABASE cachevol_test"
  fi
  export CACHEVOL_TEST_POSTGRES_URL="postgres://postgres@/cachevol_test?host=$dir&port=$port"
  echo "::: CACHEVOL_TEST_POSTGRES_URL=$CACHEVOL_TEST_POSTGRES_URL"
}

postgres_cleanup() {
  local dir
  # Clusters that test files started and a killed run left behind (cachevol-test-pg-*; the
  # directories themselves go with backends_cleanup), then the one setup started.
  for dir in "${TMPDIR:-/tmp}"/cachevol-test-pg-* "$CACHEVOL_PG_DIR"; do
    if [ -z "$dir" ] || [ ! -f "$dir/data/postmaster.pid" ]; then continue; fi
    echo "::: stopping PostgreSQL in $dir"
    postgres_as "${CACHEVOL_PG_BIN:-$(postgres_bindir)}/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 ||
      postgres_as "${CACHEVOL_PG_BIN:-$(postgres_bindir)}/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 ||
      true
  done
  if [ -n "$CACHEVOL_PG_DIR" ]; then rm -rf "$CACHEVOL_PG_DIR"; fi
  CACHEVOL_PG_DIR=""
  unset CACHEVOL_TEST_POSTGRES_URL
  return 0
}
