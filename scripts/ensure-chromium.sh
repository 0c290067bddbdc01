#!/usr/bin/env bash
# Headless Chromium and its driver for the browser tests (tests/browser/), from Debian's packages,
# and a colour emoji font so the README screenshots show the bot's emoji instead of empty boxes.
# The tests launch /usr/bin/chromium themselves through Playwright; nothing is downloaded at test time.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 \
  && [ -e /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ]; then
  exit 0
fi
echo "installing Debian's chromium, chromium-driver and fonts-noto-color-emoji"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  chromium chromium-driver fonts-noto-color-emoji >/dev/null
