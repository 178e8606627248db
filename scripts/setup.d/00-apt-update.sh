#!/usr/bin/env bash
# Refresh the package lists once per boot of the machine; later scripts only install.
set -euo pipefail
stamp=/tmp/.worldline-apt-updated
[ -f "$stamp" ] || { apt-get update -qq && touch "$stamp"; }
