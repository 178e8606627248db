#!/usr/bin/env bash
# MCP and search episodes into $OUT/raw (resumes if run again): the scripted tasks for every real server (git, time,
# fetch, filesystem, memory, everything over stdio and HTTP, with perturbations), a short schema-driven exploration
# of each, and a set of search tasks on the fictional world and on the installed documentation.
set -euo pipefail
worldline collect mcp --servers tasks/mcp_servers.yaml --tasks tasks/mcp.yaml --out "$OUT/raw" --workers 2 --replays 1
worldline collect mcp --servers tasks/mcp_servers.yaml --explore --max-steps 15 --out "$OUT/raw" --workers 2 \
  --replays 1 --server git --server filesystem --server memory --server time --server everything --server search-world
worldline collect mcp --servers tasks/mcp_servers.yaml --tasks tasks/search.yaml --limit 12 --out "$OUT/raw" \
  --workers 2 --replays 1
