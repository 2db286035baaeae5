#!/usr/bin/env bash
# Single-machine SLURM 22.05 (Debian 12) with N fake nodes n1..nN on localhost. Idempotent.
# Env: SLURM_FAKE_NODES (default 2), SLURM_ACCOUNTING=1 to add slurmdbd+MariaDB (sacct).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
N=${SLURM_FAKE_NODES:-2}
PKGS="slurmctld slurmd slurm-client munge"
[ "${SLURM_ACCOUNTING:-0}" = 1 ] && PKGS="$PKGS slurmdbd mariadb-server"
missing=; for p in $PKGS; do dpkg -s $p >/dev/null 2>&1 || missing="$missing $p"; done
[ -n "$missing" ] && apt-get install -y -q --no-install-recommends $missing >/dev/null

ACCT="AccountingStorageType=accounting_storage/none"
[ "${SLURM_ACCOUNTING:-0}" = 1 ] && ACCT=$'AccountingStorageType=accounting_storage/slurmdbd\nAccountingStorageHost=localhost'
cat > /etc/slurm/slurm.conf <<CONF
ClusterName=ci
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
$ACCT
JobCompType=jobcomp/filetxt
JobCompLoc=/var/log/slurm/jobcomp.log
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_interval=1
ReturnToService=2
MinJobAge=300
KillWait=5
InactiveLimit=0
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd-%n.pid
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd/%n
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd-%n.log
NodeName=n[1-$N] NodeHostname=localhost NodeAddr=127.0.0.1 Port=17001-$((17000+N)) CPUs=2 RealMemory=2000 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
install -d -o munge -g munge -m 0755 /run/munge
alive /run/munge/munged.pid || runuser -u munge -- /usr/sbin/munged
for i in $(seq 1 50); do munge -n >/dev/null 2>&1 && break; sleep 0.1; done
if [ "${SLURM_ACCOUNTING:-0}" = 1 ]; then
  install -d -o mysql -g mysql /run/mysqld
  if ! mariadb-admin ping >/dev/null 2>&1; then
    (mariadbd --user=mysql --bind-address=127.0.0.1 >/var/log/slurm/mariadb.log 2>&1 &)
    for i in $(seq 1 100); do mariadb-admin ping >/dev/null 2>&1 && break; sleep 0.1; done
  fi
  cat > /etc/slurm/slurmdbd.conf <<CONF
AuthType=auth/munge
DbdHost=localhost
SlurmUser=root
LogFile=/var/log/slurm/slurmdbd.log
PidFile=/run/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=root
StorageLoc=slurm_acct_db
CONF
  chmod 600 /etc/slurm/slurmdbd.conf
  alive /run/slurmdbd.pid || slurmdbd
  for i in $(seq 1 100); do (echo >/dev/tcp/127.0.0.1/6819) 2>/dev/null && break; sleep 0.1; done
fi
# -c: start with empty job/node state (fresh CI cluster); config changes need a restart anyway
alive /run/slurmctld.pid || slurmctld -c
for i in $(seq 1 $N); do alive /run/slurmd-n$i.pid || slurmd -N n$i; done
for i in $(seq 1 100); do
  [ "$(sinfo -h -o '%T %D' 2>/dev/null)" = "idle $N" ] && break; sleep 0.2
done
sinfo
