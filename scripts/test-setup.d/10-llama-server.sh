#!/usr/bin/env bash
# A real OpenAI-compatible model server for the llm reasoning tests (`make test` runs this, `make run` does not):
# llama.cpp through llama-cpp-python's server, pinned, in its own venv (.venv-llm/) since its web stack is not
# worldline's business. No model can be downloaded on this project's machines; the tests make a tiny one with gguf
# (tests/tiny_llama.py), run by this venv. llama.cpp is compiled from the sdist: ~8 min on 2 cores as shipped,
# ~5 at -O1 without its multimodal library, which the tests' tiny model does not miss.
set -euo pipefail
cd "$(dirname "$0")/../.."

PACKAGES=("llama-cpp-python[server]==0.3.36" "gguf==0.19.0")

command -v cmake >/dev/null || apt-get install -y -qq cmake
command -v g++ >/dev/null || apt-get install -y -qq g++

stamp=.venv-llm/.installed-$(printf '%s\n' "${PACKAGES[@]}" | sha1sum | cut -c1-12)
if [ ! -f "$stamp" ]; then
  python3 -m venv .venv-llm
  .venv-llm/bin/pip install -q -U pip
  CMAKE_ARGS="-DLLAVA_BUILD=OFF -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS_RELEASE=-O1 -DCMAKE_CXX_FLAGS_RELEASE=-O1" \
    CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) .venv-llm/bin/pip install -q --no-cache-dir "${PACKAGES[@]}"
  touch "$stamp"
fi
