#!/usr/bin/env bash
# Install Debian's chromium for the console's browser tests (idempotent; never `playwright install`).
set -euo pipefail
if [ ! -x /usr/bin/chromium ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q chromium fonts-dejavu-core
fi
/usr/bin/chromium --version
