"""Temp paths and temp names are volatile only where they look generated (transforms/masking/rules.py GENERATED): the
span is the generated part, and a name a task or fixture chose is content."""

import random
import string
import uuid

import pytest

from transforms.masking import volatile_spans


def kinds(text):
    return [(text[s["start"]:s["end"]], s["kind"]) for s in volatile_spans(text)]


@pytest.mark.parametrize(("text", "span"), [
    ("/tmp/tmp.Xa81bC", "tmp.Xa81bC"),  # mktemp
    ("/tmp/tmp.k3JdQ0aZpb/out.log", "tmp.k3JdQ0aZpb"),
    ("/tmp/tmpk2j_x9ab", "tmpk2j_x9ab"),  # Python tempfile
    ("/tmp/tmpab12cd34.json", "tmpab12cd34.json"),
    ("/var/tmp/pip-req-build-k2j_x9ab/setup.py", "pip-req-build-k2j_x9ab"),  # tempfile with a prefix
    ("/tmp/wl-mcp-everything-u17r31m8/work", "wl-mcp-everything-u17r31m8"),  # real, mcp everything server
    ("/tmp/pytest-of-root/pytest-3/test_x0/data.csv", "pytest-3"),
    ("/tmp/pytest-of-root/pytest-3/test_x0/tmpab12cd34/o.txt", "pytest-3/test_x0/tmpab12cd34"),  # first to last
    ("/tmp/server-12345.sock", "server-12345.sock"),  # a pid suffix
    ("/tmp/go-build2871639042/b001", "go-build2871639042"),
    ("/dev/shm/sem.3f9a2b1c0d", "sem.3f9a2b1c0d"),
    ("/tmp/ssh-XXXXa8Kq2Lm/agent.12345", "ssh-XXXXa8Kq2Lm/agent.12345"),
    ("/private/var/folders/x7/k2h8l9p10_3dq4w/T/report.txt", "k2h8l9p10_3dq4w"),
])
def test_generated_components_are_masked_and_only_they(text, span):
    assert kinds(text) == [(span, "temp_path")]


@pytest.mark.parametrize("text", [
    # Real (curated run of 2026-11-27): paths the task's fixture chose, once masked whole.
    "/tmp/workspace/notes/todo.txt", "/tmp/workspace/plan.md", "/tmp/workspace/repo", "/tmp/draft.txt",
    "/tmp/report.txt", "/tmp/settings.orig", "cp /tmp/draft.txt /tmp/report.txt && ls /tmp",
    # Fixed system and tool names, and names that have a digit or two.
    "/tmp/.X11-unix/X0", "/tmp/tmux-0/default", "/tmp/pytest-of-root", "/tmp/tmp.backup", "/tmp/tmp_results",
    "/tmp/sha256sums.txt", "/tmp/x11vnc.log", "/tmp/python3.11/site-packages", "/tmp/data-001.csv",
    "/tmp/my_file_01.txt", "/tmp/Version2Final.doc", "/tmp/backup-2024.tar.gz", "/tmp/image_256x256.png",
    "tmp_output_dir", "tmpfiles", "tmp_settings_backup",
])
def test_names_a_task_chose_are_content(text):
    assert kinds(text) == []


def test_bare_temp_names_follow_the_same_test():
    assert kinds("created tmpq1w2e3r4 and tmp_output_dir") == [("tmpq1w2e3r4", "temp_path")]


def test_other_rules_still_see_inside_a_fixed_temp_path():
    assert kinds("/tmp/workspace/run-2026-11-27.log") == [("2026-11-27", "date")]


_PY = string.ascii_lowercase + string.digits + "_"  # tempfile's characters
_ALNUM = string.ascii_letters + string.digits  # mktemp's


@pytest.mark.parametrize(("make", "least"), [
    (lambda rng: "tmp" + "".join(rng.choices(_PY, k=8)), 0.9),  # tempfile.mkdtemp()
    (lambda rng: "pip-unpack-" + "".join(rng.choices(_PY, k=8)), 0.75),  # tempfile.mkdtemp(prefix=...)
    (lambda rng: "tmp." + "".join(rng.choices(_ALNUM, k=10)), 1.0),  # mktemp -d
    (lambda rng: "go-build" + str(rng.randrange(10 ** 8, 2 ** 32)), 1.0),  # os.MkdirTemp
    (lambda rng: str(uuid.UUID(int=rng.getrandbits(128), version=4)), 1.0),
    (lambda rng: "".join(rng.choices("0123456789abcdef", k=12)), 0.95),
])
def test_random_names_of_each_generator_are_mostly_found(make, least):
    rng = random.Random(3)
    names = [make(rng) for _ in range(400)]
    found = [name for name in names if kinds(f"/tmp/{name}/x") in ([(name, "temp_path")], [(name, "uuid")])]
    assert len(found) >= least * len(names)
