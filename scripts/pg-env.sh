# shellcheck shell=bash
# Sourced by scripts/test.sh before `cargo test`: points DATABASE_URL at a PostgreSQL
# server for the store tests (perfstore, perfan), which run every test on SQLite and
# on PostgreSQL.
#
#   1. DATABASE_URL already set: used as it is.
#   2. A server answers on 127.0.0.1:5432: postgres://postgres@127.0.0.1:5432/postgres
#      (trust authentication, as on the project's machines).
#   3. Otherwise a throwaway cluster: initdb + pg_ctl in a temp directory on a free
#      port (unix socket in that directory), installing Debian's `postgresql` package
#      when initdb is missing; stopped and removed when the script exits.
#
#   PERFAN_PG_THROWAWAY=1   always use a throwaway cluster (3)
#   PERFAN_SKIP_PG=1        run no PostgreSQL test: the tests say so, and at exit this
#                           prints that PostgreSQL tests did not run and fails under CI
#
# Use it alone:  source scripts/pg-env.sh && cargo test -p perfstore
# If no server can be had, sourcing fails (never a silent green run).

_pg_log() { printf '== pg-env: %s\n' "$*" >&2; }

_pg_on_exit() {
    local status=$?
    if [ -n "${_PG_DIR:-}" ] && [ -d "$_PG_DIR" ]; then
        _pg_as_owner "$_PG_BIN/pg_ctl" -D "$_PG_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
        rm -rf "$_PG_DIR"
    fi
    if [ "${PERFAN_SKIP_PG:-0}" = 1 ]; then
        printf '\n== PostgreSQL tests did NOT run (PERFAN_SKIP_PG=1): only SQLite was tested\n' >&2
        if [ -n "${CI:-}" ] && [ "$status" = 0 ]; then
            printf '== failing: CI must test both backends\n' >&2
            status=1
        fi
    fi
    exit "$status"
}

# Runs a command as the cluster's owner: root may not run initdb or postgres.
_pg_as_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

_pg_find_bin() {
    local d
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    if [ -n "$d" ] && [ -x "$d/initdb" ]; then
        echo "$d"
    elif command -v initdb >/dev/null 2>&1; then
        dirname "$(command -v initdb)"
    fi
}

_pg_free_port() {
    local p
    for p in $(seq 54329 54429); do
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

_pg_throwaway() {
    _PG_BIN=$(_pg_find_bin)
    if [ -z "$_PG_BIN" ]; then
        _pg_log "initdb not found: installing postgresql"
        if declare -F apt_install >/dev/null; then
            apt_install postgresql
        elif [ "${SKIP_INSTALL:-0}" != 1 ]; then
            local sudo=""
            if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null; then sudo=sudo; fi
            DEBIAN_FRONTEND=noninteractive $sudo apt-get update -qq || true
            DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql
        fi
        _PG_BIN=$(_pg_find_bin)
        if [ -z "$_PG_BIN" ]; then
            _pg_log "no PostgreSQL: install the postgresql package, set DATABASE_URL, or set PERFAN_SKIP_PG=1 to skip its tests"
            return 1
        fi
    fi
    if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
        useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
    fi
    local port
    port=$(_pg_free_port) || { _pg_log "no free port for PostgreSQL"; return 1; }
    _PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/perfan-pg.XXXXXX")
    chmod 755 "$_PG_DIR"
    if [ "$(id -u)" = 0 ]; then chown postgres "$_PG_DIR"; fi
    trap _pg_on_exit EXIT
    _pg_log "throwaway cluster in $_PG_DIR on port $port ($_PG_BIN)"
    _pg_as_owner "$_PG_BIN/initdb" -D "$_PG_DIR/data" -U postgres --auth=trust -E UTF8 \
        --no-sync >"$_PG_DIR/initdb.log" 2>&1 || {
        cat "$_PG_DIR/initdb.log" >&2
        return 1
    }
    # A test cluster: durability off for speed (benchmarks use a real server).
    _pg_as_owner "$_PG_BIN/pg_ctl" -D "$_PG_DIR/data" -l "$_PG_DIR/server.log" -w -t 60 \
        -o "-p $port -k $_PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
        start >/dev/null || {
        cat "$_PG_DIR/server.log" >&2
        return 1
    }
    export DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
}

pg_env_setup() {
    if [ "${PERFAN_SKIP_PG:-0}" = 1 ]; then
        _pg_log "PERFAN_SKIP_PG=1: PostgreSQL tests will not run"
        trap _pg_on_exit EXIT
        return 0
    fi
    if [ "${PERFAN_PG_THROWAWAY:-0}" != 1 ]; then
        if [ -n "${DATABASE_URL:-}" ]; then
            _pg_log "using DATABASE_URL from the environment"
            return 0
        fi
        if command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h 127.0.0.1 -p 5432; then
            export DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres
            _pg_log "using the server on 127.0.0.1:5432"
            return 0
        fi
    fi
    _pg_throwaway
}

pg_env_setup
