"""Walk every route of the app as every kind of caller and check the permission table holds.

Routes are found from the routers the app serves, so routes added later are covered
without touching this file. Each route declares its guard through a dependency:
`Access(action)` (project-scoped), `require_admin`, `require_user`, or none (listed in PUBLIC).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest
from fastapi.routing import APIRoute

from app.auth import service as auth_service
from app.deps import CSRF_COOKIE, Access, require_admin, require_user
from app.main import API_ROUTERS, PAGE_ROUTERS
from app.permissions import Role, can
from app.projects import service as project_service
from app.system.service import request_probe

PUBLIC = {
    ("GET", "/"), ("GET", "/login"), ("POST", "/login"), ("GET", "/signup"), ("POST", "/signup"),
    ("GET", "/invite/{token}"), ("POST", "/api/v1/auth/register"), ("POST", "/api/v1/auth/tokens"),
    ("GET", "/healthz"),
}  # fmt: skip
IDENTITIES = ["anonymous", "outsider", *[r.value for r in Role]]


@dataclass
class Guard:
    access: Access | None = None
    admin: bool = False
    user: bool = False


def _guard(dependant, guard: Guard | None = None) -> Guard:
    guard = guard or Guard()
    for dep in dependant.dependencies:
        if isinstance(dep.call, Access):
            guard.access = dep.call
        elif dep.call is require_admin:
            guard.admin = True
        elif dep.call is require_user:
            guard.user = True
        _guard(dep, guard)
    return guard


def all_routes() -> list[tuple[str, str, Guard]]:
    out = []
    for router in API_ROUTERS + PAGE_ROUTERS:
        for route in router.routes:
            assert isinstance(route, APIRoute), route
            for method in sorted(route.methods - {"HEAD"}):
                path = route.path + ("?once=1" if getattr(route.endpoint, "streams", False) else "")
                out.append((method, path, _guard(route.dependant)))
    return out


ROUTES = all_routes()


def test_every_route_is_guarded_or_declared_public():
    unguarded = [(m, p) for m, p, g in ROUTES if not (g.access or g.admin or g.user) and (m, p) not in PUBLIC]
    assert unguarded == [], "add a guard (access/require_user/require_admin) or list the route in PUBLIC"
    assert len(ROUTES) > 30


@dataclass
class World:
    params: dict[str, str]
    callers: dict[str, object] = field(default_factory=dict)


@pytest.fixture
def world(db, sign_in, make_user, make_project, add_member):
    admin = make_user(name="Admin", admin=True)
    owner = make_user(name="Owner")
    project = make_project(owner)
    target = make_user(name="Target")
    add_member(project, target, "artist")
    callers = {"owner": sign_in(owner), "outsider": sign_in(make_user(name="Outsider"))}
    for role in Role:
        if role != Role.owner:
            user = make_user(name=role.value)
            add_member(project, user, role.value)
            callers[role.value] = sign_in(user)
    token, inv = project_service.create_invitation(db, actor=owner, actor_role="owner", project=project, role="viewer")
    _, api_tok = auth_service.create_api_token(db, user=owner, name="walk")
    probe = request_probe(db, actor=admin)
    db.info.pop("after_commit", None)  # nothing to send: no worker in this test
    params = {"project_id": str(project.id), "user_id": str(target.id), "invitation_id": str(inv.id),
              "token": token, "token_id": str(api_tok.id), "probe_id": str(probe.id)}  # fmt: skip
    params.update(_writers_room(db, project, owner))
    db.commit()
    return World(params=params, callers=callers)


def _writers_room(db, project, owner) -> dict[str, str]:
    """One of every writers'-room object, made with the models so the walk depends on no service."""
    from app.characters.models import Character, CharacterVersion, Look, ReferenceImage
    from app.characters.versions import character_data
    from app.design.models import Location, StylePreset
    from app.media.service import store_image
    from app.storyboard.models import Scene, Shot, ShotCharacter
    from tests.images import png_bytes

    asset = store_image(db, project_id=project.id, data=png_bytes(64, 48), filename="ref.png", actor=owner)
    character = Character(project_id=project.id, name="Mara", name_key="mara", prompt_fragment="an old keeper")
    db.add(character)
    db.flush()
    look = Look(project_id=project.id, character_id=character.id, name="Storm gear")
    location = Location(project_id=project.id, name="Lighthouse", name_key="lighthouse")
    style = StylePreset(project_id=project.id, name="Vision3 500T", is_default=True)
    scene = Scene(project_id=project.id, number="1", heading="EXT. LIGHTHOUSE - NIGHT", position=0)
    db.add_all([look, location, style, scene])
    db.flush()
    reference = ReferenceImage(project_id=project.id, asset_id=asset.id, character_id=character.id)
    version = CharacterVersion(project_id=project.id, character_id=character.id, number=1,
                               data=character_data(character))  # fmt: skip
    shot = Shot(project_id=project.id, scene_id=scene.id, code="1A", action="Waves.", location_id=location.id)
    db.add_all([reference, version, shot])
    db.flush()
    db.add(ShotCharacter(shot_id=shot.id, character_id=character.id, character_version=1, look_id=look.id,
                         look_version=1))  # fmt: skip
    db.flush()
    job, take = _generation(db, project, shot)
    return {"job_id": str(job.id), "take_id": str(take.id),
            "asset_id": str(asset.id), "character_id": str(character.id), "look_id": str(look.id),
            "reference_id": str(reference.id), "version_id": str(version.id), "location_id": str(location.id),
            "style_id": str(style.id), "scene_id": str(scene.id), "shot_id": str(shot.id)}  # fmt: skip


def _generation(db, project, shot):
    """A queued job with one stored take (real files in the media store)."""
    from app.generation.models import GenerationJob, Take
    from app.media.store import get_store

    store = get_store()
    video, _ = store.put(b"\x00\x00\x00\x18ftypisom walk", "mp4")
    image, _ = store.put(b"\xff\xd8\xff walk", "jpg")
    job = GenerationJob(project_id=project.id, shot_id=shot.id, model="animatic", spec={}, spec_hash="walk", takes=2,
                        seeds=[1, 2], task_id="walk-task")  # fmt: skip
    db.add(job)
    db.flush()
    take = Take(project_id=project.id, shot_id=shot.id, job_id=job.id, index=0, number=1, seed=1, model="animatic",
                spec_hash="walk", frames=9, fps=24.0, width=64, height=64, video_key=video, poster_key=image,
                filmstrip_key=image)  # fmt: skip
    db.add(take)
    db.flush()
    return job, take


def _url(path: str, params: dict[str, str]) -> str:
    def sub(m: re.Match) -> str:
        name = m.group(1)
        assert name in params, f"the walk needs a value for path parameter {name!r}: add it to the world fixture"
        return params[name]

    return re.sub(r"\{(\w+)(?::\w+)?\}", sub, path)


def _expected(identity: str, method: str, path: str, guard: Guard) -> str:
    if (method, path) in PUBLIC and not (guard.access or guard.admin or guard.user):
        return "allowed"
    if identity == "anonymous":
        return "signin"
    if guard.admin:
        return "forbidden"  # no project role is an instance admin
    if guard.access is None:
        # account-scoped: another account's object (a token) does not exist for you
        return "allowed" if identity == "owner" or "{" not in path else "allowed|notfound"
    if identity == "outsider":
        return "notfound"
    return "allowed" if can(identity, guard.access.action) else "forbidden"


def _outcome(status: int, location: str, path: str) -> str:
    if status >= 500:
        return f"server error {status}"
    if status == 401 or (status == 303 and location.startswith("/login?next=") and not path.startswith("/api/")):
        return "signin"
    if status == 404:
        return "notfound"
    if status == 403:
        return "forbidden"
    return "allowed"


@pytest.mark.parametrize(("method", "path", "guard"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
def test_route_walk(method, path, guard, world, connection, app):
    from fastapi.testclient import TestClient

    url = _url(path, world.params)
    failures = []
    for identity in IDENTITIES:
        nested = connection.begin_nested()  # whatever the call changes is undone before the next caller
        try:
            if identity == "anonymous":
                with TestClient(app, follow_redirects=False) as anon:
                    anon.cookies.set(CSRF_COOKIE, "walk")  # a signed-out browser's double-submit token
                    resp = anon.request(method, url, json={} if path.startswith("/api/") else None,
                                        headers={"X-CSRF-Token": "walk"})
            else:
                caller = world.callers[identity]
                kw = {"json": {}} if path.startswith("/api/") else {"data": {}}
                resp = caller.request(method, url, **kw)
        finally:
            nested.rollback()
        got = _outcome(resp.status_code, resp.headers.get("location", ""), path)
        want = _expected(identity, method, path, guard)
        if path.startswith("/api/") and identity == "anonymous" and want == "signin":
            assert resp.status_code == 401, (identity, resp.status_code)
        if got not in want.split("|"):
            failures.append(f"{identity}: expected {want}, got {got} ({resp.status_code} {resp.text[:120]!r})")
    assert not failures, f"{method} {path}\n" + "\n".join(failures)
