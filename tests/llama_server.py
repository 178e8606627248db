"""A real llama.cpp server (llama-cpp-python's OpenAI-compatible one) serving the tiny model tests/tiny_llama.py
makes: the endpoint the llm reasoning tests call. scripts/test-setup.d/10-llama-server.sh installs it into
.venv-llm/."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
LLM_PYTHON = ROOT / ".venv-llm" / "bin" / "python"
MODEL_NAME = "worldline-tiny-llama"
CONTEXT_TOKENS = 32768  # a byte-level vocabulary: a prompt of two clipped observations is ~13k tokens


@contextlib.contextmanager
def llama_server(folder: Path, context_tokens: int = CONTEXT_TOKENS):
    """Yields the server's OpenAI base URL; the model file and the server's log go to `folder`."""
    if not LLM_PYTHON.exists():
        raise RuntimeError(f"{LLM_PYTHON} is missing: run `make test-setup` (scripts/test-setup.d/10-llama-server.sh)")
    model = folder / "tiny-llama.gguf"
    subprocess.run([str(LLM_PYTHON), str(ROOT / "tests" / "tiny_llama.py"), str(model)], check=True,
                   capture_output=True, timeout=120)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = (folder / "llama-server.log").open("wb")
    server = subprocess.Popen([str(LLM_PYTHON), "-m", "llama_cpp.server", "--model", str(model),
                               "--model_alias", MODEL_NAME, "--host", "127.0.0.1", "--port", str(port),
                               "--n_ctx", str(context_tokens), "--chat_format", "chatml", "--n_threads", "1"],
                              stdout=log, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"llama.cpp server exited ({server.returncode}): "
                                   f"{(folder / 'llama-server.log').read_text()[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base_url}/models", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("llama.cpp server did not answer within 60 s")
            time.sleep(0.2)
        yield base_url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


@pytest.fixture(scope="session")
def llama_url(tmp_path_factory):
    """One server for every llm test of the session: each start makes a model file and waits for the server."""
    with llama_server(tmp_path_factory.mktemp("llama")) as base_url:
        yield base_url


def terminal_row(i: int) -> dict:
    """A small prepared terminal row to synthesize a trace for."""
    return {"id": f"ep:{i}", "episode_id": "ep", "step": i, "domain": "terminal", "instruction": "list files",
            "action_text": f"ls dir{i}", "state_text": "$", "next_text": f"$ ls dir{i}\nfile{i}.txt\n$"}
