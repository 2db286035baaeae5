#!/usr/bin/env bash
# Stops SLURM (slurm-down.sh) and removes slurm-wlm-torque, so gridengine-up.sh can install its qsub again.
export DEBIAN_FRONTEND=noninteractive
bash "$(dirname "$0")/slurm-down.sh"
if dpkg -s slurm-wlm-torque >/dev/null 2>&1; then apt-get remove -y -q slurm-wlm-torque >/dev/null; fi
