"""Faults injected into a browser's traffic through Playwright route interception, declared per task.

A spec is `KIND:PATH_GLOB[:ARG]`, matched against the URL path (with query) of every request the page makes:
    http_500:/cart            answer 500 instead of calling the server
    http_404:/product/*       answer 404
    slow:/search*:1500        hold the request ARG ms (default 2000) before it reaches the server
    truncate:/thread/*:0.3    serve only the first ARG fraction (default 0.5) of the real body
    asset_fail:/static/*      fail the request at the network level, as a lost asset load does
The spec string itself is the label put on every transition during which the fault fired.
"""

from __future__ import annotations

import fnmatch
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

KINDS = ("http_500", "http_404", "slow", "truncate", "asset_fail")
DROPPED_ON_TRUNCATE = {"content-length", "content-encoding", "transfer-encoding"}


class PerturbationError(ValueError):
    pass


@dataclass(frozen=True)
class Perturbation:
    label: str
    kind: str
    path_glob: str
    arg: float | None = None

    def matches(self, url: str) -> bool:
        parts = urlsplit(url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        return fnmatch.fnmatchcase(target, self.path_glob) or fnmatch.fnmatchcase(parts.path, self.path_glob)

    def apply(self, route) -> None:
        if self.kind in ("http_500", "http_404"):
            status = int(self.kind[-3:])
            route.fulfill(status=status, content_type="text/html",
                          body=f"<html><head><title>{status}</title></head><body><h1>{status}</h1></body></html>")
        elif self.kind == "slow":
            # Blocking is the point: the page sees the response late, exactly as from a slow server.
            time.sleep((self.arg if self.arg is not None else 2000) / 1000)
            route.continue_()
        elif self.kind == "truncate":
            response = route.fetch()
            body = response.body()
            keep = int(len(body) * (self.arg if self.arg is not None else 0.5))
            headers = {k: v for k, v in response.headers.items() if k.lower() not in DROPPED_ON_TRUNCATE}
            route.fulfill(status=response.status, headers=headers, body=body[:keep])
        else:
            route.abort("failed")


def parse_perturbation(spec: str) -> Perturbation:
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
    return Perturbation(spec, kind, path_glob, arg)
