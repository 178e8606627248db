#!/usr/bin/env bash
# SWE sandbox images: worldline/swe-base:bookworm (debootstrap, offline) and one image per starter repository of
# tasks/swe_repos.yaml (sdist + test wheels fetched from PyPI on the host, built with no network). Images whose
# fingerprint tag already exists are kept, so a second run only checks.
set -euo pipefail
"$VENV/bin/python" -m sandboxes.swe_images tasks/swe_repos.yaml
