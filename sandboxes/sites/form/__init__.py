"""A multi-step permit application: three validated steps kept server-side, a review page, a status lookup."""

from __future__ import annotations

import re
import secrets
from pathlib import Path

from flask import abort, redirect, render_template, request, session

from sandboxes.sites.base import db, make_app, rebuild_db

SCHEMA = """
CREATE TABLE draft (token TEXT NOT NULL, step INTEGER NOT NULL, field TEXT NOT NULL, value TEXT NOT NULL,
                    PRIMARY KEY (token, field));
CREATE TABLE application (ref TEXT PRIMARY KEY, name TEXT, email TEXT, permit TEXT, city TEXT, status TEXT);
"""
COUNTRIES = ["Austria", "Belgium", "Canada", "Denmark", "Estonia"]
PERMITS = {"parking": "Residential parking", "event": "Street event", "building": "Small building works"}


def _field_errors(step: int, form) -> dict[str, str]:
    errors = {}
    if step == 1:
        if len(form.get("full_name", "").strip()) < 2:
            errors["full_name"] = "Enter your full name."
        if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[a-z]{2,}", form.get("email", "")):
            errors["email"] = "Enter a valid email address."
        if form.get("phone") and not re.fullmatch(r"\+?[\d ]{7,15}", form["phone"]):
            errors["phone"] = "Phone may contain digits and spaces only."
    elif step == 2:
        for name, label in (("street", "Street"), ("city", "City")):
            if not form.get(name, "").strip():
                errors[name] = f"{label} is required."
        if not re.fullmatch(r"\d{4,5}", form.get("postcode", "")):
            errors["postcode"] = "Postcode must be 4 or 5 digits."
        if form.get("country") not in COUNTRIES:
            errors["country"] = "Choose a country."
    elif step == 3:
        if form.get("permit") not in PERMITS:
            errors["permit"] = "Choose a permit type."
        if form.get("terms") != "yes":
            errors["terms"] = "You must accept the terms."
    return errors


STEP_FIELDS = {1: ["full_name", "email", "phone"], 2: ["street", "city", "postcode", "country"],
               3: ["permit", "terms", "notes"]}


def _seed(conn):
    conn.executemany("INSERT INTO application VALUES (?,?,?,?,?,?)",
                     [("PRM-1001", "Jo Park", "jo@example.org", "parking", "Tallinn", "approved"),
                      ("PRM-1002", "Ravi Das", "ravi@example.org", "event", "Ghent", "in review")])


def init_db(db_path):
    rebuild_db(db_path, SCHEMA, _seed)


def create_app(db_path):
    app = make_app("form", Path(__file__).parent, db_path)
    app.config["SITE_TITLE"] = "City Permits"

    def token() -> str:
        if "token" not in session:
            session["token"] = secrets.token_hex(8)
        return session["token"]

    def saved() -> dict[str, str]:
        return {r["field"]: r["value"] for r in db().execute("SELECT * FROM draft WHERE token = ?", (token(),))}

    @app.get("/")
    def index():
        return render_template("form_index.html", permits=PERMITS)

    @app.route("/apply/<int:step>", methods=["GET", "POST"])
    def apply(step):
        if step not in STEP_FIELDS:
            abort(404)
        data = saved()
        if step > 1 and not all(f in data for f in STEP_FIELDS[step - 1][:1]):
            return redirect(f"/apply/{step - 1}")
        errors = {}
        if request.method == "POST":
            errors = _field_errors(step, request.form)
            data.update({f: request.form.get(f, "") for f in STEP_FIELDS[step]})
            if not errors:
                for f in STEP_FIELDS[step]:
                    db().execute("INSERT OR REPLACE INTO draft VALUES (?,?,?,?)",
                                 (token(), step, f, request.form.get(f, "")))
                db().commit()
                return redirect(f"/apply/{step + 1}" if step < 3 else "/review")
        return render_template("form_step.html", step=step, data=data, errors=errors, countries=COUNTRIES,
                               permits=PERMITS)

    @app.route("/review", methods=["GET", "POST"])
    def review():
        data = saved()
        if "terms" not in data:
            return redirect("/apply/1")
        if request.method == "POST":
            ref = f"PRM-{1000 + db().execute('SELECT COUNT(*) FROM application').fetchone()[0] + 1}"
            db().execute("INSERT INTO application VALUES (?,?,?,?,?, 'submitted')",
                         (ref, data["full_name"], data["email"], data["permit"], data["city"]))
            db().execute("DELETE FROM draft WHERE token = ?", (token(),))
            db().commit()
            return redirect(f"/status?ref={ref}")
        return render_template("form_review.html", data=data, permits=PERMITS)

    @app.get("/status")
    def status():
        ref = request.args.get("ref", "").strip().upper()
        row = db().execute("SELECT * FROM application WHERE ref = ?", (ref,)).fetchone() if ref else None
        return render_template("form_status.html", ref=ref, row=row, permits=PERMITS)

    return app
