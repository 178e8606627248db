"""What every site shares: the sqlite connection per request, the common layout, a fresh database on demand."""

from __future__ import annotations

import os
import secrets
import sqlite3
from pathlib import Path
from typing import Callable

from flask import Flask, g
from jinja2 import ChoiceLoader, FileSystemLoader

SHARED = Path(__file__).parent


def make_app(name: str, package_dir: Path, db_path: str | Path) -> Flask:
    app = Flask(name, template_folder=str(package_dir / "templates"), static_folder=str(SHARED / "static"))
    # Site templates first, then the shared layout they extend.
    app.jinja_loader = ChoiceLoader([FileSystemLoader(str(package_dir / "templates")),
                                     FileSystemLoader(str(SHARED / "templates"))])
    app.config.update(DB_PATH=str(db_path), SECRET_KEY=secrets.token_hex(16), SITE_NAME=name)

    @app.teardown_appcontext
    def _close(_exc):
        conn = g.pop("db", None)
        if conn is not None:
            conn.close()

    return app


def db() -> sqlite3.Connection:
    from flask import current_app
    if "db" not in g:
        g.db = sqlite3.connect(current_app.config["DB_PATH"], timeout=10)
        g.db.row_factory = sqlite3.Row
    return g.db


def rebuild_db(db_path: str | Path, schema: str, seed: Callable[[sqlite3.Connection], None]) -> None:
    """Write a fresh database beside the live one and swap it in, so a reset never shows a half-built state."""
    db_path = Path(db_path)
    tmp = db_path.with_name(f".{db_path.name}.{os.getpid()}.new")
    tmp.unlink(missing_ok=True)
    conn = sqlite3.connect(tmp)
    try:
        conn.executescript(schema)
        seed(conn)
        conn.commit()
    finally:
        conn.close()
    os.replace(tmp, db_path)
