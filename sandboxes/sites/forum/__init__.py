"""A forum: boards, threads, replies, login/registration, search, user pages."""

from __future__ import annotations

from functools import wraps
from pathlib import Path

from flask import abort, flash, redirect, render_template, request, session
from werkzeug.security import check_password_hash, generate_password_hash

from sandboxes.sites.base import db, make_app, rebuild_db

SCHEMA = """
CREATE TABLE user (name TEXT PRIMARY KEY, password_hash TEXT NOT NULL, bio TEXT DEFAULT '');
CREATE TABLE board (id INTEGER PRIMARY KEY, name TEXT NOT NULL, description TEXT NOT NULL);
CREATE TABLE thread (id INTEGER PRIMARY KEY, board_id INTEGER NOT NULL, title TEXT NOT NULL, author TEXT NOT NULL);
CREATE TABLE post (id INTEGER PRIMARY KEY, thread_id INTEGER NOT NULL, author TEXT NOT NULL, body TEXT NOT NULL);
"""

USERS = {"alice": "wonderland", "bob": "builder", "carol": "singer", "dave": "diver"}
BOARDS = [("General", "Anything goes."), ("Help", "Questions and answers about the tools."),
          ("Announcements", "News from the maintainers."), ("Gardening", "Soil, seeds and sheds.")]
TOPICS = ["How do I reset my password?", "Favourite keyboard shortcuts", "Release 2.4 is out",
          "Tomatoes splitting after rain", "Best way to back up a laptop", "Introduce yourself",
          "Search does not find old posts", "Compost: hot or cold?", "Meetup in the spring",
          "Dark mode request", "Why is my build slow?", "Pruning apple trees in winter"]
REPLIES = ["Thanks, that helped a lot.", "I had the same problem last week.", "Have you tried restarting it?",
           "Seconded, this would be great.", "See the announcement board for details.", "Not sure, following."]


def _seed(conn):
    # A cheap hash method: seeding runs per episode and must stay fast.
    conn.executemany("INSERT INTO user (name, password_hash, bio) VALUES (?,?,?)",
                     [(u, generate_password_hash(p, method="pbkdf2:sha256:1000"), f"{u.title()} posts here.")
                      for u, p in USERS.items()])
    conn.executemany("INSERT INTO board (name, description) VALUES (?,?)", BOARDS)
    names = list(USERS)
    for i, title in enumerate(TOPICS):
        cur = conn.execute("INSERT INTO thread (board_id, title, author) VALUES (?,?,?)",
                           (1 + i % len(BOARDS), title, names[i % len(names)]))
        conn.execute("INSERT INTO post (thread_id, author, body) VALUES (?,?,?)",
                     (cur.lastrowid, names[i % len(names)], f"{title} - opening post with the details."))
        for r in range(i % 4):
            conn.execute("INSERT INTO post (thread_id, author, body) VALUES (?,?,?)",
                         (cur.lastrowid, names[(i + r + 1) % len(names)], REPLIES[(i + r) % len(REPLIES)]))


def init_db(db_path):
    rebuild_db(db_path, SCHEMA, _seed)


def login_required(view):
    @wraps(view)
    def wrapped(*args, **kwargs):
        if "user" not in session:
            flash("Please log in first.")
            return redirect(f"/login?next={request.path}")
        return view(*args, **kwargs)
    return wrapped


def create_app(db_path):
    app = make_app("forum", Path(__file__).parent, db_path)
    app.config["SITE_TITLE"] = "Commons Forum"

    @app.get("/")
    def index():
        boards = db().execute("SELECT b.*, COUNT(t.id) AS threads FROM board b LEFT JOIN thread t "
                              "ON t.board_id = b.id GROUP BY b.id ORDER BY b.id").fetchall()
        return render_template("forum_index.html", boards=boards)

    @app.get("/board/<int:bid>")
    def board(bid):
        b = db().execute("SELECT * FROM board WHERE id = ?", (bid,)).fetchone() or abort(404)
        threads = db().execute("SELECT t.*, COUNT(p.id) AS posts FROM thread t JOIN post p ON p.thread_id = t.id "
                               "WHERE t.board_id = ? GROUP BY t.id ORDER BY t.id DESC", (bid,)).fetchall()
        return render_template("forum_board.html", b=b, threads=threads)

    @app.get("/thread/<int:tid>")
    def thread(tid):
        t = db().execute("SELECT * FROM thread WHERE id = ?", (tid,)).fetchone() or abort(404)
        posts = db().execute("SELECT * FROM post WHERE thread_id = ? ORDER BY id", (tid,)).fetchall()
        return render_template("forum_thread.html", t=t, posts=posts)

    @app.post("/thread/<int:tid>/reply")
    @login_required
    def reply(tid):
        body = request.form.get("body", "").strip()
        if len(body) < 3:
            flash("A reply needs at least 3 characters.")
        else:
            db().execute("INSERT INTO post (thread_id, author, body) VALUES (?,?,?)", (tid, session["user"], body))
            db().commit()
            flash("Reply posted.")
        return redirect(f"/thread/{tid}")

    @app.route("/board/<int:bid>/new", methods=["GET", "POST"])
    @login_required
    def new_thread(bid):
        b = db().execute("SELECT * FROM board WHERE id = ?", (bid,)).fetchone() or abort(404)
        error = None
        if request.method == "POST":
            title, body = request.form.get("title", "").strip(), request.form.get("body", "").strip()
            if len(title) < 5:
                error = "Title must be at least 5 characters."
            elif not body:
                error = "Write something in the first post."
            else:
                cur = db().execute("INSERT INTO thread (board_id, title, author) VALUES (?,?,?)",
                                   (bid, title, session["user"]))
                db().execute("INSERT INTO post (thread_id, author, body) VALUES (?,?,?)",
                             (cur.lastrowid, session["user"], body))
                db().commit()
                return redirect(f"/thread/{cur.lastrowid}")
        return render_template("forum_new.html", b=b, error=error, form=request.form)

    @app.route("/login", methods=["GET", "POST"])
    def login():
        error = None
        if request.method == "POST":
            name = request.form.get("username", "").strip()
            row = db().execute("SELECT * FROM user WHERE name = ?", (name,)).fetchone()
            if row is None or not check_password_hash(row["password_hash"], request.form.get("password", "")):
                error = "Wrong username or password."
            else:
                session["user"] = name
                flash(f"Welcome back, {name}.")
                return redirect(request.args.get("next") or "/")
        return render_template("forum_login.html", error=error)

    @app.route("/register", methods=["GET", "POST"])
    def register():
        error = None
        if request.method == "POST":
            name = request.form.get("username", "").strip().lower()
            password = request.form.get("password", "")
            if not name.isalnum() or len(name) < 3:
                error = "Username must be at least 3 letters or digits."
            elif len(password) < 6:
                error = "Password must be at least 6 characters."
            elif password != request.form.get("confirm", ""):
                error = "Passwords do not match."
            elif db().execute("SELECT 1 FROM user WHERE name = ?", (name,)).fetchone():
                error = "That username is taken."
            else:
                db().execute("INSERT INTO user (name, password_hash) VALUES (?,?)",
                             (name, generate_password_hash(password, method="pbkdf2:sha256:1000")))
                db().commit()
                session["user"] = name
                flash(f"Account created. Welcome, {name}.")
                return redirect("/")
        return render_template("forum_register.html", error=error)

    @app.post("/logout")
    def logout():
        session.pop("user", None)
        flash("You are logged out.")
        return redirect("/")

    @app.get("/search")
    def search():
        q = request.args.get("q", "").strip()
        hits = db().execute("SELECT DISTINCT t.* FROM thread t JOIN post p ON p.thread_id = t.id "
                            "WHERE t.title LIKE ? OR p.body LIKE ? ORDER BY t.id",
                            (f"%{q}%", f"%{q}%")).fetchall() if q else []
        return render_template("forum_search.html", q=q, hits=hits)

    @app.get("/user/<name>")
    def user(name):
        u = db().execute("SELECT * FROM user WHERE name = ?", (name,)).fetchone() or abort(404)
        posts = db().execute("SELECT p.*, t.title FROM post p JOIN thread t ON t.id = p.thread_id "
                             "WHERE p.author = ? ORDER BY p.id DESC LIMIT 10", (name,)).fetchall()
        return render_template("forum_user.html", u=u, posts=posts)

    return app
