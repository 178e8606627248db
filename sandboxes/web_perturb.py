"""Faults injected into a browser's traffic through Playwright route interception, declared per task.

A spec is `KIND:PATH_GLOB[:ARG]`, matched against the URL path (with query) of every request the page makes:
    http_500:/cart            answer 500 instead of calling the server
    http_404:/product/*       answer 404
    slow:/search*:1500        hold the request ARG ms (default 2000) before it reaches the server
    truncate:/thread/*:0.3    serve only the first ARG fraction (default 0.5) of the real body
    asset_fail:/static/*      fail the request at the network level, as a lost asset load does
The spec string itself is the label put on every transition during which the fault fired.

`slow` sleeps inside Playwright's dispatcher (the page sees exactly a slow response), which holds every other event
of the session: nothing the watchdog does ends a step while a route handler sleeps (its kill lands, but the step
goes on until the sleep ends). So ARG is bounded at load (`parse_perturbation`'s `slow_limit_ms`: the web
collector's SLOW_LIMIT_MS), and all the holds of one step together by a `HoldBudget` of the same size that the
collector refills at each step (holds are taken one after another): requests past it go through at once.
"""

from __future__ import annotations

import fnmatch
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

KINDS = ("http_500", "http_404", "slow", "truncate", "asset_fail")
# The kinds that answer with a status of their own; truncate passes the server's status on, slow and asset_fail
# never answer themselves.
STATUS_OF = {"http_500": 500, "http_404": 404}
DEFAULT_SLOW_MS = 2000.0
DROPPED_ON_TRUNCATE = {"content-length", "content-encoding", "transfer-encoding"}


class PerturbationError(ValueError):
    pass


class HoldBudget:
    """How long `slow` may still hold requests in the current step. A step's requests are held one after another
    (each hold blocks the dispatcher), so a page with many matching requests would otherwise hold for their sum."""

    def __init__(self, limit_ms: float):
        self.limit_ms = limit_ms
        self.held_ms = 0.0  # in the current step

    def refill(self) -> None:
        self.held_ms = 0.0

    def take(self, wanted_ms: float) -> float:
        granted = max(0.0, min(wanted_ms, self.limit_ms - self.held_ms))
        self.held_ms += granted
        return granted


@dataclass(frozen=True)
class Perturbation:
    label: str
    kind: str
    path_glob: str
    arg: float | None = None
    # Shared by the session's perturbations; None (no collector) leaves each hold bounded by the parse check alone.
    budget: HoldBudget | None = field(default=None, compare=False, repr=False)

    def matches(self, url: str) -> bool:
        parts = urlsplit(url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        return fnmatch.fnmatchcase(target, self.path_glob) or fnmatch.fnmatchcase(parts.path, self.path_glob)

    def causes_status(self, url: str, status: int) -> bool:
        """Whether this perturbation answers a request for `url` with `status` itself."""
        return STATUS_OF.get(self.kind) == status and self.matches(url)

    def apply(self, route) -> None:
        if self.kind in STATUS_OF:
            status = STATUS_OF[self.kind]
            route.fulfill(status=status, content_type="text/html",
                          body=f"<html><head><title>{status}</title></head><body><h1>{status}</h1></body></html>")
        elif self.kind == "slow":
            # Blocking is the point: the page sees the response late, exactly as from a slow server.
            wanted_ms = self.arg if self.arg is not None else DEFAULT_SLOW_MS
            time.sleep((self.budget.take(wanted_ms) if self.budget else wanted_ms) / 1000)
            route.continue_()
        elif self.kind == "truncate":
            response = route.fetch()
            body = response.body()
            keep = int(len(body) * (self.arg if self.arg is not None else 0.5))
            headers = {k: v for k, v in response.headers.items() if k.lower() not in DROPPED_ON_TRUNCATE}
            route.fulfill(status=response.status, headers=headers, body=body[:keep])
        else:
            route.abort("failed")


def parse_perturbation(spec: str, slow_limit_ms: float | None = None) -> Perturbation:
    """The perturbation a spec names; PerturbationError naming the spec otherwise. `slow_limit_ms`: the longest hold
    a `slow` ARG may ask for (None: no bound)."""
    if not isinstance(spec, str):
        raise PerturbationError(f"perturbation {spec!r}: expected a string KIND:PATH_GLOB[:ARG]")
    kind, _, rest = spec.partition(":")
    if kind not in KINDS:
        raise PerturbationError(f"perturbation {spec!r}: unknown kind {kind!r}; known: {', '.join(KINDS)}")
    path_glob, arg = rest, None
    head, sep, tail = rest.rpartition(":")
    if sep and kind in ("slow", "truncate"):
        try:
            path_glob, arg = head, float(tail)
        except ValueError:
            raise PerturbationError(f"perturbation {spec!r}: argument {tail!r} is not a number") from None
    if not path_glob.startswith("/"):
        raise PerturbationError(f"perturbation {spec!r}: the path glob must start with '/'")
    if kind == "truncate" and arg is not None and not 0 <= arg < 1:
        raise PerturbationError(f"perturbation {spec!r}: truncate fraction must be in [0, 1)")
    if kind == "slow" and arg is not None:
        _check_hold(spec, arg, slow_limit_ms)
    return Perturbation(spec, kind, path_glob, arg)


def _check_hold(spec: str, arg: float, limit_ms: float | None) -> None:
    # `not 0 <= arg` is true for nan too, which float() takes, as it takes inf.
    if not 0 <= arg < float("inf"):
        raise PerturbationError(f"perturbation {spec!r}: slow ARG (milliseconds) must be a number from 0 up")
    if limit_ms is not None and arg > limit_ms:
        raise PerturbationError(f"perturbation {spec!r}: slow ARG {arg:g} ms is more than {limit_ms:g} ms, the "
                                "longest hold a step allows (a hold blocks the whole browser session; a longer one "
                                "would outlast the page load's timeout and the step's deadline)")
