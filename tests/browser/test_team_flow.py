"""End to end in Chromium: sign up, create a project, invite a teammate by link, manage roles, CSRF."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from playwright.sync_api import BrowserContext, Page, expect

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"


@dataclass
class Person:
    name: str
    email: str
    context: BrowserContext
    page: Page


def submit(page: Page, action: Callable[[], object]) -> None:
    """Do `action` (a click that posts a form) and fail at once, saying why, if the server refuses it."""
    with page.expect_response(lambda r: r.request.method == "POST" and r.request.is_navigation_request()) as info:
        action()
    response = info.value
    if response.status >= 400:
        try:
            body = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.text())).strip()
        except Exception:  # noqa: BLE001
            body = ""
        pytest.fail(f"POST {response.url} answered {response.status}: {body[:300]}")


def _fill_signup(page: Page, name: str, email: str) -> None:
    expect(page.get_by_role("heading", name="Create an account")).to_be_visible()
    page.get_by_label("Name shown to your team").fill(name)
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    submit(page, page.get_by_role("button", name="Create account").click)


def sign_up(new_context, name: str, email: str) -> Person:
    """A new account through the pages, starting where a visitor starts: `/`."""
    context = new_context()
    page = context.new_page()
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_role("link", name="Create an account").click()
    expect(page).to_have_url(re.compile(r"/signup$"))
    _fill_signup(page, name, email)
    expect(page).to_have_url(re.compile(r"/projects$"))
    expect(page.get_by_role("link", name=name)).to_be_visible()  # the signed-in user in the top bar
    return Person(name, email, context, page)


def create_project(page: Page) -> str:
    """'Night Shift' through the New project form; returns the project's path."""
    page.goto("/projects")
    page.get_by_role("link", name="New project").click()
    expect(page.get_by_role("heading", name="New project")).to_be_visible()
    page.get_by_label("Name", exact=True).fill("Night Shift")
    page.get_by_label("Description").fill("A courier works the graveyard shift in a city that never sleeps.")
    page.get_by_label("Frame rate").select_option(label="25 fps")
    page.get_by_label("Width (px)").fill("1920")
    page.get_by_label("Height (px)").fill("1080")
    submit(page, page.get_by_role("button", name="Create project").click)
    expect(page).to_have_url(re.compile(r"/projects/\d+$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Night Shift")
    expect(page.locator(".page-head")).to_contain_text("1920×1080 · 25 fps")
    expect(page.locator("#flash").get_by_role("status")).to_contain_text("Project “Night Shift” created.")
    return re.sub(r"^https?://[^/]+", "", page.url)


def invite_link(page: Page, project_path: str, role: str) -> str:
    """Create an invitation link on the Team page; returns it as shown (once) in #invite-link."""
    page.goto(project_path)
    page.get_by_role("navigation", name="Project").get_by_role("link", name="Team").click()
    expect(page).to_have_url(re.compile(rf"{project_path}/members$"))
    form = page.locator("form").filter(has=page.get_by_role("button", name="Create invitation link"))
    form.get_by_label("Role").select_option(role)
    submit(page, form.get_by_role("button", name="Create invitation link").click)
    link = page.locator("#invite-link")
    expect(link).to_have_value(re.compile(r"^http://127\.0\.0\.1:\d+/invite/\S+$"))
    expect(page.get_by_role("status").filter(has=link)).to_contain_text(re.compile(rf"Invitation link, role {role}", re.I))
    return link.input_value()


def join_with_new_account(new_context, link: str, name: str, email: str) -> Person:
    """A visitor opens the invitation link and signs up from it."""
    context = new_context()
    page = context.new_page()
    page.goto(link)
    expect(page.get_by_role("heading", name="Night Shift")).to_be_visible()
    page.get_by_role("link", name="Create an account").click()
    expect(page).to_have_url(re.compile(r"/signup\?invite=\S+$"))
    expect(page.get_by_text(re.compile(r"You are invited to Night Shift as editor", re.I))).to_be_visible()
    token = link.rsplit("/", 1)[1]
    expect(page.locator("input[name=invite]")).to_have_value(token)  # the token travels with the form
    _fill_signup(page, name, email)
    return Person(name, email, context, page)


def team_and_bob(new_context) -> tuple[Person, str, str, Person]:
    alice = sign_up(new_context, "Alice Director", "alice@example.com")
    project = create_project(alice.page)
    link = invite_link(alice.page, project, "editor")
    bob = join_with_new_account(new_context, link, "Bob Editor", "bob@example.com")
    expect(bob.page).to_have_url(re.compile(rf"{project}$"))
    return alice, project, link, bob


def test_signup_create_project_invite_and_join(new_context) -> None:
    alice = sign_up(new_context, "Alice Director", "alice@example.com")

    project = create_project(alice.page)
    feed = alice.page.locator("#feed")
    expect(feed.locator(".feed-item").first).to_contain_text("Alice Director")
    expect(feed).to_contain_text("created the project “Night Shift”")
    expect(alice.page.locator(".page-head .badge")).to_have_text("owner")

    link = invite_link(alice.page, project, "editor")

    # Bob: another browser, no cookies in common with Alice.
    bob = join_with_new_account(new_context, link, "Bob Editor", "bob@example.com")
    expect(bob.page).to_have_url(re.compile(rf"{project}$"))
    expect(bob.page.get_by_role("heading", level=1)).to_have_text("Night Shift")
    expect(bob.page.locator(".page-head .badge")).to_have_text("editor")
    bob.page.get_by_role("navigation", name="Main").get_by_role("link", name="Projects").click()
    expect(bob.page).to_have_url(re.compile(r"/projects$"))
    card = bob.page.locator(".project-card").filter(has_text="Night Shift")
    expect(card).to_have_count(1)
    expect(card.locator(".badge")).to_have_text("editor")

    # Alice sees Bob on the team and in the activity feed.
    alice.page.goto(project + "/members")
    bob_row = alice.page.locator("#members tbody tr").filter(has_text="Bob Editor")
    expect(bob_row).to_contain_text("bob@example.com")
    bob_role = alice.page.get_by_label("Role of Bob Editor")
    expect(bob_role).to_have_value("editor")
    alice.page.goto(project)
    joined = alice.page.locator("#feed .feed-item[data-verb='member.joined']")
    expect(joined).to_have_count(1)
    expect(joined).to_contain_text("Bob Editor")
    expect(joined).to_contain_text("joined as Editor")

    # The role <select> submits itself on change.
    alice.page.goto(project + "/members")
    submit(alice.page, lambda: alice.page.get_by_label("Role of Bob Editor").select_option("artist"))
    expect(alice.page.locator("#flash").get_by_role("status")).to_contain_text("Bob Editor is now artist.")
    expect(alice.page.get_by_label("Role of Bob Editor")).to_have_value("artist")
    alice.page.reload()
    expect(alice.page.get_by_label("Role of Bob Editor")).to_have_value("artist")

    # Bob's own view follows.
    bob.page.goto(project)
    expect(bob.page.locator(".page-head .badge")).to_have_text("artist")


def test_invitation_link_cannot_be_reused(new_context) -> None:
    _alice, project, link, _bob = team_and_bob(new_context)

    carol = sign_up(new_context, "Carol Artist", "carol@example.com")
    carol.page.goto(link)
    expect(carol.page.get_by_role("alert")).to_have_text(re.compile("already been used"))
    expect(carol.page.get_by_role("button", name=re.compile("^Join"))).to_have_count(0)

    # Signed out, the link says the same and offers no sign-up with it; the sign-up form refuses it too.
    stranger = new_context().new_page()
    stranger.goto(link)
    expect(stranger.get_by_role("alert")).to_have_text(re.compile("already been used"))
    expect(stranger.get_by_role("link", name="Create an account")).to_have_count(0)
    stranger.goto("/signup?invite=" + link.rsplit("/", 1)[1])
    expect(stranger.get_by_role("alert")).to_have_text(re.compile("already been used"))

    carol.page.goto("/projects")
    expect(carol.page.get_by_role("heading", name="No projects yet")).to_be_visible()
    expect(carol.page.get_by_text("Night Shift")).to_have_count(0)
    response = carol.page.goto(project)
    assert response is not None and response.status == 404


def test_signed_out_user_is_redirected_and_csrf_enforced(new_context) -> None:
    visitor = new_context().new_page()
    response = visitor.goto("/projects/1")
    expect(visitor).to_have_url(re.compile(r"/login\?next=/projects/1$"))
    assert response is not None and response.status == 200
    assert response.request.redirected_from is not None
    assert response.request.redirected_from.url.endswith("/projects/1")

    alice = sign_up(new_context, "Alice Director", "alice@example.com")
    api = alice.context.request
    assert any(c["name"] == "slate_session" for c in alice.context.cookies())

    refused = api.post("/projects", form={"name": "Forged"}, max_redirects=0)
    assert refused.status == 403
    assert "CSRF" in refused.text()

    # The same request with the session's token goes through: the 403 was the CSRF check.
    token = alice.page.locator("meta[name=csrf-token]").get_attribute("content")
    assert token
    accepted = api.post("/projects", form={"name": "Genuine", "csrf_token": token}, max_redirects=0)
    assert accepted.status == 303
    assert re.search(r"/projects/\d+$", accepted.headers["location"])

    alice.page.goto("/projects")
    expect(alice.page.locator(".project-card")).to_have_count(1)
    expect(alice.page.locator(".project-card")).to_contain_text("Genuine")
    expect(alice.page.get_by_text("Forged")).to_have_count(0)
