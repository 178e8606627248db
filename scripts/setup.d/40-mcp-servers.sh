#!/usr/bin/env bash
# Real MCP servers for the mcp and search collectors, pinned. The PyPI servers get their own venv (.venv-mcp/)
# because their dependencies may clash with worldline's; the npm reference servers go under .mcp-servers/.
set -euo pipefail
cd "$(dirname "$0")/../.."

PY_SERVERS=(mcp-server-git==2026.10.19 mcp-server-time==2026.10.19 mcp-server-fetch==2026.10.24)
NPM_VERSION=2026.8.31
NPM_SERVERS=(server-filesystem server-memory server-everything)

command -v git >/dev/null || apt-get install -y -qq git
command -v bwrap >/dev/null || apt-get install -y -qq bubblewrap
command -v node >/dev/null && command -v npm >/dev/null || apt-get install -y -qq nodejs npm

stamp=.venv-mcp/.installed-$(printf '%s\n' "${PY_SERVERS[@]}" | sha1sum | cut -c1-12)
if [ ! -f "$stamp" ]; then
  python3 -m venv .venv-mcp
  .venv-mcp/bin/pip install -q -U pip
  .venv-mcp/bin/pip install -q "${PY_SERVERS[@]}"
  touch "$stamp"
fi

mkdir -p .mcp-servers
for name in "${NPM_SERVERS[@]}"; do
  installed=$(node -p "require('./.mcp-servers/node_modules/@modelcontextprotocol/$name/package.json').version" 2>/dev/null || true)
  if [ "$installed" != "$NPM_VERSION" ]; then
    missing=1
  fi
done
if [ "${missing:-0}" = 1 ]; then
  [ -f .mcp-servers/package.json ] || echo '{"name": "worldline-mcp-servers", "private": true}' > .mcp-servers/package.json
  npm install --prefix .mcp-servers --no-audit --no-fund --silent \
    $(printf "@modelcontextprotocol/%s@$NPM_VERSION " "${NPM_SERVERS[@]}")
fi

# mcp-server-fetch extracts pages with readabilipy, which runs `npm install` in its own package folder on first
# use; inside the read-only sandbox that fails, so do it here, once.
readability_js=$(echo .venv-mcp/lib/python3*/site-packages/readabilipy/javascript)
if [ -f "$readability_js/package.json" ] && [ ! -d "$readability_js/node_modules" ]; then
  (cd "$readability_js" && npm install --no-audit --no-fund --silent --no-save @mozilla/readability@0.6.0 jsdom@29.1.1 minimist@1.2.8)
fi
