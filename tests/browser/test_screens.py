"""Screenshots of every main page of the demo project at desktop (1440x900) and phone (390x844) sizes, saved
under tests/browser/screens/ (ignored by git) for a person to look at. Each page must answer 200 and, at phone
width, must not scroll sideways."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from app.characters.models import Character
from app.db import commit, engine_for, session_factory
from app.design.models import Location
from app.projects.models import Project
from app.projects.service import seed_demo
from app.storyboard.models import Scene, Shot
from tests.browser.studio import sign_up

pytestmark = pytest.mark.browser

SCREENS = Path(__file__).resolve().parent / "screens"
SIZES = {"desktop": (1440, 900), "phone": (390, 844)}
PAPER = {"print"}  # a sheet of A4 or Letter: it may be wider than a phone, as paper is


def _pages(database_url: str) -> list[tuple[str, str]]:
    """(name, path) of every main page, with the demo project's first scene, shot, character and location."""
    with session_factory(engine_for(database_url))() as db:
        pid = db.scalar(sa.select(Project.id).order_by(Project.id))
        scene = db.scalar(sa.select(Scene.id).where(Scene.project_id == pid).order_by(Scene.position, Scene.id))
        shot = db.scalar(sa.select(Shot.id).where(Shot.scene_id == scene).order_by(Shot.position, Shot.id))
        character = db.scalar(sa.select(Character.id).where(Character.project_id == pid).order_by(Character.id))
        location = db.scalar(sa.select(Location.id).where(Location.project_id == pid).order_by(Location.id))
    return [
        ("projects", "/projects"), ("overview", f"/projects/{pid}"), ("storyboard", f"/projects/{pid}/storyboard"),
        ("scene", f"/scenes/{scene}"), ("shot", f"/shots/{shot}"), ("characters", f"/projects/{pid}/characters"),
        ("character", f"/characters/{character}"), ("design", f"/projects/{pid}/design"),
        ("location", f"/locations/{location}"), ("import", f"/projects/{pid}/import"),
        ("queue", f"/projects/{pid}/queue"), ("activity", f"/projects/{pid}/activity"),
        ("team", f"/projects/{pid}/members"), ("settings", f"/projects/{pid}/settings"), ("account", "/account"),
        ("admin", "/admin"), ("print", f"/projects/{pid}/storyboard/print"), ("new-project", "/projects/new"),
    ]  # fmt: skip


def test_screens_of_every_main_page(server, new_context):
    with session_factory(engine_for(server.database_url))() as db:
        seed_demo(db)
        commit(db)
    first = new_context(viewport={"width": SIZES["desktop"][0], "height": SIZES["desktop"][1]})
    page = first.new_page()
    sign_up(page)  # the first account claims the demo and runs the instance
    state = first.storage_state()
    pages = _pages(server.database_url)
    SCREENS.mkdir(exist_ok=True)
    problems = []
    for size, (width, height) in SIZES.items():
        context = first if size == "desktop" else new_context(viewport={"width": width, "height": height},
                                                              storage_state=state)  # fmt: skip
        tab = context.new_page()
        for name, path in pages:
            response = tab.goto(path)
            if response is None or response.status != 200:
                problems.append(f"{path} answered {response.status if response else 'nothing'}")
                continue
            tab.wait_for_load_state("load")
            tab.screenshot(path=str(SCREENS / f"{name}-{size}.png"), full_page=True)
            if size == "phone" and name not in PAPER:
                scroll = tab.evaluate("document.documentElement.scrollWidth")
                if scroll > width + 1:
                    wide = tab.evaluate(
                        """(w) => [...document.querySelectorAll('body *')]
                            .filter(e => e.getBoundingClientRect().right > w + 1)
                            .slice(0, 3).map(e => e.tagName.toLowerCase() + '.' + [...e.classList].join('.'))""",
                        width,
                    )
                    problems.append(f"{path} scrolls sideways at {width} px ({scroll} px wide: {wide})")
    assert problems == []
