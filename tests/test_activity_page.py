"""The Activity tab: the project's whole feed as a page, 30 at a time, filtered by kind and by person; the
overview's "Older activity" button still gets only the items."""

from __future__ import annotations

import re

import pytest

from app.activity.service import record


def _items(html: str) -> list[str]:
    return re.findall(r'<li class="feed-item" data-verb="[^"]*" data-id="(\d+)"', html)


@pytest.fixture
def studio(db, make_user, make_project, add_member, sign_in):
    ada = make_user(name="Ada")
    bo = make_user(name="Bo")
    project = make_project(ada, name="Storm Season")
    add_member(project, bo, "artist")
    made = []
    for i in range(40):  # alternate people and kinds
        actor = ada if i % 2 else bo
        verb, what = ("shot.updated", f"changed shot {i}") if i % 3 else ("character.updated", f"changed cast {i}")
        made.append(record(db, project_id=project.id, actor=actor, verb=verb, object_type="x", object_id=i,
                           summary=what))  # fmt: skip
    db.commit()
    return {"ada": ada, "bo": bo, "project": project, "events": made, "browser": sign_in(ada)}


def test_the_activity_tab_is_a_full_page_with_pages(studio):
    b, pid, events = studio["browser"], studio["project"].id, studio["events"]
    r = b.get(f"/projects/{pid}/activity")
    assert r.status_code == 200 and "<html" in r.text
    page = r.text
    assert f'href="/projects/{pid}/activity" aria-current="page">Activity</a>' in page  # the tab
    newest = [str(e.id) for e in reversed(events)]
    assert _items(page) == newest[:30]  # the project's own "created" event is the 41st
    assert f'sse-connect="/projects/{pid}/events"' in page  # the first page stays live
    older = re.search(r'rel="next" href="([^"]+)"', page).group(1).replace("&amp;", "&")
    second = b.get(older).text
    assert _items(second)[:10] == newest[30:] and len(_items(second)) == 11
    assert 'rel="next"' not in second and "Newest" in second
    assert "sse-connect" not in second


def test_the_overview_still_pages_its_feed_with_htmx(studio):
    b, pid, events = studio["browser"], studio["project"].id, studio["events"]
    r = b.get(f"/projects/{pid}/activity?before={events[10].id}", headers={"HX-Request": "true"})
    assert r.status_code == 200 and "<html" not in r.text
    assert _items(r.text)[:10] == [str(e.id) for e in reversed(events[:10])]  # then the project's "created"
    assert len(_items(r.text)) == 11 and "Older activity" not in r.text
    assert f'href="/projects/{pid}/activity" aria-current="page"' in b.get(f"/projects/{pid}/activity").text


def test_filters_by_kind_and_by_person(studio):
    b, pid, events, ada = studio["browser"], studio["project"].id, studio["events"], studio["ada"]
    cast = b.get(f"/projects/{pid}/activity?kind=characters").text
    assert _items(cast) == [str(e.id) for e in reversed(events) if e.verb == "character.updated"]
    assert '<option value="characters" selected>' in cast and "sse-connect" not in cast
    by_ada = b.get(f"/projects/{pid}/activity?person={ada.id}").text
    assert _items(by_ada)[:20] == [str(e.id) for e in reversed(events) if e.actor_id == ada.id]
    assert len(_items(by_ada)) == 21  # and the project she created
    both = b.get(f"/projects/{pid}/activity?kind=story&person={ada.id}").text
    assert _items(both) == [str(e.id) for e in reversed(events) if e.actor_id == ada.id and e.verb.startswith("shot.")]
    nothing = b.get(f"/projects/{pid}/activity?kind=team").text
    assert _items(nothing) == [] and "Nothing matches these filters." in nothing
    # paging keeps the filters
    page = b.get(f"/projects/{pid}/activity?person={ada.id}").text
    older = re.search(r'rel="next" href="([^"]+)"', page)
    assert older is None or f"person={ada.id}" in older.group(1)


@pytest.mark.parametrize(
    ("query", "note"),
    [("kind=explosions", "There is no kind of activity called “explosions”"),
     ("person=999999", "not on the team"), ("person=abc", "not on the team")],
)  # fmt: skip
def test_unknown_filters_are_ignored_with_a_note(studio, query, note):
    b, pid = studio["browser"], studio["project"].id
    r = b.get(f"/projects/{pid}/activity?{query}")
    assert r.status_code == 200 and note in r.text
    assert len(_items(r.text)) == 30  # everything, unfiltered


def test_someone_elses_person_filter_shows_nothing_of_them(studio, make_user, make_project, db):
    b, pid = studio["browser"], studio["project"].id
    stranger = make_user(name="Stranger")
    other = make_project(stranger, name="Elsewhere")
    record(db, project_id=other.id, actor=stranger, verb="shot.updated", object_type="x", object_id=1, summary="x")
    db.commit()
    r = b.get(f"/projects/{pid}/activity?person={stranger.id}")
    assert "not on the team" in r.text and "Stranger" not in r.text


def test_a_bad_page_marker_is_404_and_outsiders_get_404(studio, make_user, sign_in):
    b, pid = studio["browser"], studio["project"].id
    assert b.get(f"/projects/{pid}/activity?before=soon").status_code == 404
    assert b.get(f"/projects/{pid}/activity?before=99999999999999").status_code == 404
    outsider = sign_in(make_user(name="Outsider"))
    assert outsider.get(f"/projects/{pid}/activity").status_code == 404
    assert outsider.get(f"/projects/{pid}/activity", headers={"HX-Request": "true"}).status_code == 404
