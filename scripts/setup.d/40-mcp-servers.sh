#!/usr/bin/env bash
# Real MCP servers for the mcp and search collectors, pinned: the system tools they need (apt), then
# `worldline setup mcp-servers`, which installs the servers into WORLDLINE_HOME (here the checkout: .venv-mcp/ and
# .mcp-servers/) from the one list of pins in sandboxes/mcp_install.py. Arguments go to that command (--dry-run).
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ "${1:-}" != --dry-run ]; then
  command -v git >/dev/null || apt-get install -y -qq git
  command -v bwrap >/dev/null || apt-get install -y -qq bubblewrap
  command -v node >/dev/null && command -v npm >/dev/null || apt-get install -y -qq nodejs npm
fi

# The module, not the console script: it runs from this checkout whatever the venv's entry points say.
exec "${VENV:-.venv}/bin/python" -m pipelines.cli setup mcp-servers "$@"
