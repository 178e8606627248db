"""The four sites over plain HTTP: pages answer, server-side state changes, validation refuses bad input."""

import httpx
import pytest

from sandboxes.sites.launcher import SiteLauncher

PAGES = {
    "shop": ["/", "/category/laptops", "/category/books?sort=price", "/product/3", "/search?q=aero", "/cart",
             "/orders"],
    "forum": ["/", "/board/1", "/thread/2", "/login", "/register", "/search?q=tomato", "/user/alice"],
    "tracker": ["/", "/project/WEB", "/project/WEB?status=open&assignee=ana", "/issue/3", "/project/API/new"],
    "form": ["/", "/apply/1", "/status?ref=PRM-1001", "/status"],
}


@pytest.fixture(scope="module")
def sites():
    launcher = SiteLauncher()
    yield launcher
    launcher.close()


def client(sites, name):
    return httpx.Client(base_url=sites.reset(name), follow_redirects=True, timeout=30)


@pytest.mark.parametrize("name", sorted(PAGES))
def test_every_page_answers(sites, name):
    with client(sites, name) as c:
        for path in PAGES[name]:
            assert c.get(path).status_code == 200, path
        assert c.get("/no/such/page").status_code == 404


def test_shop_cart_and_checkout(sites):
    with client(sites, "shop") as c:
        assert "Added 1 x Forge 14" in c.post("/cart/add", data={"product_id": 3, "qty": 1}).text
        bad = c.post("/checkout", data={"name": "A", "email": "bad", "address": "x", "city": "y",
                                        "postcode": "123", "shipping": "standard"}).text
        assert "Enter a valid email address." in bad and "Postcode must be 5 digits." in bad
        done = c.post("/checkout", data={"name": "A", "email": "a@b.com", "address": "x", "city": "y",
                                         "postcode": "12345", "shipping": "standard"}).text
        assert "Order #1 confirmed" in done and "Cart (0)" in done
    with client(sites, "shop") as fresh:  # reset: a new database, so the order is gone
        assert "You have not placed any orders yet." in fresh.get("/orders").text


def test_forum_login_post_and_search(sites):
    with client(sites, "forum") as c:
        assert "Please log in first." in c.post("/thread/1/reply", data={"body": "hi there"}).text
        assert "Wrong username or password." in c.post("/login", data={"username": "alice", "password": "x"}).text
        assert "Welcome back, alice." in c.post("/login", data={"username": "alice", "password": "wonderland"}).text
        assert "hello from the test" in c.post("/thread/1/reply", data={"body": "hello from the test"}).text
        assert "A new topic" in c.post("/board/1/new", data={"title": "A new topic", "body": "b"}).text
        assert "A new topic" in c.get("/search?q=new topic").text


def test_tracker_updates_and_validation(sites):
    with client(sites, "tracker") as c:
        assert "updated: done, ben" in c.post("/issue/3/update", data={"status": "done", "assignee": "ben"}).text
        assert "Title must be at least 5 characters." in c.post("/project/WEB/new", data={"title": "x"}).text
        assert "created" in c.post("/project/WEB/new", data={"title": "Brand new bug", "priority": "high"}).text


def test_form_steps_validate_and_submit(sites):
    with client(sites, "form") as c:
        assert c.get("/apply/3").url.path == "/apply/1"  # later steps send you back to the first unfinished one
        assert "Enter a valid email address." in c.post("/apply/1", data={"full_name": "Kim", "email": "k@"}).text
        assert "Step 2 of 3" in c.post("/apply/1", data={"full_name": "Kim", "email": "k@x.org"}).text
        assert "Step 3 of 3" in c.post("/apply/2", data={"street": "s", "city": "c", "postcode": "1234",
                                                           "country": "Canada"}).text
        assert "You must accept the terms." in c.post("/apply/3", data={"permit": "event"}).text
        assert "Review your application" in c.post("/apply/3", data={"permit": "event", "terms": "yes"}).text
        assert "PRM-1003: Street event for Kim in c is submitted." in c.post("/review").text
