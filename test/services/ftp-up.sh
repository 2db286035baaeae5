#!/usr/bin/env bash
# vsftpd on 127.0.0.1 for the FTP staging tests, with a private config (the system's /etc/vsftpd.conf is not used).
# Anonymous users read $D/anon (read-only, files under pub/); the local user taskloomftp (password in $D/password)
# reads and writes $D/home. Control port and passive range are free ports picked at first start.
# State in $D (default /tmp/taskloom-ftpd): port, user, password, vsftpd.pid, vsftpd.log. Idempotent; prints $D.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
[ -x /usr/sbin/vsftpd ] || apt-get install -y -q --no-install-recommends vsftpd >/dev/null
D=${FTPD_DIR:-/tmp/taskloom-ftpd}
USER_NAME=taskloomftp
if [ -f "$D/vsftpd.pid" ] && kill -0 "$(cat "$D/vsftpd.pid")" 2>/dev/null; then echo "$D"; exit 0; fi
mkdir -p "$D/empty" "$D/anon/pub" "$D/home"
chmod 755 "$D" "$D/empty" "$D/anon" "$D/anon/pub"   # vsftpd refuses an anon root the ftp user can write
id "$USER_NAME" >/dev/null 2>&1 || useradd --no-create-home --home-dir "$D/home" --shell /bin/bash "$USER_NAME"
[ -f "$D/password" ] || head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$D/password"
echo "$USER_NAME:$(cat "$D/password")" | chpasswd
echo "$USER_NAME" > "$D/user"
chown "$USER_NAME" "$D/home"
# A free control port and 20 consecutive free passive ports (node is there: the tests run on it).
read -r PORT PASV_MIN < <(node -e '
const net = require("node:net");
const free = (p) => new Promise((r) => { const s = net.createServer().once("error", () => r(0)).listen(p, "127.0.0.1", () => { const a = s.address().port; s.close(() => r(a)); }); });
(async () => {
  const port = await free(0);
  for (;;) {
    const base = 20000 + Math.floor(Math.random() * 40000);
    let ok = true;
    for (let p = base; p < base + 20 && ok; p++) ok = p !== port && (await free(p)) === p;
    if (ok) { console.log(port, base); return; }
  }
})();')
cat > "$D/vsftpd.conf" <<CONF
listen=YES
listen_ipv6=NO
listen_address=127.0.0.1
listen_port=$PORT
background=NO
anonymous_enable=YES
no_anon_password=YES
anon_root=$D/anon
anon_upload_enable=NO
anon_mkdir_write_enable=NO
ftp_username=ftp
local_enable=YES
write_enable=YES
local_umask=022
local_root=$D/home
chroot_local_user=YES
allow_writeable_chroot=YES
pam_service_name=vsftpd
pasv_enable=YES
pasv_address=127.0.0.1
pasv_min_port=$PASV_MIN
pasv_max_port=$((PASV_MIN + 19))
connect_from_port_20=NO
secure_chroot_dir=$D/empty
xferlog_enable=YES
vsftpd_log_file=$D/vsftpd.log
log_ftp_protocol=YES
hide_ids=YES
CONF
echo "$PORT" > "$D/port"
nohup /usr/sbin/vsftpd "$D/vsftpd.conf" >"$D/stdout.log" 2>&1 </dev/null &
echo $! > "$D/vsftpd.pid"   # background=NO: this PID is the listener; kill it to stop
for i in $(seq 1 50); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done
(exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null || { cat "$D/stdout.log" >&2; exit 1; }
echo "$D"
