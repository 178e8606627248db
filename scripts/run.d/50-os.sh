#!/usr/bin/env bash
# Desktop (os) episodes: the shipped scripted tasks, then a short exploration of the same apps, into $OUT/raw.
set -euo pipefail
worldline collect os --tasks tasks/os.yaml --out "$OUT/raw" --replays 1
worldline collect os --explore --explore-steps 8 --tasks tasks/os.yaml --limit 4 --out "$OUT/raw" --replays 1
