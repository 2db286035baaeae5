#!/usr/bin/env bash
# Open MPI and MPICH side by side (recipes/mpi.md); no daemon. Idempotent.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
missing=
command -v mpiexec.openmpi >/dev/null || missing="$missing openmpi-bin"
command -v mpiexec.mpich >/dev/null || missing="$missing mpich"
dpkg -s libmpich-dev >/dev/null 2>&1 || missing="$missing libmpich-dev"
[ -n "$missing" ] && apt-get install -y -q --no-install-recommends $missing >/dev/null
command -v mpiexec.openmpi && command -v mpiexec.mpich && command -v mpicc.mpich
