"""The compiled join of stage texts (transforms/_stages.c): pieces of any width, copied back to back as UTF-8, and
refused when they are not str, not in the pool or not the size of the buffer."""

import numpy as np
import pyarrow as pa
import pytest

from transforms._stages import join_into, utf8_sizes

POOL = ["", "plain", "ünïcødé", "日本語 ✓", "🙂", "\x00nul\ttab", "x" * 5000]


def test_sizes_are_the_utf8_sizes():
    assert np.frombuffer(utf8_sizes(POOL), dtype=np.int64).tolist() == [len(text.encode()) for text in POOL]


def test_pieces_are_joined_in_the_order_given():
    pieces = np.array([6, 1, 0, 4, 2, 3, 5, 4, 1], dtype=np.int64)
    expected = "".join(POOL[index] for index in pieces).encode()
    out = pa.allocate_buffer(len(expected))
    join_into(POOL, pieces, out)
    assert out.to_pybytes() == expected


@pytest.mark.parametrize("pool, pieces, size, error", [
    (POOL, [1, 7], 5, IndexError),  # not in the pool
    (POOL, [1, -1], 5, IndexError),
    (POOL, [1, 2], 5, ValueError),  # more than the buffer holds
    (POOL, [1], 6, ValueError),  # less
    (["ok", b"bytes"], [0, 1], 7, TypeError),
    (["ok", "\ud800"], [0, 1], 5, UnicodeEncodeError),  # a lone surrogate has no UTF-8
])
def test_bad_pieces_are_refused(pool, pieces, size, error):
    with pytest.raises(error):
        join_into(pool, np.array(pieces, dtype=np.int64), pa.allocate_buffer(size))


def test_pieces_must_be_int64():
    with pytest.raises(TypeError):
        join_into(POOL, np.array([1], dtype=np.int32), pa.allocate_buffer(5))
