"""The second containment layer: Chromium's own proxy rules, independent of Playwright routing.

A page on an allowed local site tries to reach another local port (not allowed) by request classes that
Playwright routing does not see. The listener on that port records every TCP connection, even one that never
sends a byte (Chromium preconnects before a navigation request reaches routing).
"""

from __future__ import annotations

import socket
import threading
import time

import pytest

import sandboxes.browser as browser_module
from sandboxes.browser import Browser, proxy_bypass
from sandboxes.browser_session import BrowserSession
from tests.web.browser_helpers import running_browser
from tests.http_pages import serving

# Request classes measured to get past `context.route` (Playwright 1.65, Chromium 156): each page, served by the
# allowed site, sends one request to the listener's port.
MISSED_BY_ROUTING = {
    "speculation-prefetch": '<script type="speculationrules">'
                            '{{"prefetch": [{{"source": "list", "urls": ["{x}/prefetch"], "eagerness": "immediate"}}]}}'
                            '</script>',
    "speculation-prerender": '<script type="speculationrules">'
                             '{{"prerender": [{{"source": "list", "urls": ["{x}/prerender"], '
                             '"eagerness": "immediate"}}]}}</script>',
    "keepalive-fetch-on-unload": '<script>addEventListener("pagehide", () => fetch("{x}/unload", '
                                 '{{method: "POST", keepalive: true, body: "x"}}));'
                                 'setTimeout(() => location.href = "/blank", 200)</script>',
    "shared-worker": '<script>new SharedWorker("/shared-worker.js")</script>',
    "iframe-preconnect": '<iframe src="{x}/frame"></iframe>',
}


@pytest.fixture(scope="module")
def browser():
    with running_browser() as browser:
        yield browser


@pytest.fixture
def listener():
    """A TCP port that is not allowed; `hits` gets the first bytes of every connection (b'' for a bare connect)."""
    hits: list[bytes] = []
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(20)

    def serve(conn):
        conn.settimeout(2)
        try:
            data = conn.recv(200)
        except OSError:
            data = b""
        hits.append(data)
        try:
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nAccess-Control-Allow-Origin: *\r\n"
                         b"Content-Length: 4\r\nConnection: close\r\n\r\nleak")
        except OSError:
            pass
        conn.close()

    def accept():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}", hits
    server.close()


@pytest.fixture
def site(listener):
    """The allowed site: /<probe name> is a page that tries to reach the listener that way."""
    other, _ = listener
    served: list[str] = []

    def page(path: str) -> tuple[bytes, str]:
        served.append(path)
        name = path.strip("/")
        if name == "shared-worker.js":
            return f'fetch("{other}/worker").catch(() => 0)'.encode(), "text/javascript"
        probe = MISSED_BY_ROUTING.get(name, "").format(x=other)
        return f"<html><body><h1>allowed</h1>{probe}</body></html>".encode(), "text/html"

    with serving(page) as url:
        yield url, served


def _wait_for(hits: list, session: BrowserSession, seconds: float) -> None:
    # Waiting through Playwright, not time.sleep: route handlers run in this thread only while it is in a
    # Playwright call, and a request waiting for its route decision (the /blank navigation) would never go out.
    deadline = time.monotonic() + seconds
    while not hits and time.monotonic() < deadline:
        session.page.wait_for_timeout(50)


def test_bypass_list_names_only_the_allowed_host_ports_and_drops_the_implicit_loopback_bypass():
    assert proxy_bypass(["http://127.0.0.1:5000/start", "https://Example.com", "http://[::1]:8080",
                         "http://127.0.0.1:5000"]) == "<-loopback>,127.0.0.1:5000,[::1]:8080,example.com:443,.127.0.0.1"
    assert proxy_bypass([]) == "<-loopback>"


def test_browser_is_launched_with_a_dead_proxy_and_no_bypass(browser):
    args = open(f"/proc/{browser.pid}/cmdline", "rb").read().decode().split("\0")
    assert f"--proxy-server={browser.dead_proxy}" in args and "--proxy-bypass-list=<-loopback>" in args
    port = int(browser.dead_proxy.rsplit(":", 1)[1])
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_a_context_created_without_playwright_sees_only_the_launch_flags(browser, site, listener):
    # A browser context made over raw CDP has no Playwright routing and no per-context proxy: only the launch flags.
    other, hits = listener
    site_url, served = site
    cdp = browser._browser.new_browser_cdp_session()
    context_id = cdp.send("Target.createBrowserContext", {})["browserContextId"]
    try:
        cdp.send("Target.createTarget", {"url": other + "/raw-context", "browserContextId": context_id})
        cdp.send("Target.createTarget", {"url": site_url + "/raw-context", "browserContextId": context_id})
        time.sleep(2)
        assert hits == [], f"a context outside any episode reached another local port: {hits}"
        assert "/raw-context" not in served  # no bypass at launch: not even the sites
    finally:
        cdp.send("Target.disposeBrowserContext", {"browserContextId": context_id})
        cdp.detach()


def test_with_routing_off_an_episode_context_reaches_only_its_allowed_origins(browser, site, listener):
    other, hits = listener
    site_url, served = site
    context = browser.new_context([site_url])  # no context.route, no route_web_socket: the proxy layer alone
    try:
        page = context.new_page()
        page.goto(site_url + "/")
        assert page.locator("h1").inner_text() == "allowed"
        fetched = page.evaluate(f"fetch('{other}/fetch').then(() => 'ok', e => 'failed')")
        with pytest.raises(Exception, match="ERR_PROXY_CONNECTION_FAILED|ERR_TUNNEL_CONNECTION_FAILED"):
            page.goto(other + "/navigate")
        time.sleep(0.3)
        assert fetched == "failed" and hits == [], f"another local port was reached: {hits}"
    finally:
        context.close()


def test_the_allowed_origin_is_still_reached_by_websocket_and_fetch_through_the_bypass(browser, site, listener):
    other, hits = listener
    site_url, served = site
    session = BrowserSession(browser, [site_url])
    try:
        session.open(site_url + "/")
        page = session.page
        assert page.evaluate("fetch('/same-origin').then(r => r.status)") == 200
        page.evaluate(f"""new Promise(r => {{ const ws = new WebSocket('{site_url.replace("http", "ws")}/socket');
            ws.onerror = ws.onclose = ws.onopen = () => r(); setTimeout(r, 3000); }})""")
        assert "/same-origin" in served and "/socket" in served  # the handshake reached the site (no ws server)
    finally:
        session.close()


@pytest.mark.parametrize("probe", sorted(MISSED_BY_ROUTING))
@pytest.mark.parametrize("proxy_lets_it_through", [False, True], ids=["contained", "control"])
def test_request_classes_routing_misses_reach_no_other_port(browser, site, listener, monkeypatch, probe,
                                                            proxy_lets_it_through):
    other, hits = listener
    site_url, served = site
    if proxy_lets_it_through:
        # Control: the proxy layer also bypasses the listener, the task still allows only the site (routing is as
        # in an episode). The probe must then reach the listener, which shows that routing alone misses it.
        monkeypatch.setattr(browser_module, "proxy_bypass", lambda origins: proxy_bypass([*origins, other]))
        # And the sandbox's own network namespace lets it through too: the relay carries the listener's port.
        address = {browser_module.loopback_address(other)}
        browser._relay.allow("control", address)
        browser._relay.listen(address, browser_module.RELAY_TIMEOUT_S)
    session = BrowserSession(browser, [site_url])
    try:
        session.open(f"{site_url}/{probe}")
        assert f"/{probe}" in served  # the allowed site loads
        _wait_for(hits, session, 10 if proxy_lets_it_through else 3)
        if probe == "keepalive-fetch-on-unload":
            assert "/blank" in served  # the page did unload
    finally:
        session.close()
        browser._relay.forget("control")
    if proxy_lets_it_through:
        assert hits, f"{probe}: never reached the listener; routing may now catch it, so this probe no longer " \
                     "tests the proxy layer"
    else:
        assert hits == [], f"{probe} reached another local port: {hits}"
