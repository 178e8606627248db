#!/usr/bin/env bash
# The main job: collect real transitions from every domain in scripts/run.d/, curate them, print a summary.
set -euo pipefail
export PATH="$VENV/bin:$PATH"
OUT=${OUT:-out}
mkdir -p "$OUT"
for script in scripts/run.d/*.sh; do
  echo "== $script"
  OUT="$OUT" bash "$script"
done
worldline curate --input "$OUT/raw" --output "$OUT/shards"
worldline query "$OUT/shards" "SELECT domain, count(*) AS transitions, count(DISTINCT episode_id) AS episodes FROM transitions GROUP BY domain ORDER BY domain"
