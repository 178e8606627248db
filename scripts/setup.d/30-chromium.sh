#!/usr/bin/env bash
# Chromium from Debian for the web collector (Playwright drives it; `playwright install` is never run: it downloads
# a browser, which this machine cannot). Fonts so pages lay out and text is named the same on every machine.
# bubblewrap: the browser runs in a sandbox (sandboxes/browser.py). xvfb: an X server without a screen, for
# `collect web --headed` on a machine with no display (tests/web/test_headed.py starts one).
set -euo pipefail
missing=()
for package in chromium fonts-liberation fonts-dejavu-core bubblewrap; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
command -v Xvfb >/dev/null 2>&1 || missing+=(xvfb)
if [ ${#missing[@]} -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# The binary, not Debian's launcher: /etc/chromium.d/dev-shm compares findmnt's /dev/shm figure with `[`, and where
# /dev/shm is mounted twice (as in some containers) that prints "[: …: unexpected operator".
/usr/lib/chromium/chromium --version
