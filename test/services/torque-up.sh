#!/usr/bin/env bash
# Torque-style qsub/qstat/qdel (Debian's slurm-wlm-torque: Perl wrappers over SLURM) on the SLURM of slurm-up.sh.
# slurm-wlm-torque and gridengine-client both provide qsub/qstat/qdel: apt removes the Grid Engine packages here;
# torque-down.sh removes slurm-wlm-torque again and gridengine-up.sh reinstalls what it needs. Idempotent.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
bash "$(dirname "$0")/slurm-up.sh"
if ! dpkg -s slurm-wlm-torque >/dev/null 2>&1; then
  # Grid Engine daemons would lose their binaries: stop them first (by pidfile).
  bash "$(dirname "$0")/gridengine-down.sh" || true
  apt-get install -y -q --no-install-recommends slurm-wlm-torque >/dev/null
fi
command -v qsub
