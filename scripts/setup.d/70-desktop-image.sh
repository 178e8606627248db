#!/usr/bin/env bash
# The os domain's desktop image (Xvfb, openbox, AT-SPI, GTK apps), built offline: a debootstrap base with the
# desktop packages (a few minutes, once) plus a thin layer with the guest scripts (seconds, whenever they change).
# Both tags carry content hashes, so this is a no-op when the image for the current code exists.
set -euo pipefail
command -v debootstrap >/dev/null || { echo "debootstrap missing: scripts/setup.d/10-docker.sh installs it" >&2; exit 1; }
tag=$("$VENV/bin/python" -m sandboxes.desktop.image)
echo "$tag ready"
