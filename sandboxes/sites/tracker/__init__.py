"""A project tracker: projects, issue lists with filters, issue pages with status, assignee and comments."""

from __future__ import annotations

from pathlib import Path

from flask import abort, flash, redirect, render_template, request

from sandboxes.sites.base import db, make_app, rebuild_db

SCHEMA = """
CREATE TABLE project (key TEXT PRIMARY KEY, name TEXT NOT NULL, description TEXT NOT NULL);
CREATE TABLE issue (id INTEGER PRIMARY KEY, project TEXT NOT NULL, title TEXT NOT NULL, description TEXT,
                    status TEXT NOT NULL, priority TEXT NOT NULL, assignee TEXT);
CREATE TABLE comment (id INTEGER PRIMARY KEY, issue_id INTEGER NOT NULL, author TEXT NOT NULL, body TEXT NOT NULL);
"""

STATUSES = ["open", "in progress", "review", "done"]
PRIORITIES = ["low", "medium", "high", "urgent"]
PEOPLE = ["ana", "ben", "chen", "dara"]
PROJECTS = [("WEB", "Website", "The public website and its content."),
            ("API", "Public API", "REST endpoints and client libraries."),
            ("OPS", "Operations", "Servers, backups and monitoring.")]
TITLES = ["Login button misaligned on mobile", "Add pagination to search results", "Upgrade TLS certificates",
          "Rate limit the export endpoint", "Broken link in footer", "Nightly backup fails on Sundays",
          "Document the webhook payload", "Slow query on the orders page", "Add dark mode", "Rotate API keys",
          "Fix typo on pricing page", "Alert when disk is 90% full", "Support filtering by date",
          "Cache product images", "Remove deprecated v1 endpoints"]


def _seed(conn):
    conn.executemany("INSERT INTO project VALUES (?,?,?)", PROJECTS)
    for i, title in enumerate(TITLES):
        cur = conn.execute("INSERT INTO issue (project, title, description, status, priority, assignee) "
                           "VALUES (?,?,?,?,?,?)",
                           (PROJECTS[i % 3][0], title, f"Reported by {PEOPLE[(i + 1) % 4]}. Steps: see title.",
                            STATUSES[i % 4], PRIORITIES[(i * 3) % 4], PEOPLE[i % 4] if i % 5 else None))
        for c in range(i % 3):
            conn.execute("INSERT INTO comment (issue_id, author, body) VALUES (?,?,?)",
                         (cur.lastrowid, PEOPLE[(i + c) % 4], ["Can reproduce.", "Working on it."][c]))


def init_db(db_path):
    rebuild_db(db_path, SCHEMA, _seed)


def create_app(db_path):
    app = make_app("tracker", Path(__file__).parent, db_path)
    app.config["SITE_TITLE"] = "Trackline"

    @app.context_processor
    def _nav():
        return {"projects": db().execute("SELECT * FROM project").fetchall(), "statuses": STATUSES,
                "priorities": PRIORITIES, "people": PEOPLE}

    @app.get("/")
    def index():
        counts = db().execute("SELECT project, status, COUNT(*) AS n FROM issue GROUP BY project, status").fetchall()
        return render_template("tracker_index.html", counts=counts)

    @app.get("/project/<key>")
    def project(key):
        p = db().execute("SELECT * FROM project WHERE key = ?", (key,)).fetchone() or abort(404)
        status, assignee = request.args.get("status", ""), request.args.get("assignee", "")
        sql, args = "SELECT * FROM issue WHERE project = ?", [key]
        if status:
            sql, args = sql + " AND status = ?", args + [status]
        if assignee:
            sql, args = sql + " AND assignee = ?", args + [assignee]
        issues = db().execute(sql + " ORDER BY id", args).fetchall()
        return render_template("tracker_project.html", p=p, issues=issues, status=status, assignee=assignee)

    @app.route("/project/<key>/new", methods=["GET", "POST"])
    def new_issue(key):
        p = db().execute("SELECT * FROM project WHERE key = ?", (key,)).fetchone() or abort(404)
        errors, form = {}, request.form
        if request.method == "POST":
            if len(form.get("title", "").strip()) < 5:
                errors["title"] = "Title must be at least 5 characters."
            if form.get("priority") not in PRIORITIES:
                errors["priority"] = "Choose a priority."
            if not errors:
                cur = db().execute("INSERT INTO issue (project, title, description, status, priority, assignee) "
                                   "VALUES (?,?,?,?,?,?)", (key, form["title"].strip(), form.get("description", ""),
                                                            "open", form["priority"], form.get("assignee") or None))
                db().commit()
                flash(f"Issue {key}-{cur.lastrowid} created.")
                return redirect(f"/issue/{cur.lastrowid}")
        return render_template("tracker_new.html", p=p, errors=errors, form=form)

    @app.get("/issue/<int:iid>")
    def issue(iid):
        i = db().execute("SELECT * FROM issue WHERE id = ?", (iid,)).fetchone() or abort(404)
        comments = db().execute("SELECT * FROM comment WHERE issue_id = ? ORDER BY id", (iid,)).fetchall()
        return render_template("tracker_issue.html", i=i, comments=comments)

    @app.post("/issue/<int:iid>/update")
    def update(iid):
        i = db().execute("SELECT * FROM issue WHERE id = ?", (iid,)).fetchone() or abort(404)
        status, assignee = request.form.get("status"), request.form.get("assignee") or None
        if status not in STATUSES or (assignee and assignee not in PEOPLE):
            flash("Invalid status or assignee.")
        else:
            db().execute("UPDATE issue SET status = ?, assignee = ? WHERE id = ?", (status, assignee, iid))
            db().commit()
            flash(f"Issue {i['project']}-{iid} updated: {status}, {assignee or 'unassigned'}.")
        return redirect(f"/issue/{iid}")

    @app.post("/issue/<int:iid>/comment")
    def comment(iid):
        body = request.form.get("body", "").strip()
        if not body:
            flash("Comment is empty.")
        else:
            db().execute("INSERT INTO comment (issue_id, author, body) VALUES (?,?,?)",
                         (iid, request.form.get("author") or "guest", body))
            db().commit()
            flash("Comment added.")
        return redirect(f"/issue/{iid}")

    return app
