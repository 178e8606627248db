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
# Finished episodes go into a few big files (curation reads those several times faster than one file per episode).
worldline pack "$OUT/raw"
# Shards are derived from raw episodes, so a rerun replaces them; collection above resumed where it stopped.
worldline curate --input "$OUT/raw" --output "$OUT/shards" --overwrite
worldline query "$OUT/shards" "SELECT domain, count(*) AS transitions, count(DISTINCT episode_id) AS episodes FROM transitions GROUP BY domain ORDER BY domain"
