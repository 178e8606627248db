#!/usr/bin/env bash
# SWE episodes into $OUT/raw: the shipped scripted tasks, then one generated bug-fix task per starter repository
# (a planted bug that fails real tests, localized and fixed). Resumes if run again.
set -euo pipefail
worldline collect swe --tasks tasks/swe.yaml --out "$OUT/raw" --workers 2 --replays 1
worldline collect swe --repos tasks/swe_repos.yaml --bugs 1 --out "$OUT/raw" --workers 2 --replays 1
