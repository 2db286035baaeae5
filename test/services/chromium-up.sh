#!/usr/bin/env bash
# Debian's Chromium for the dashboard's browser tests (driven by playwright-core, which downloads no browser).
# Idempotent: nothing to do when /usr/bin/chromium already runs. Runs apt-get update only when the package is unknown.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
if /usr/bin/chromium --version >/dev/null 2>&1; then exit 0; fi
if ! apt-get install -y -q chromium >/tmp/taskloom-chromium-apt.log 2>&1; then
  apt-get update -q >>/tmp/taskloom-chromium-apt.log 2>&1
  apt-get install -y -q chromium >>/tmp/taskloom-chromium-apt.log 2>&1 || { tail -20 /tmp/taskloom-chromium-apt.log >&2; exit 1; }
fi
/usr/bin/chromium --version
