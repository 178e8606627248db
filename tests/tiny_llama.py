"""A tiny llama-architecture GGUF model made here, for a real llama.cpp server to serve in tests.

No model can be downloaded on the machines this project is built on, so the tests make one: 2 layers, 64 wide,
random weights, a byte-level SentencePiece vocabulary (<unk>, <s>, </s> and the 256 byte tokens). Its output rows
are zero except for printable ASCII bytes and two end tokens, so greedy decoding writes printable text and ends where
it would have written a byte of END_BEFORE: the reply is nonsense, but it is a real model's reply, produced by the
real server from the real prompt.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

VOCAB, WIDTH, LAYERS, HEADS, FEED_FORWARD, CONTEXT = 259, 64, 2, 4, 128, 32768
BYTE_OFFSET = 3  # <unk>, <s>, </s> come first
# The bytes a reply ends before, by the end token that mirrors each: </s>, and <unk> made the end-of-turn token
# (the model never writes it otherwise). The greedy replies to the tests' prompts hold one within 6 bytes.
END_BEFORE = {2: "d", 0: "o"}


def write_tiny_llama(path: Path, seed: int = 0) -> Path:
    import gguf

    rng = np.random.default_rng(seed)

    def weights(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) / np.sqrt(shape[-1])).astype(np.float32)

    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("worldline-tiny-llama")
    writer.add_context_length(CONTEXT)
    writer.add_embedding_length(WIDTH)
    writer.add_block_count(LAYERS)
    writer.add_feed_forward_length(FEED_FORWARD)
    writer.add_head_count(HEADS)
    writer.add_head_count_kv(HEADS)
    writer.add_rope_dimension_count(WIDTH // HEADS)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)

    tokens = [b"<unk>", b"<s>", b"</s>"] + [f"<0x{byte:02X}>".encode() for byte in range(256)]
    types = [gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL] + [gguf.TokenType.BYTE] * 256
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores([0.0] * len(tokens))
    writer.add_token_types(types)
    writer.add_unk_token_id(0)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_eot_token_id(0)

    writer.add_tensor("token_embd.weight", weights(VOCAB, WIDTH))
    for layer in range(LAYERS):
        block = f"blk.{layer}"
        writer.add_tensor(f"{block}.attn_norm.weight", np.ones(WIDTH, dtype=np.float32))
        for name in ("attn_q", "attn_k", "attn_v", "attn_output"):
            writer.add_tensor(f"{block}.{name}.weight", weights(WIDTH, WIDTH))
        writer.add_tensor(f"{block}.ffn_norm.weight", np.ones(WIDTH, dtype=np.float32))
        writer.add_tensor(f"{block}.ffn_gate.weight", weights(FEED_FORWARD, WIDTH))
        writer.add_tensor(f"{block}.ffn_up.weight", weights(FEED_FORWARD, WIDTH))
        writer.add_tensor(f"{block}.ffn_down.weight", weights(WIDTH, FEED_FORWARD))
    writer.add_tensor("output_norm.weight", np.ones(WIDTH, dtype=np.float32))
    output = np.zeros((VOCAB, WIDTH), dtype=np.float32)
    printable = np.arange(BYTE_OFFSET + 0x20, BYTE_OFFSET + 0x7F)
    output[printable] = weights(len(printable), WIDTH)
    # An end token scores a shade above its byte wherever that scores above zero, so a reply ends where greedy
    # decoding would first write one of them: replies end on their own (finish_reason "stop"), as a real model's
    # do, and a reply cut at max_tokens is still what a small max_tokens gives.
    for token, byte in END_BEFORE.items():
        output[token] = output[BYTE_OFFSET + ord(byte)] * 1.001
    writer.add_tensor("output.weight", output)

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


if __name__ == "__main__":
    import sys

    print(write_tiny_llama(Path(sys.argv[1])))
