#!/bin/sh
# Headless Chromium and its driver for the console's end-to-end test (tests/e2e/test_console.py).
# A no-op when both are present; CI runs as root on a fresh Debian machine, so it installs them there.
set -eu
if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
        echo "ensure_chromium: not root and no sudo; the console test will skip (fails when CI=true)" >&2
        exit 0
    fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends chromium chromium-driver
