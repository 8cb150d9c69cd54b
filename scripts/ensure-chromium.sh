#!/usr/bin/env bash
# Installs Debian's `chromium` package when /usr/bin/chromium is missing: the
# report's browser test (cli/tests/report_browser.rs) loads reports in headless
# Chromium and fails without it.
#
#   scripts/ensure-chromium.sh
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null; then
        SUDO=sudo
    else
        echo "ensure-chromium: /usr/bin/chromium is missing and this is not root (no sudo): apt-get install chromium" >&2
        exit 1
    fi
fi
echo "== apt-get install chromium (for the report's browser test)"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq chromium
test -x /usr/bin/chromium
