# Shared by the PostgreSQL suites: a PostgreSQL 15 server of their own, in a temp dir, on a
# port and socket directory of their own (beside any cluster the system runs), as an
# unprivileged user when run as root (PostgreSQL refuses root), stopped at exit.
# Source it after tests/interop/lib.sh (WORK, fail); pg_start sets PG_HOST (the socket
# directory), PG_PORT, PG_ADMIN (a libpq URI of the superuser's "postgres" database).
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PG_DATA=""
PG_AS=()

pg_stop() {
  [ -n "$PG_DATA" ] && [ -f "$PG_DATA/postmaster.pid" ] \
    && "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w stop > /dev/null 2>&1 || true
}

# pg_start: initdb and start; superuser "postgres" without a password on the socket, and with
# a password (scram) on 127.0.0.1.
pg_start() {
  [ -x "$PG_BIN/initdb" ] || fail "no PostgreSQL 15 in $PG_BIN (apt-get install postgresql-15)"
  local base=$WORK/pg
  mkdir -p "$base/sock"
  if [ "$(id -u)" = 0 ]; then
    chown -R nobody: "$base"
    chmod 755 "$WORK" "$base"
    PG_AS=(runuser -u nobody --)
  fi
  PG_DATA=$base/data
  PG_HOST=$base/sock
  PG_PORT=$(free_port)
  "${PG_AS[@]}" "$PG_BIN/initdb" -D "$PG_DATA" -U postgres -E UTF8 --locale=C \
    --auth-local=trust --auth-host=scram-sha-256 > "$base/initdb.log" 2>&1 \
    || fail "initdb: $(tail -n 5 "$base/initdb.log")"
  "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$base/server.log" -w -t 60 \
    -o "-p $PG_PORT -k $PG_HOST -c listen_addresses=127.0.0.1 -c fsync=on" start > /dev/null \
    || fail "pg_ctl start: $(tail -n 5 "$base/server.log")"
  trap 'pg_stop; cleanup' EXIT
  PG_ADMIN="postgresql://postgres@/postgres?host=$PG_HOST&port=$PG_PORT"
}

# pg_sql SQL: runs SQL as the superuser in database postgres (or $PG_DB when set).
pg_sql() {
  psql -X -q -v ON_ERROR_STOP=1 -At -h "$PG_HOST" -p "$PG_PORT" -U postgres -d "${PG_DB:-postgres}" -c "$1"
}

# pg_uri DB: the URI of database DB as the superuser over the socket.
pg_uri() {
  echo "postgresql://postgres@/$1?host=$PG_HOST&port=$PG_PORT"
}

# pg_node_store: the role scep_node and its database scepd; sets STORE, their URI on the socket.
pg_node_store() {
  pg_sql "CREATE ROLE scep_node LOGIN"
  pg_sql "CREATE DATABASE scepd OWNER scep_node"
  STORE="postgresql://scep_node@/scepd?host=$PG_HOST&port=$PG_PORT"
}
