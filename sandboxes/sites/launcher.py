"""Serve the sites on 127.0.0.1 free ports from threads of this process, each with its own sqlite file."""

from __future__ import annotations

import importlib
import logging
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

from werkzeug.serving import BaseWSGIServer, make_server

from sandboxes import leftovers
from sandboxes.sites import SITE_NAMES

SITES_TEMP = "worldline-sites-"

logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per request would drown the output


@dataclass
class RunningSite:
    name: str
    url: str
    db_path: Path
    server: BaseWSGIServer
    thread: threading.Thread


class SiteLauncher:
    """Starts sites on first use; `reset(name)` gives a site a freshly seeded database (used per episode)."""

    def __init__(self):
        # Named for this process, so that a later launcher or `worldline sandbox cleanup` removes it once this process
        # is gone (a SIGKILLed collector never reaches close()).
        self._dir = leftovers.make_temp(SITES_TEMP)
        self._sites: dict[str, RunningSite] = {}
        self._lock = threading.Lock()

    def url(self, name: str) -> str:
        return self.start(name).url

    def start(self, name: str) -> RunningSite:
        with self._lock:
            if name in self._sites:
                return self._sites[name]
            if name not in SITE_NAMES:
                raise ValueError(f"unknown site {name!r}; known sites: {', '.join(SITE_NAMES)}")
            module = importlib.import_module(f"sandboxes.sites.{name}")
            db_path = self._dir / f"{name}.sqlite3"
            module.init_db(db_path)
            server = make_server("127.0.0.1", 0, module.create_app(db_path), threaded=True)
            thread = threading.Thread(target=server.serve_forever, name=f"site-{name}", daemon=True)
            thread.start()
            site = RunningSite(name, f"http://127.0.0.1:{server.server_port}", db_path, server, thread)
            self._sites[name] = site
            return site

    def reset(self, name: str) -> str:
        site = self.start(name)
        importlib.import_module(f"sandboxes.sites.{name}").init_db(site.db_path)
        return site.url

    def origins(self) -> dict[str, str]:
        return {site.url: name for name, site in self._sites.items()}

    def close(self) -> None:
        with self._lock:
            for site in self._sites.values():
                site.server.shutdown()
                site.server.server_close()
            self._sites.clear()
        shutil.rmtree(self._dir, ignore_errors=True)
