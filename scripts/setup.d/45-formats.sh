#!/usr/bin/env bash
# tmux: tests/formats checks the terminal renderer against a real tmux server's captures.
set -euo pipefail
command -v tmux >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tmux
