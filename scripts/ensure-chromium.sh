#!/usr/bin/env bash
# Headless Chromium and its driver for the browser tests (tests/browser/), from Debian's packages.
# The tests launch /usr/bin/chromium themselves through Playwright; nothing is downloaded at test time.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
  exit 0
fi
echo "installing Debian's chromium and chromium-driver"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
