"""A real terminal collection of text with zero-width characters keeps every line whole (unusual-content audit U1).

The renderer cut `नमस्ते दुनिया` to `नमस्त` and `I ❤️ tea` to `I ❤`, dropping the UUIDs and dates after them, in both
the collector's `text` and the text curation renders again from `raw`.
"""

import subprocess
import sys

import pyarrow.parquet as pq

from transforms.normalize import normalize_observation

UUID = "9f8e7d6c-0000-4000-8000-123456789abc"
LINES = [f"नमस्ते दुनिया id {UUID}", f"I ❤️ tea id {UUID}", f"👨‍👩‍👧 family id {UUID}", f"👩‍💻 zw\u200bsp id {UUID}"]


def test_a_collected_screen_keeps_text_after_zero_width_characters(tmp_path, base_image, prefix):
    # Written at setup, so the screen shows the text only as `cat`'s output, each line on a row of its own.
    script = "".join(f"{line}\\n" for line in LINES)
    tasks = tmp_path / "tasks.yaml"
    tasks.write_text(
        "tasks:\n"
        "  - id: zero-width\n"
        "    instruction: Print text with joiners, variation selectors and vowel signs.\n"
        f"    setup: [\"printf '{script}' > shown.txt\"]\n"
        "    actions:\n"
        "      - [{keystrokes: \"cat shown.txt\\n\", duration: 5}]\n",
        encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "pipelines.cli", "collect", "terminal", "--tasks", str(tasks),
                           "--out", str(tmp_path / "raw"), "--image", base_image, "--container-prefix", prefix],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    [path] = (tmp_path / "raw" / "transitions").rglob("*.parquet")
    [row] = pq.read_table(path).to_pylist()
    observation = row["next_observation"]
    curated = normalize_observation(observation)
    for line in LINES:
        assert line.encode() in observation["raw"]  # tmux showed it whole
        assert f"\n{line}\n" in curated, (line, curated)
        assert f"\n{line}\n" in observation["text"], (line, observation["text"])
