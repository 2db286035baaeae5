#!/usr/bin/env bash
# Stops the server that postgres-up.sh started and removes its state directory.
D=${POSTGRES_DIR:-/tmp/taskloom-postgres}
BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ -n "$BIN" ] && [ -f "$D/data/postmaster.pid" ]; then
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$BIN/pg_ctl" -D "$D/data" -m fast -w stop >/dev/null 2>&1
  else "$BIN/pg_ctl" -D "$D/data" -m fast -w stop >/dev/null 2>&1; fi
fi
rm -rf "$D"
exit 0
