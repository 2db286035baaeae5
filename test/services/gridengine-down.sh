#!/usr/bin/env bash
for f in /var/spool/gridengine/execd/localhost/execd.pid /var/spool/gridengine/qmaster/qmaster.pid; do
  [ -f "$f" ] || continue; p=$(cat "$f"); kill "$p" 2>/dev/null || continue
  for i in $(seq 1 150); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
done
