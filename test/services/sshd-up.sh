#!/usr/bin/env bash
# Private sshd on 127.0.0.1:${SSHD_PORT:-2222} for root, key-only, own config; prints the state dir.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
[ -x /usr/sbin/sshd ] || apt-get install -y -q --no-install-recommends openssh-server >/dev/null
PORT=${SSHD_PORT:-2222}
D=${SSHD_DIR:-$(mktemp -d /tmp/ci-sshd.XXXXXX)}; mkdir -p "$D"
[ -f "$D/hostkey" ]   || ssh-keygen -q -t ed25519 -N '' -f "$D/hostkey"
[ -f "$D/clientkey" ] || ssh-keygen -q -t ed25519 -N '' -f "$D/clientkey" -C ci
cp "$D/clientkey.pub" "$D/authorized_keys"; chmod 600 "$D/authorized_keys" "$D/hostkey" "$D/clientkey"
cat > "$D/sshd_config" <<CONF
Port $PORT
ListenAddress 127.0.0.1
HostKey $D/hostkey
PidFile $D/sshd.pid
AuthorizedKeysFile $D/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
Subsystem sftp internal-sftp
CONF
install -d -m 0755 /run/sshd            # privilege-separation dir, compiled-in path
/usr/sbin/sshd -t -f "$D/sshd_config"
if ! { [ -f "$D/sshd.pid" ] && kill -0 "$(cat "$D/sshd.pid")" 2>/dev/null; }; then
  /usr/sbin/sshd -f "$D/sshd_config" -E "$D/sshd.log"      # daemonizes, writes $D/sshd.pid
fi
for i in $(seq 1 50); do
  ssh -p "$PORT" -i "$D/clientkey" -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=2 root@127.0.0.1 true 2>/dev/null && break; sleep 0.1
done
echo "$D"
