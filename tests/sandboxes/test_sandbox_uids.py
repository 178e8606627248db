"""Sandbox user ids are held across collector processes: RLIMIT_NPROC counts a user id's processes wherever they
run, so two collectors handing out the same id shared one process cap (a web collect's Chromium left a test's
MCP server or a second Chromium too few processes to start). Before: each process took the lowest id it did not hold
itself, so both got 2000000000."""

import os
import signal
import subprocess
import sys

import pytest

from sandboxes import bwrap

HOLDER = """
import sys
from sandboxes import bwrap
print(bwrap.take_sandbox_uid(), flush=True)
sys.stdin.read()
"""


def hold_uid_in_another_process() -> tuple[subprocess.Popen, int]:
    holder = subprocess.Popen([sys.executable, "-c", HOLDER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True, cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    return holder, int(holder.stdout.readline())


@pytest.fixture
def root():
    if os.geteuid() != 0:
        pytest.fail("sandbox user ids are handed out only to a collector running as root (CI runs the tests as root)")


def test_an_id_held_by_another_collector_process_is_not_handed_out(root):
    holder, held = hold_uid_in_another_process()
    mine = bwrap.take_sandbox_uid()
    try:
        assert mine != held
        os.kill(holder.pid, signal.SIGKILL)  # a killed collector frees its ids: the kernel drops its lock
        holder.wait(timeout=10)
        lowest = bwrap.take_sandbox_uid()
        try:
            assert lowest <= held and lowest != mine  # the lowest free id: `held` is free again
        finally:
            bwrap.release_sandbox_uid(lowest)
    finally:
        bwrap.release_sandbox_uid(mine)
        holder.kill()


def test_a_released_id_is_the_next_one_handed_out_in_the_same_process(root):
    first = bwrap.take_sandbox_uid()
    second = bwrap.take_sandbox_uid()
    assert second != first
    bwrap.release_sandbox_uid(first)
    again = bwrap.take_sandbox_uid()
    bwrap.release_sandbox_uid(second)
    bwrap.release_sandbox_uid(again)
    assert again == first
