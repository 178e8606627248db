#!/usr/bin/env bash
# The terminal sandbox image, built offline (debootstrap + docker import) unless it already exists.
set -euo pipefail
tag=worldline/base:bookworm
if docker image inspect "$tag" >/dev/null 2>&1; then
  echo "$tag present"
else
  "$VENV/bin/worldline" sandbox build-image --tag "$tag"
fi
