"""Real web applications the web collector records on: Flask + sqlite, each with server-side state.

Each site is a package `sandboxes.sites.<name>` exposing `create_app(db_path) -> Flask` and `init_db(db_path)`.
`sandboxes.sites.launcher.SiteLauncher` serves them on 127.0.0.1 free ports and resets their databases.
"""

SITE_NAMES = ("shop", "forum", "tracker", "form")
