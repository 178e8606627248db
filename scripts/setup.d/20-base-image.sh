#!/usr/bin/env bash
# The terminal sandbox image, unless it already exists: from a registry when one answers, otherwise offline
# (debootstrap + docker import).
set -euo pipefail
tag=worldline/base:bookworm
if docker image inspect "$tag" >/dev/null 2>&1; then
  echo "$tag present"
else
  "$VENV/bin/worldline" sandbox build-image --tag "$tag"
fi
