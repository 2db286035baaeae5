#!/usr/bin/env bash
# Single-host Grid Engine cell on localhost (Debian 12 gridengine 8.1.9). Idempotent.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
export SGE_ROOT=/var/lib/gridengine SGE_CELL=default
# Reinstall whatever is missing, e.g. after torque-up.sh replaced gridengine-client with slurm-wlm-torque (both own qsub).
missing=; for p in gridengine-master gridengine-exec gridengine-client; do dpkg -s $p 2>/dev/null | grep -q '^Status: install ok installed' || missing="$missing $p"; done
if [ -n "$missing" ]; then
  printf '%s\n' \
    'gridengine-common shared/gridengineconfig boolean true' \
    'gridengine-common shared/gridenginecell string default' \
    'gridengine-common shared/gridenginemaster string localhost' | debconf-set-selections
  apt-get install -y -q --no-install-recommends $missing >/dev/null
fi
# hostname -> 127.0.0.1 -> "localhost": make SGE treat both names as one host
echo "localhost $(hostname)" > "$SGE_ROOT/$SGE_CELL/common/host_aliases"
QPID=/var/spool/gridengine/qmaster/qmaster.pid
if ! { [ -f $QPID ] && kill -0 "$(cat $QPID)" 2>/dev/null; }; then /usr/sbin/sge_qmaster; fi
for i in $(seq 1 50); do qconf -sh >/dev/null 2>&1 && break; sleep 0.2; done
T=$(mktemp -d)
# global config: allow root jobs, faster load reports
printf '#!/bin/sh\nsed -i -e "s/^min_uid .*/min_uid 0/" -e "s/^min_gid .*/min_gid 0/" -e "s/^load_report_time .*/load_report_time 00:00:05/" "$1"\n' > $T/ed1; chmod +x $T/ed1
EDITOR=$T/ed1 qconf -mconf global >/dev/null
# scheduler: run every second
printf '#!/bin/sh\nsed -i -e "s/^schedule_interval .*/schedule_interval 0:0:1/" -e "s/^flush_submit_sec .*/flush_submit_sec 1/" -e "s/^flush_finish_sec .*/flush_finish_sec 1/" "$1"\n' > $T/ed2; chmod +x $T/ed2
EDITOR=$T/ed2 qconf -msconf >/dev/null
qconf -ss 2>/dev/null | grep -qx localhost || qconf -as localhost >/dev/null
# exec daemon (start AFTER min_uid change: execd caches the global config)
EPID=/var/spool/gridengine/execd/localhost/execd.pid
if ! { [ -f $EPID ] && kill -0 "$(cat $EPID)" 2>/dev/null; }; then /usr/sbin/sge_execd; fi
for i in $(seq 1 50); do qconf -sel 2>/dev/null | grep -qx localhost && break; sleep 0.2; done
if ! qconf -shgrpl 2>/dev/null | grep -qx @allhosts; then
  printf 'group_name @allhosts\nhostlist localhost\n' > $T/hg; qconf -Ahgrp $T/hg >/dev/null
fi
if ! qconf -spl 2>/dev/null | grep -qx smp; then
  cat > $T/pe <<'PE'
pe_name            smp
slots              999
user_lists         NONE
xuser_lists        NONE
start_proc_args    NONE
stop_proc_args     NONE
allocation_rule    $pe_slots
control_slaves     TRUE
job_is_first_task  TRUE
urgency_slots      min
accounting_summary FALSE
qsort_args         NONE
PE
  qconf -Ap $T/pe >/dev/null
fi
if ! qconf -sql 2>/dev/null | grep -qx all.q; then
  printf '#!/bin/sh\nsed -i -e "s/^qname .*/qname all.q/" -e "s/^hostlist .*/hostlist @allhosts/" -e "s/^slots .*/slots 2/" -e "s/^pe_list .*/pe_list smp/" -e "s#^shell .*#shell /bin/bash#" -e "s/^shell_start_mode .*/shell_start_mode unix_behavior/" "$1"\n' > $T/ed3; chmod +x $T/ed3
  EDITOR=$T/ed3 qconf -aq >/dev/null
fi
rm -rf $T
# wait until the queue instance is usable (no 'u'/'E' state)
for i in $(seq 1 100); do qstat -f 2>/dev/null | awk '$1=="all.q@localhost" && NF==5 {ok=1} END{exit !ok}' && break; sleep 0.2; done
qstat -f
