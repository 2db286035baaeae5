#!/usr/bin/env bash
# Stops the vsftpd that ftp-up.sh started and removes its state directory.
D=${FTPD_DIR:-/tmp/taskloom-ftpd}
if [ -f "$D/vsftpd.pid" ]; then
  p=$(cat "$D/vsftpd.pid")
  kill "$p" 2>/dev/null
  for i in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$p" 2>/dev/null
fi
rm -rf "$D"
exit 0
