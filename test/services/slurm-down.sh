#!/usr/bin/env bash
stop() { [ -f "$1" ] || return 0; p=$(cat "$1"); kill "$p" 2>/dev/null || return 0; for i in $(seq 1 50); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.1; done; kill -9 "$p" 2>/dev/null; }
scancel -u root 2>/dev/null || true
for f in /run/slurmd-*.pid; do stop "$f"; done
stop /run/slurmctld.pid
stop /run/slurmdbd.pid
[ -f /run/mysqld/mysqld.pid ] && stop /run/mysqld/mysqld.pid
stop /run/munge/munged.pid
