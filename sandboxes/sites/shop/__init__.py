"""A shop: categories, search, product pages, a server-side cart, checkout with validation, order history."""

from __future__ import annotations

import re
import secrets
from pathlib import Path

from flask import abort, flash, redirect, render_template, request, session

from sandboxes.sites.base import db, make_app, rebuild_db

SCHEMA = """
CREATE TABLE category (slug TEXT PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE product (id INTEGER PRIMARY KEY, category TEXT NOT NULL REFERENCES category(slug), name TEXT NOT NULL,
                      price_cents INTEGER NOT NULL, stock INTEGER NOT NULL, description TEXT NOT NULL);
CREATE TABLE review (id INTEGER PRIMARY KEY, product_id INTEGER NOT NULL, author TEXT, stars INTEGER, body TEXT);
CREATE TABLE cart_item (cart TEXT NOT NULL, product_id INTEGER NOT NULL, qty INTEGER NOT NULL,
                        PRIMARY KEY (cart, product_id));
CREATE TABLE orders (id INTEGER PRIMARY KEY, cart TEXT NOT NULL, name TEXT, email TEXT, address TEXT, city TEXT,
                     postcode TEXT, shipping TEXT, total_cents INTEGER, status TEXT);
CREATE TABLE order_line (order_id INTEGER, product_id INTEGER, name TEXT, qty INTEGER, price_cents INTEGER);
"""

CATEGORIES = [("laptops", "Laptops"), ("phones", "Phones"), ("audio", "Audio"), ("kitchen", "Kitchen"),
              ("books", "Books"), ("garden", "Garden")]
MODELS = {
    "laptops": ["Aero 13", "Aero 15", "Forge 14", "Forge 16 Pro", "Slate Air", "Slate Max", "Nimbus 12"],
    "phones": ["Pixelate 7", "Pixelate 8", "Orbit Mini", "Orbit Plus", "Vega S", "Vega Ultra"],
    "audio": ["Echo Buds", "Echo Buds Pro", "Bass Cube", "Studio Cans", "Pocket Radio", "Soundbar 300"],
    "kitchen": ["Kettle One", "Toaster Duo", "Blender X", "Espresso Mini", "Rice Cooker 5", "Knife Set 8"],
    "books": ["The Quiet Harbor", "Maps of Rain", "Learning Rust", "A Field Guide to Moss", "Winter Orchard",
              "Practical SQL"],
    "garden": ["Hose Reel", "Pruning Shears", "Seed Starter Kit", "Rain Barrel", "Garden Gloves"],
}
SHIPPING = {"standard": ("Standard (5-7 days)", 499), "express": ("Express (2 days)", 1299),
            "pickup": ("Store pickup", 0)}


def _seed(conn):
    conn.executemany("INSERT INTO category VALUES (?, ?)", CATEGORIES)
    pid = 0
    for c_index, (slug, _) in enumerate(CATEGORIES):
        for m_index, model in enumerate(MODELS[slug]):
            pid += 1
            price = 999 + (pid * 3719) % 120000
            stock = (pid * 7) % 13
            conn.execute("INSERT INTO product VALUES (?,?,?,?,?,?)",
                         (pid, slug, model, price, stock,
                          f"{model} is a dependable pick in {slug}; model year {2020 + m_index % 6}, "
                          f"rated for everyday use."))
            for r in range(pid % 3):
                conn.execute("INSERT INTO review (product_id, author, stars, body) VALUES (?,?,?,?)",
                             (pid, ["dana", "lee", "sam"][r], 3 + (pid + r) % 3,
                              ["Works as described.", "Good value.", "Arrived quickly."][r]))


def init_db(db_path):
    rebuild_db(db_path, SCHEMA, _seed)


def money(cents: int) -> str:
    return f"${cents / 100:,.2f}"


def _cart_id() -> str:
    if "cart" not in session:
        session["cart"] = secrets.token_hex(8)
    return session["cart"]


def _cart_lines():
    rows = db().execute("SELECT p.id, p.name, p.price_cents, c.qty FROM cart_item c JOIN product p "
                        "ON p.id = c.product_id WHERE c.cart = ? ORDER BY p.name", (_cart_id(),)).fetchall()
    return rows, sum(r["price_cents"] * r["qty"] for r in rows)


def create_app(db_path):
    app = make_app("shop", Path(__file__).parent, db_path)
    app.config["SITE_TITLE"] = "Northwind Shop"
    app.jinja_env.filters["money"] = money

    @app.context_processor
    def _nav():
        count = db().execute("SELECT COALESCE(SUM(qty), 0) FROM cart_item WHERE cart = ?",
                             (session.get("cart", ""),)).fetchone()[0]
        return {"categories": db().execute("SELECT * FROM category").fetchall(), "cart_count": count}

    @app.get("/")
    def index():
        featured = db().execute("SELECT * FROM product WHERE id % 5 = 1 ORDER BY id").fetchall()
        return render_template("shop_index.html", featured=featured)

    @app.get("/category/<slug>")
    def category(slug):
        cat = db().execute("SELECT * FROM category WHERE slug = ?", (slug,)).fetchone() or abort(404)
        order = {"price": "price_cents", "name": "name"}.get(request.args.get("sort", "name"), "name")
        products = db().execute(f"SELECT * FROM product WHERE category = ? ORDER BY {order}", (slug,)).fetchall()
        return render_template("shop_list.html", title=cat["name"], products=products, slug=slug,
                               sort=request.args.get("sort", "name"))

    @app.get("/search")
    def search():
        q = request.args.get("q", "").strip()
        products = db().execute("SELECT * FROM product WHERE name LIKE ? OR description LIKE ? ORDER BY name",
                                (f"%{q}%", f"%{q}%")).fetchall() if q else []
        return render_template("shop_list.html", title=f"Search: {q}", products=products, query=q)

    @app.get("/product/<int:pid>")
    def product(pid):
        p = db().execute("SELECT * FROM product WHERE id = ?", (pid,)).fetchone() or abort(404)
        reviews = db().execute("SELECT * FROM review WHERE product_id = ?", (pid,)).fetchall()
        return render_template("shop_product.html", p=p, reviews=reviews)

    @app.post("/cart/add")
    def cart_add():
        pid = request.form.get("product_id", type=int)
        qty = request.form.get("qty", 1, type=int)
        p = db().execute("SELECT * FROM product WHERE id = ?", (pid,)).fetchone() or abort(404)
        if qty < 1 or qty > p["stock"]:
            flash(f"Cannot add {qty} of {p['name']}: {p['stock']} in stock.")
            return redirect(f"/product/{pid}")
        db().execute("INSERT INTO cart_item VALUES (?,?,?) ON CONFLICT(cart, product_id) DO UPDATE SET qty = qty + ?",
                     (_cart_id(), pid, qty, qty))
        db().commit()
        flash(f"Added {qty} x {p['name']} to your cart.")
        return redirect("/cart")

    @app.get("/cart")
    def cart():
        lines, total = _cart_lines()
        return render_template("shop_cart.html", lines=lines, total=total)

    @app.post("/cart/update")
    def cart_update():
        pid = request.form.get("product_id", type=int)
        qty = request.form.get("qty", 0, type=int)
        if qty <= 0:
            db().execute("DELETE FROM cart_item WHERE cart = ? AND product_id = ?", (_cart_id(), pid))
            flash("Item removed.")
        else:
            db().execute("UPDATE cart_item SET qty = ? WHERE cart = ? AND product_id = ?", (qty, _cart_id(), pid))
            flash("Quantity updated.")
        db().commit()
        return redirect("/cart")

    @app.route("/checkout", methods=["GET", "POST"])
    def checkout():
        lines, total = _cart_lines()
        if not lines:
            flash("Your cart is empty.")
            return redirect("/cart")
        form, errors = request.form, {}
        if request.method == "POST":
            for field in ("name", "email", "address", "city", "postcode"):
                if not form.get(field, "").strip():
                    errors[field] = "This field is required."
            if form.get("email") and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[a-z]{2,}", form["email"]):
                errors["email"] = "Enter a valid email address."
            if form.get("postcode") and not re.fullmatch(r"\d{5}", form["postcode"]):
                errors["postcode"] = "Postcode must be 5 digits."
            if form.get("shipping") not in SHIPPING:
                errors["shipping"] = "Choose a shipping method."
            if not errors:
                grand = total + SHIPPING[form["shipping"]][1]
                cur = db().execute("INSERT INTO orders (cart, name, email, address, city, postcode, shipping, "
                                   "total_cents, status) VALUES (?,?,?,?,?,?,?,?, 'placed')",
                                   (_cart_id(), form["name"], form["email"], form["address"], form["city"],
                                    form["postcode"], form["shipping"], grand))
                for line in lines:
                    db().execute("INSERT INTO order_line VALUES (?,?,?,?,?)",
                                 (cur.lastrowid, line["id"], line["name"], line["qty"], line["price_cents"]))
                    db().execute("UPDATE product SET stock = stock - ? WHERE id = ?", (line["qty"], line["id"]))
                db().execute("DELETE FROM cart_item WHERE cart = ?", (_cart_id(),))
                db().commit()
                return redirect(f"/order/{cur.lastrowid}")
        return render_template("shop_checkout.html", lines=lines, total=total, form=form, errors=errors,
                               shipping=SHIPPING)

    @app.get("/order/<int:oid>")
    def order(oid):
        o = db().execute("SELECT * FROM orders WHERE id = ? AND cart = ?", (oid, _cart_id())).fetchone() or abort(404)
        lines = db().execute("SELECT * FROM order_line WHERE order_id = ?", (oid,)).fetchall()
        return render_template("shop_order.html", o=o, lines=lines, shipping=SHIPPING)

    @app.get("/orders")
    def orders():
        rows = db().execute("SELECT * FROM orders WHERE cart = ? ORDER BY id DESC", (_cart_id(),)).fetchall()
        return render_template("shop_orders.html", orders=rows)

    return app
