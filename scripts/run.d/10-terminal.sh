#!/usr/bin/env bash
# Terminal episodes: the shipped shell tasks, two sandboxes at a time, into $OUT/raw (resumes if run again).
set -euo pipefail
worldline collect terminal --tasks tasks/terminal.yaml --out "$OUT/raw" --workers 2 --replays 1
