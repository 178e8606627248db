"""One browser episode: `BrowserSession`, an isolated context of a `sandboxes.browser.Browser` with its tabs, traffic
rules, element ids and observation capture.

A fresh context (no cookies or storage shared with other episodes), route interception that lets only the allowed
origins through and injects the task's perturbations (`_route`: the first of the two containment layers described in
sandboxes/browser.py), tabs, element ids (`bid` attributes, set in document order and kept for the life of the page),
and the observation bundle (`observe`, `encode_bundle`). The scripts it runs in pages are the .js files of
sandboxes/page_scripts/, read once at import.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from importlib import resources
from typing import Any
from urllib.parse import urljoin

from sandboxes import web_actions
from sandboxes.browser import Browser, PageCrashed, is_death, origin_of
from sandboxes.web_perturb import Perturbation


def _page_script(name: str) -> str:
    # Through importlib.resources, not a path beside this file: the scripts are package data wherever it is installed.
    return (resources.files("sandboxes") / "page_scripts" / name).read_text(encoding="utf-8")


# Runs before any page script: remembers when the DOM last changed (our own bid marking excluded).
QUIET_TRACKER_JS = _page_script("quiet_tracker.js")

# WebRTC sends UDP (STUN/TURN) to any address, which request routing never sees (and Chromium's
# --force-webrtc-ip-handling-policy switch did not stop it): pages get no peer connections.
NO_WEBRTC_JS = _page_script("no_webrtc.js")

# Chromium counts only an interface other than `lo` as online, so in its own namespace (and here in the host's too)
# pages saw navigator.onLine false while every allowed site loaded; a site that shows an offline screen on it would
# record that instead. Dedicated workers (service workers are blocked) keep the browser's own answer.
ONLINE_JS = _page_script("online.js")

# Reads of one observation at most, when navigations keep replacing the document being read (BrowserSession.observe).
OBSERVE_READS = 4
# Waits until the DOM has been quiet for quietMs (bounded), then gives every element without a bid the next one.
SETTLE_AND_MARK_JS = _page_script("settle_and_mark.js")


class BrowserSession:
    """One episode's isolated browser context with its tabs, traffic rules and element ids."""

    def __init__(self, browser: Browser, allowed_origins: list[str], perturbations: list[Perturbation] = (),
                 action_timeout_ms: float = 5000, navigation_timeout_ms: float = 15000,
                 settle_timeout_ms: float = 3000, quiet_ms: float = 20, viewport=(1280, 720)):
        self.browser = browser
        self.allowed = {origin_of(o) for o in allowed_origins}
        self.perturbations = list(perturbations)
        self.action_timeout_ms = action_timeout_ms
        self.navigation_timeout_ms = navigation_timeout_ms
        self.settle_timeout_ms = settle_timeout_ms
        self.quiet_ms = quiet_ms
        self.viewport = viewport
        self.messages: list[str] = []
        self.blocked: list[str] = []
        self._hits: list[str] = []
        self._context = None
        self._pages: list = []
        self._active = 0
        self._inflight = 0
        self._commits = 0  # documents committed in any tab's main frame
        self._navigating: set = set()  # main-frame navigation requests not answered yet
        self._cdp: dict[int, Any] = {}
        self._crashed: list[tuple[int, bool, str]] = []  # (tab index, was active, url) of each crashed tab, in order
        self._page_urls: dict[int, str] = {}  # each page's last http(s) document, where a crashed one is reopened
        self.last_url = ""
        self.start_url = ""

    # -- lifecycle ---------------------------------------------------------------------------------------------
    def open(self, url: str) -> None:
        # A second open would leave the first context open, and its ports allowed by the relay, until the browser
        # closes: the audit's "close() left a closed context's port allowed" was such a context.
        self.close()
        self.last_url = url
        self.start_url = self.start_url or url  # reopen() opens the last page, not the episode's first
        # The same origins decide both layers: `_route` below and the context's proxy bypass list.
        self._context = self.browser.new_context(self.allowed,
                                                 viewport={"width": self.viewport[0], "height": self.viewport[1]},
                                                 service_workers="block", accept_downloads=False)
        self._context.set_default_timeout(self.action_timeout_ms)
        self._context.set_default_navigation_timeout(self.navigation_timeout_ms)
        self._context.add_init_script(QUIET_TRACKER_JS)
        self._context.add_init_script(NO_WEBRTC_JS)
        self._context.add_init_script(ONLINE_JS)
        self._context.route("**/*", self._route)
        # WebSockets never reach `route`: without this, page JS could open one to any host or port.
        self._context.route_web_socket(re.compile(".*"), self._route_web_socket)
        self._context.on("page", self._on_page)
        self._context.on("request", self._on_request)
        self._context.on("requestfinished", self._on_request_done)
        self._context.on("requestfailed", self._on_request_done)
        page = self._context.new_page()
        page.goto(url, timeout=self.navigation_timeout_ms)

    def reopen(self) -> None:
        """After BrowserDied and `Browser.restart()`: a new context with the last page (server state is kept)."""
        self._context, self._pages, self._cdp, self._active, self._inflight = None, [], {}, 0, 0
        self._navigating, self._crashed, self._page_urls = set(), [], {}
        self.open(self.last_url)

    def close(self) -> None:
        if self._context is not None:
            with contextlib.suppress(Exception):
                self._context.close()
            self.browser.release(self._context)
        self._context, self._pages, self._cdp = None, [], {}

    def replace_crashed_pages(self) -> list[str]:
        """After PageCrashed: each crashed tab (the active one if its crash event has not come yet) is replaced, in
        its place among the tabs, by a new page of the same context at its last http(s) URL (the episode's start URL
        if it had none); the browser, the context and the other tabs stay. Returns the URLs reopened."""
        if not self._crashed and self._pages:
            self._on_crash(self._pages[self._active])
        active = self._pages[self._active] if self._pages else None
        # Tabs were taken out one by one as they crashed: putting them back in the reverse order restores each place.
        for index, was_active, url in reversed(self._crashed):
            fresh = self._context.new_page()  # _on_page appends it and makes it active
            self._pages.remove(fresh)
            self._pages.insert(index, fresh)
            active = fresh if was_active else active
            fresh.goto(url, timeout=self.navigation_timeout_ms)
        urls = [url for _, _, url in self._crashed]
        self._crashed.clear()
        self._active = self._pages.index(active)
        return urls

    # -- tabs ----------------------------------------------------------------------------------------------------
    def _on_page(self, page) -> None:
        # A new tab (new_tab, target=_blank, window.open) becomes the active one, as in BrowserGym.
        self._pages.append(page)
        self._active = len(self._pages) - 1
        page.on("close", lambda p: self._forget(p))
        page.on("crash", self._on_crash)
        page.on("framenavigated", self._on_frame_navigated)

    def _on_frame_navigated(self, frame) -> None:
        if frame.parent_frame is None:
            self._commits += 1
            if frame.url.startswith("http"):
                self._page_urls[id(frame.page)] = frame.url

    def _on_crash(self, page) -> None:
        """A tab's renderer died: take the tab out until replace_crashed_pages, and close it. A CDP call pending on a
        crashed page is never answered (Playwright 1.65; the step waited for the watchdog, then a browser restart);
        the close fails it at once."""
        if page not in self._pages:
            return
        index = self._pages.index(page)
        self._crashed.append((index, index == self._active, self._page_urls.get(id(page), self.start_url)))
        self._forget(page)
        with contextlib.suppress(Exception):
            page.close()

    def _forget(self, page) -> None:
        if page in self._pages:
            index = self._pages.index(page)
            self._pages.remove(page)
            self._cdp.pop(id(page), None)
            self._page_urls.pop(id(page), None)
            if self._active >= index:
                self._active = max(0, self._active - 1)

    @property
    def page(self):
        if self._crashed:
            index, _, url = self._crashed[0]
            raise PageCrashed(f"the renderer of tab {index} ({url}) died")
        if not self._pages:
            raise web_actions.ActionError("no tab is open")
        return self._pages[self._active]

    def new_tab(self) -> None:
        self._context.new_page()

    def focus_tab(self, index: int) -> None:
        if not 0 <= index < len(self._pages):
            raise web_actions.ActionError(f"no tab {index}; open tabs: 0..{len(self._pages) - 1}")
        self._active = index
        self.page.bring_to_front()

    def close_tab(self) -> None:
        if len(self._pages) == 1:
            raise web_actions.ActionError("cannot close the last tab")
        self.page.close()
        self.page.bring_to_front()

    # -- traffic ------------------------------------------------------------------------------------------------
    def _on_request(self, request) -> None:
        self._inflight += 1
        if not request.is_navigation_request():
            return
        try:
            frame = request.frame
        except Exception:  # a popup's first navigation is requested before its frame exists
            return
        if frame.parent_frame is None:
            self._navigating.add(request)

    def _on_request_done(self, request) -> None:
        self._inflight = max(0, self._inflight - 1)
        self._navigating.discard(request)

    def _route(self, route) -> None:
        url = route.request.url
        if origin_of(url) not in self.allowed:
            self.blocked.append(url)
            route.abort("blockedbyclient")
            return
        for perturbation in self.perturbations:
            if perturbation.matches(url):
                self._hits.append(perturbation.label)
                perturbation.apply(route)
                return
        route.continue_()

    def _route_web_socket(self, ws) -> None:
        url = ws.url
        scheme = "https" if url.startswith("wss:") else "http"
        if origin_of(scheme + url[url.index(":"):]) not in self.allowed:
            self.blocked.append(url)
            ws.close()  # never connected: nothing leaves the browser
            return
        ws.connect_to_server()

    def take_perturbation_hits(self) -> list[str]:
        hits, self._hits = sorted(set(self._hits)), []
        return hits

    # -- actions -------------------------------------------------------------------------------------------------
    def absolute_url(self, url: str) -> str:
        base = self.page.url if self._pages else ""
        return urljoin(base if base.startswith("http") else self.last_url, url)

    def element(self, bid: str):
        locator = self.page.locator(f'[bid="{bid}"]')
        if locator.count() == 0:
            raise web_actions.ActionError(f"no element with bid {bid!r} on this page")
        return locator.first

    def act(self, name: str, arguments: dict[str, Any]) -> str | None:
        """Run one action; a failure the page caused (no such element, timeout) is returned as the error text."""
        from playwright.sync_api import Error as PlaywrightError
        try:
            web_actions.run(self, name, arguments)
        except web_actions.ActionError as exc:
            return str(exc)
        except PlaywrightError as exc:
            self._raise_if_crashed(exc)
            if is_death(exc):
                raise
            return str(exc).split("\nCall log:")[0].strip()
        return None

    def _raise_if_crashed(self, exc: Exception) -> None:
        """A call that failed because a tab crashed under it (or was closed for that, _on_crash) is a PageCrashed."""
        if self._crashed:
            raise PageCrashed(str(exc).splitlines()[0]) from exc

    # -- observation ---------------------------------------------------------------------------------------------
    def _settle(self) -> float:
        """Wait for the load event and for in-flight requests to finish; returns the ms spent."""
        start = time.perf_counter()
        deadline = start + self.settle_timeout_ms / 1000
        page = self.page
        from playwright.sync_api import Error as PlaywrightError
        with contextlib.suppress(PlaywrightError):
            page.wait_for_load_state("load", timeout=self.settle_timeout_ms)
        while self._inflight > 0 and time.perf_counter() < deadline:
            page.wait_for_timeout(10)
        return (time.perf_counter() - start) * 1000

    def _cdp_session(self, page):
        session = self._cdp.get(id(page))
        if session is None:
            session = self._cdp[id(page)] = self._context.new_cdp_session(page)
        return session

    def observe(self, last_action_error: str | None = None) -> tuple[dict[str, Any], float]:
        """The raw observation bundle (CDP AX tree, aria snapshot, bids, url, title, tabs, focus) and wait ms.

        Read again (up to OBSERVE_READS times) when the main document changed while it was read or a navigation is
        on its way: an action may start one late (Enter in a form submits in a task posted after the key event), and
        the bids, the AX tree and the aria snapshot must all come from one document. Once, `make run` recorded the
        old page's bids with the new page's one-node AX tree, and the scripted task after it found no link."""
        from playwright.sync_api import Error as PlaywrightError
        try:
            return self._observe(last_action_error)
        except PlaywrightError as exc:
            self._raise_if_crashed(exc)
            raise

    def _observe(self, last_action_error: str | None) -> tuple[dict[str, Any], float]:
        from playwright.sync_api import Error as PlaywrightError
        network_ms = waited_ms = 0.0
        for read in range(OBSERVE_READS):
            last = read == OBSERVE_READS - 1
            network_ms += self._settle()
            commits, page = self._commits, self.page
            try:
                marks, ax_nodes, bids, aria, url, title = self._read(page)
            except PlaywrightError as exc:
                # A navigation the action started late replaced the document under us.
                if "context was destroyed" not in str(exc) or last:
                    raise
                continue
            waited_ms += float(marks["waited"])
            if last or (self._commits == commits and not self._navigating):
                break
        if url.startswith("http"):
            self.last_url = url  # where reopen() goes back to and relative goto() URLs resolve
        bundle = {
            "url": url,
            "title": title,
            "tabs": [{"url": p.url, "title": p.title() if p is not page else None} for p in self._pages],
            "active_tab": self._active,
            "focused_bid": marks["focused"],
            "last_action_error": last_action_error,
            "aria_snapshot": aria,
            "ax_tree": ax_nodes,
            "bids": bids,
        }
        bundle["tabs"][self._active]["title"] = bundle["title"]
        return bundle, network_ms + waited_ms

    def _read(self, page) -> tuple[dict, list, dict, str, str, str]:
        """(marks, AX tree nodes, bids by backend node id, aria snapshot, url, title) of the page as it is now."""
        marks = page.evaluate(SETTLE_AND_MARK_JS, {"quietMs": self.quiet_ms, "timeoutMs": self.settle_timeout_ms})
        cdp = self._cdp_session(page)
        ax_nodes = cdp.send("Accessibility.getFullAXTree")["nodes"]
        bids = _bids_by_backend_id(cdp.send("DOM.getDocument", {"depth": -1})["root"])
        aria = page.locator("body").aria_snapshot(timeout=self.action_timeout_ms)
        return marks, ax_nodes, bids, aria, page.url, page.title()


def _bids_by_backend_id(root: dict) -> dict[str, str]:
    bids, stack = {}, [root]
    while stack:
        node = stack.pop()
        attributes = node.get("attributes") or []
        for i in range(0, len(attributes) - 1, 2):
            if attributes[i] == "bid":
                bids[str(node["backendNodeId"])] = attributes[i + 1]
                break
        stack.extend(node.get("children") or ())
    return bids


def encode_bundle(bundle: dict[str, Any]) -> bytes:
    return json.dumps(bundle, ensure_ascii=False, separators=(",", ":")).encode()
