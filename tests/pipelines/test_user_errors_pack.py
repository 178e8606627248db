"""`worldline pack` on damaged input names each file it leaves out, with why, and packs the rest; every rerun does
the same. A curate output is refused rather than "packed 0"."""

import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq

from schemas.packs import is_pack, pack_members
from schemas.layout import episode_path, transitions_path
from tests.collectors.test_pack import collection

REPO = Path(__file__).resolve().parents[2]


def worldline(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipelines.cli", *map(str, args)], cwd=REPO, capture_output=True,
                          text=True, timeout=120)


def damage_a_page(path: Path) -> None:
    """Overwrite bytes in the middle of the file's largest column chunk: the footer still reads, a page does not."""
    metadata = pq.read_metadata(path)
    chunk = max((metadata.row_group(0).column(i) for i in range(metadata.num_columns)),
                key=lambda column: column.total_compressed_size)
    start = chunk.data_page_offset + chunk.total_compressed_size // 2
    data = bytearray(path.read_bytes())
    data[start:start + 16] = bytes(byte ^ 0xFF for byte in data[start:start + 16])
    path.write_bytes(bytes(data))
    assert pq.read_metadata(path).num_rows == metadata.num_rows


def packs(root: Path) -> list[Path]:
    return [path for path in (root / "transitions" / "terminal").glob("*.parquet") if is_pack(path)]


def left_lines(result: subprocess.CompletedProcess) -> dict[str, str]:
    return dict(line.strip().removeprefix("left ").split(": ", 1) for line in result.stdout.splitlines()
                if line.startswith("  left "))


def test_a_member_with_a_damaged_page_is_left_out_and_named_and_the_rest_packed(tmp_path):
    collection(tmp_path)  # ep0..ep3 complete, one errored, one unfinished
    damaged = transitions_path(tmp_path, "terminal", "ep1")
    damage_a_page(damaged)
    rows = sum(pq.read_metadata(transitions_path(tmp_path, "terminal", f"ep{i}")).num_rows for i in (0, 2, 3))
    before = damaged.read_bytes()
    for _ in range(2):  # the rerun must not crash either
        result = worldline("pack", tmp_path)
        assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
        why = left_lines(result)["transitions/terminal/ep1.parquet"]
        assert why.startswith("not readable Parquet (row group 0: ") and "CRC" in why, why
        assert "delete it and episodes/terminal/ep1.json, then rerun collect" in why, why
    assert damaged.read_bytes() == before  # nothing is lost
    [pack] = packs(tmp_path)
    assert sorted(pack_members(pack)) == ["ep0.parquet", "ep2.parquet", "ep3.parquet"]
    assert pq.read_table(pack).num_rows == rows


def test_a_damaged_episode_record_leaves_its_file_named(tmp_path):
    collection(tmp_path)
    episode_path(tmp_path, "terminal", "ep2").write_text("{broken")
    result = worldline("pack", tmp_path)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    why = left_lines(result)["transitions/terminal/ep2.parquet"]
    assert why.startswith("its episode record episodes/terminal/ep2.json is not readable (Expecting"), why
    assert "the next collect of its task records the episode again" in why
    assert transitions_path(tmp_path, "terminal", "ep2").exists()
    assert sorted(pack_members(packs(tmp_path)[0])) == ["ep0.parquet", "ep1.parquet", "ep3.parquet"]


def test_a_curate_output_is_refused(curated):
    out = curated[0]
    before = sorted(path.relative_to(out) for path in out.rglob("*"))
    result = worldline("pack", out)
    assert result.returncode == 2 and "packed" not in result.stdout, result.stdout
    assert result.stderr.strip() == (f"Error: {out} is a curate output, not a raw collection: pack the folder "
                                     "`worldline collect` wrote (the --input of that curate run)")
    assert sorted(path.relative_to(out) for path in out.rglob("*")) == before
