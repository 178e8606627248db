#!/usr/bin/env bash
# Tools Beam uses to package worldline for Dataflow (--setup_file pyproject.toml builds an sdist without build
# isolation, so they must be in the venv itself); the Dataflow translation test needs them too.
set -euo pipefail
VENV=${VENV:-.venv}
"$VENV/bin/python" - <<'PY' || "$VENV/bin/pip" install -q "setuptools==80.9.0" "wheel==0.45.1" "build==1.6.1"
from importlib.metadata import version
import sys
wanted = {"setuptools": "80.9.0", "wheel": "0.45.1", "build": "1.6.1"}
sys.exit(any(version(name) != v for name, v in wanted.items()))
PY
