"""Pages read UTC and en-US, not the collecting machine's zone and language (privacy audit PR9): a site that shows
the time or the language (Date, Intl, navigator.language) published the collector's. The shared host here is UTC
itself, so its zone stands in as Chromium's process zone set to Europe/Berlin, as a collector's machine there would
make it; before, pages read Europe/Berlin."""

from __future__ import annotations

from sandboxes import browser as browser_module
from tests.web.browser_helpers import running_browser

ZONE_JS = ("() => [Intl.DateTimeFormat().resolvedOptions().timeZone,"
           " new Date(Date.UTC(2024, 6, 1)).getTimezoneOffset(), navigator.language,"
           " Intl.DateTimeFormat().resolvedOptions().locale]")


def test_a_page_reads_utc_and_en_us_whatever_chromiums_zone(monkeypatch):
    mounts = browser_module.Browser._mounts
    monkeypatch.setattr(browser_module.Browser, "_mounts",
                        lambda self: [*mounts(self), "--setenv", "TZ", "Europe/Berlin"])
    with running_browser() as browser:
        page = browser.new_context().new_page()
        page.set_content("<p>zone</p>")
        assert page.evaluate(ZONE_JS) == ["UTC", 0, "en-US", "en-US"]
        # A caller's own choice still wins over the defaults.
        other = browser.new_context(timezone_id="Asia/Tokyo").new_page()
        other.set_content("<p>zone</p>")
        assert other.evaluate(ZONE_JS)[:2] == ["Asia/Tokyo", -540]
