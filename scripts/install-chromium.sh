#!/usr/bin/env bash
# Installs Debian's Chromium for the dashboard's browser test. Run as root,
# or with sudo available. The package lists are refreshed only if the
# first try finds no candidate (a fresh image).
set -euo pipefail
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
echo "install-chromium: installing Debian's chromium (for the dashboard's browser test)" >&2
if ! $SUDO apt-get install -y -q chromium >/dev/null; then
	$SUDO apt-get update -q >/dev/null
	$SUDO apt-get install -y -q chromium >/dev/null
fi
command -v chromium >/dev/null
