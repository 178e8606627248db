#!/usr/bin/env bash
# Web episodes into $OUT/raw (resumes if run again): every scripted task in tasks/web.yaml on the four local sites,
# then a short novelty-seeking exploration of each site with two seeds.
set -euo pipefail
worldline collect web --tasks tasks/web.yaml --out "$OUT/raw" --workers 2 --replays 1
worldline collect web --explore all --seeds 2 --budget 20 --out "$OUT/raw" --workers 2 --replays 1
