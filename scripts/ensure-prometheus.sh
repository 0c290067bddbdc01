#!/usr/bin/env bash
# Prometheus and Alertmanager for the end-to-end alerting test, from Debian's packages.
# Only the binaries are needed: the test starts them itself, bound to 127.0.0.1.
set -euo pipefail
if command -v prometheus >/dev/null 2>&1 && command -v prometheus-alertmanager >/dev/null 2>&1; then
  exit 0
fi
echo "installing Debian's prometheus and prometheus-alertmanager"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus prometheus-alertmanager >/dev/null
