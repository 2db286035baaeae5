#!/usr/bin/env bash
# A private PostgreSQL server on 127.0.0.1 for the monitoring store tests: its own cluster in $D/data (trust
# authentication, loopback only, socket in $D), on a free port picked at first start, run by the postgres user
# (root cannot run it). State in $D (default /tmp/taskloom-postgres): port, url, log. Idempotent; prints the URL.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
D=${POSTGRES_DIR:-/tmp/taskloom-postgres}
bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }
if [ -z "$(bindir)" ]; then
  apt-get install -y -q --no-install-recommends postgresql >/dev/null
fi
BIN=$(bindir)
[ -x "$BIN/initdb" ] || { echo "no initdb under /usr/lib/postgresql/*/bin" >&2; exit 1; }
# As root the server runs as postgres; anyone else runs it as themselves.
if [ "$(id -u)" = 0 ]; then as() { runuser -u postgres -- "$@"; }; OWNER=postgres; else as() { "$@"; }; OWNER=$(id -un); fi
running() { [ -f "$D/port" ] && as "$BIN/pg_ctl" -D "$D/data" status >/dev/null 2>&1; }
if running; then cat "$D/url"; exit 0; fi
mkdir -p "$D"
chown "$OWNER" "$D"
chmod 700 "$D"
if [ ! -f "$D/data/PG_VERSION" ]; then
  rm -rf "$D/data"
  as "$BIN/initdb" -D "$D/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$D/initdb.log" 2>&1 \
    || as "$BIN/initdb" -D "$D/data" -U postgres --auth=trust -E UTF8 --locale=C >"$D/initdb.log" 2>&1 \
    || { cat "$D/initdb.log" >&2; exit 1; }
fi
PORT=$(node -e 'const s = require("node:net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });')
as "$BIN/pg_ctl" -D "$D/data" -l "$D/log" -w -t 60 \
  -o "-p $PORT -k $D -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null \
  || { tail -20 "$D/log" >&2; exit 1; }
echo "$PORT" > "$D/port"
echo "postgres://postgres@127.0.0.1:$PORT/postgres" > "$D/url"
chmod 644 "$D/port" "$D/url"
chmod 711 "$D"
cat "$D/url"
