"""A real Chromium for tests that drive sandboxes.browser directly. CI installs it (scripts/setup.d/30-chromium.sh),
so a missing one fails the test with what to run rather than skipping it."""

from __future__ import annotations

import contextlib
import os
from typing import Iterator

from sandboxes.browser import CHROMIUM, Browser


def require_chromium() -> None:
    assert os.path.exists(CHROMIUM), f"{CHROMIUM} is missing: run scripts/setup.d/30-chromium.sh (make test does)"


@contextlib.contextmanager
def running_browser(start: bool = True) -> Iterator[Browser]:
    require_chromium()
    browser = Browser()
    try:
        if start:
            browser.start()
        yield browser
    finally:
        browser.close()
