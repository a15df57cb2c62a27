#!/usr/bin/env bash
# Runs the whole test suite: every crate, every feature, on SQLite,
# PostgreSQL and MariaDB.
#
#   bash scripts/test.sh
#
# What it does, in order:
#   1. installs the C client libraries diesel links against
#      (default-libmysqlclient-dev, libpq-dev) with apt-get, and
#      cargo-nextest, only if missing (scripts/install-deps.sh);
#   2. starts the local PostgreSQL and MariaDB servers if they do not answer,
#      and waits (up to ~30 s each) until they accept connections; and
#      starts a throwaway MariaDB that logs statements on port 3307 (a
#      temporary data directory, stopped and removed when the script ends)
#      for one test, unless ORM_TEST_MYSQL_BINLOG_URL names one;
#   3. runs `cargo nextest run --workspace --all-features`;
#   4. runs the doctests, `cargo test --workspace --all-features --doc`
#      (nextest does not run them);
#   5. runs the tests of models wider than 32 columns (40 and 64),
#      `wide-tables/`: a cargo workspace of its own, with diesel's
#      `64-column-tables` (which would slow every build of the main
#      workspace). Its build starts in the background after step 1, in its
#      own target directory (target/wide-tables; cargo builds one thing at
#      a time in a target directory), so it overlaps steps 2 to 4; its log
#      is target/wide-tables-build.log. Steps 3 and 4 run at a lower
#      priority (nice 5), so that build's one long compiler process
#      (diesel) keeps a core. Skipped when arguments are passed to nextest.
#      The 100-column model (`--features columns-128`, diesel's
#      `128-column-tables`: about 5 more CPU-minutes and 11 GB) is not run
#      here; see wide-tables/Cargo.toml.
#
# Servers: the tests use ORM_TEST_POSTGRES_URL and ORM_TEST_MYSQL_URL
# (defaults postgres://postgres@127.0.0.1:5432/test and
# mysql://root@127.0.0.1:3306/test). When one of them is set, this script
# leaves that server alone. A server the tests cannot reach makes its tests
# fail under CI=true and be skipped, with a message, otherwise; CI is passed
# through unchanged.
#
# Extra arguments go to nextest, e.g. `bash scripts/test.sh -E 'test(crud)'`
# (the main workspace's run only).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Pass CI through as the caller set it (the test harness reads it).
if [[ -n "${CI+set}" ]]; then
    export CI
fi

source scripts/common.sh

# --- 1. system packages and cargo-nextest ----------------------------------
bash scripts/install-deps.sh

# Step 5's build, in the background (it needs the client libraries above).
WIDE_TARGET=target/wide-tables
WIDE_LOG=target/wide-tables-build.log
WIDE_PID=""
if [[ $# -eq 0 ]]; then
    mkdir -p target
    say "building wide-tables/ in the background (log: $WIDE_LOG)"
    cargo nextest run --manifest-path wide-tables/Cargo.toml --target-dir "$WIDE_TARGET" \
        --no-run >"$WIDE_LOG" 2>&1 &
    WIDE_PID=$!
fi

# What this script started that must not outlive it: step 5's build (if
# the script fails before waiting for it) and the statement-logging
# MariaDB of step 2.
BINLOG_DIR=""
BINLOG_PID=""
cleanup() {
    if [[ -n "$WIDE_PID" ]]; then
        kill "$WIDE_PID" 2>/dev/null || true
    fi
    if [[ -n "$BINLOG_PID" ]]; then
        kill "$BINLOG_PID" 2>/dev/null || true
        wait "$BINLOG_PID" 2>/dev/null || true
    fi
    if [[ -n "$BINLOG_DIR" ]]; then
        rm -rf "$BINLOG_DIR"
    fi
}
trap cleanup EXIT

# --- 2. database servers ----------------------------------------------------
# Waits until "$@" succeeds, for at most 30 s.
wait_for() {
    local i
    for i in $(seq 1 60); do
        if "$@" >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.5
    done
    return 1
}

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432; }

mysql_admin() {
    if command -v mariadb-admin >/dev/null 2>&1; then
        mariadb-admin "$@"
    else
        mysqladmin "$@"
    fi
}
mysql_up() { mysql_admin --protocol=tcp -h 127.0.0.1 -P 3306 -uroot --connect-timeout=2 ping >/dev/null 2>&1; }

if [[ -n "${ORM_TEST_POSTGRES_URL:-}" ]]; then
    say "PostgreSQL: using ORM_TEST_POSTGRES_URL, not managing the local server"
elif ! command -v pg_isready >/dev/null 2>&1 || ! command -v pg_ctlcluster >/dev/null 2>&1; then
    warn "PostgreSQL is not installed here; its tests fail under CI=true and are skipped otherwise"
elif pg_up; then
    say "PostgreSQL is accepting connections"
else
    say "starting PostgreSQL"
    for version in $(ls /etc/postgresql 2>/dev/null); do
        as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    done
    if wait_for pg_up; then
        echo "PostgreSQL is accepting connections"
    else
        warn "PostgreSQL did not start within 30 s"
    fi
fi
if [[ -z "${ORM_TEST_POSTGRES_URL:-}" ]] && command -v psql >/dev/null 2>&1 && pg_up; then
    # The tests connect to the database `test`; create it if it is missing.
    if [[ -z $(psql -h 127.0.0.1 -U postgres -d postgres -Atc \
        "SELECT 1 FROM pg_database WHERE datname = 'test'" 2>/dev/null) ]]; then
        psql -h 127.0.0.1 -U postgres -d postgres -qc 'CREATE DATABASE test' || true
    fi
fi

if [[ -n "${ORM_TEST_MYSQL_URL:-}" ]]; then
    say "MariaDB: using ORM_TEST_MYSQL_URL, not managing the local server"
elif [[ ! -x /usr/sbin/mariadbd ]]; then
    warn "MariaDB is not installed here; its tests fail under CI=true and are skipped otherwise"
elif mysql_up; then
    say "MariaDB is accepting connections"
else
    say "starting MariaDB"
    as_root mkdir -p /run/mysqld
    as_root chown mysql:mysql /run/mysqld 2>/dev/null || true
    as_root start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || true
    if wait_for mysql_up; then
        echo "MariaDB is accepting connections"
    else
        warn "MariaDB did not start within 30 s"
    fi
fi
if [[ -z "${ORM_TEST_MYSQL_URL:-}" ]] && command -v mariadb >/dev/null 2>&1 && mysql_up; then
    mariadb --protocol=tcp -h 127.0.0.1 -P 3306 -uroot -e 'CREATE DATABASE IF NOT EXISTS test' || true
fi

# A second, throwaway MariaDB that logs statements (`log_bin`,
# `binlog_format = STATEMENT`) on 127.0.0.1:3307, for the test of the ORM's
# own writes on such a server (they fall back from READ COMMITTED, which
# it refuses). Its data directory is a temporary one; it is stopped and
# the directory removed at exit. Any failure here only warns: that one
# test then fails under CI=true and is skipped otherwise.
start_binlog_mariadb() {
    local user=()
    if [[ $(id -u) -eq 0 ]]; then
        user=(--user=root)
    fi
    if mysql_admin --protocol=tcp -h 127.0.0.1 -P 3307 -uroot --connect-timeout=2 ping >/dev/null 2>&1; then
        warn "port 3307 is taken; not starting the statement-logging MariaDB"
        return 1
    fi
    BINLOG_DIR=$(mktemp -d /tmp/orm-binlog-mariadb.XXXXXX)
    if ! mariadb-install-db --no-defaults --datadir="$BINLOG_DIR/data" "${user[@]}" \
        --auth-root-authentication-method=normal >"$BINLOG_DIR/install.log" 2>&1; then
        warn "mariadb-install-db failed (log: $BINLOG_DIR/install.log)"
        return 1
    fi
    /usr/sbin/mariadbd --no-defaults --datadir="$BINLOG_DIR/data" "${user[@]}" \
        --port=3307 --bind-address=127.0.0.1 --socket="$BINLOG_DIR/sock" \
        --pid-file="$BINLOG_DIR/pid" --log-bin="$BINLOG_DIR/binlog" \
        --binlog-format=STATEMENT --server-id=2 >"$BINLOG_DIR/server.log" 2>&1 &
    BINLOG_PID=$!
    # Ours answers on its own socket while its process lives.
    binlog_up() { kill -0 "$BINLOG_PID" 2>/dev/null && mysql_admin --socket="$BINLOG_DIR/sock" -uroot ping; }
    if ! wait_for binlog_up; then
        warn "the statement-logging MariaDB did not start within 30 s (log: $BINLOG_DIR/server.log)"
        return 1
    fi
    mariadb --socket="$BINLOG_DIR/sock" -uroot -e 'CREATE DATABASE IF NOT EXISTS test' || return 1
    export ORM_TEST_MYSQL_BINLOG_URL=mysql://root@127.0.0.1:3307/test
}
if [[ -n "${ORM_TEST_MYSQL_BINLOG_URL:-}" ]]; then
    say "statement-logging MariaDB: using ORM_TEST_MYSQL_BINLOG_URL"
elif [[ ! -x /usr/sbin/mariadbd ]] || ! command -v mariadb-install-db >/dev/null 2>&1; then
    warn "MariaDB is not installed here; the statement-logging test fails under CI=true and is skipped otherwise"
else
    say "starting a statement-logging MariaDB on port 3307"
    if start_binlog_mariadb; then
        echo "statement-logging MariaDB is accepting connections"
    fi
fi

# --- 3. tests ---------------------------------------------------------------
say "cargo nextest run --workspace --all-features"
nice -n 5 cargo nextest run --workspace --all-features --no-fail-fast "$@"

say "cargo test --workspace --all-features --doc"
nice -n 5 cargo test --workspace --all-features --doc

# --- 5. tables wider than 32 columns ----------------------------------------
if [[ -n "$WIDE_PID" ]]; then
    say "cargo nextest run --manifest-path wide-tables/Cargo.toml (waiting for its build)"
    build_status=0
    wait "$WIDE_PID" || build_status=$?
    WIDE_PID=""
    cat "$WIDE_LOG"
    if [[ $build_status -ne 0 ]]; then
        echo "the build of wide-tables/ failed (exit $build_status)" >&2
        exit "$build_status"
    fi
    cargo nextest run --manifest-path wide-tables/Cargo.toml --target-dir "$WIDE_TARGET" --no-fail-fast
fi
