import pytest

from collectors.web import WebCollector


@pytest.fixture(scope="module")
def collector():
    # One real Chromium for a whole test module; every reset() still gives a fresh context and database.
    web = WebCollector(step_deadline_s=12, action_timeout_ms=2000)
    yield web
    web.close()
