"""Hold every route of the app to the hand-written table in app/route_permissions.py, then call it as every kind
of caller with a valid request and check each answer against that table and the role table (`PERMISSIONS`).

- The table and the routes must agree both ways: a route missing from the table, a line naming no route, and a
  route whose guard (`Access(action)`, `require_admin`, `require_user`, or none) is not the table's all fail.
- Callers: anonymous (a signed-out browser with the CSRF token the sign-in page hands out), an outsider, an
  instance admin who is not a member of the project, and a member of each role.
- Expected answers come from the table: PUBLIC allowed for all; ANY_USER allowed once signed in; ADMIN allowed
  for the admin and 403 for everyone else signed in; an action: 404 for non-members (the admin too), 403 for
  members whose role lacks it, allowed for the rest. Anonymous callers are sent to sign in (401 on the API).
- "Allowed" means 2xx or 3xx: each request is built valid for the world (bodies from the route's schema, with
  values from `FIELD_VALUES` and `ROUTE_FIELDS`), so a 422 or a 409 for an allowed caller is a failure, unless
  the route and caller are listed in `EXPECTED` with the reason.
- Every id in a path is also tried just past PostgreSQL's integer range: 404, like any unknown id.
Whatever a call changes is rolled back before the next caller.
"""

from __future__ import annotations

import re
import typing
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.params import File, Form
from pydantic import BaseModel

from app.config import get_settings
from app.main import create_app
from app.permissions import PERMISSIONS, Action, Role
from app.route_permissions import ADMIN, ANY_USER, PUBLIC, ROUTE_PERMISSIONS
from tests.conftest import PASSWORD
from tests.walk import (
    ID_MAX,
    RouteInfo,
    app_routes,
    declared_guard,
    fill_path,
    path_params,
    stock_project,
    use_lora_folder,
)

ROUTES: list[RouteInfo] = app_routes(create_app(get_settings()))
IDENTITIES = ["anonymous", "outsider", "admin", *[r.value for r in Role]]
FOUNTAIN = "INT. LAMP ROOM - NIGHT\n\nMARA climbs the stairs.\n\nMARA\nStill burning.\n"


# ---- the table and the routes agree ---------------------------------------------------------------


def test_every_route_is_in_the_table():
    missing = sorted({r.key for r in ROUTES} - set(ROUTE_PERMISSIONS))
    assert missing == [], "routes missing from app/route_permissions.py (add each with the guard it should have):\n" \
        + "\n".join(f"  {m} {p}" for m, p in missing)  # fmt: skip


def test_every_table_entry_names_a_route():
    extra = sorted(set(ROUTE_PERMISSIONS) - {r.key for r in ROUTES})
    assert extra == [], "app/route_permissions.py names routes the app does not have:\n" \
        + "\n".join(f"  {m} {p}" for m, p in extra)  # fmt: skip


def _label(rule: Any) -> str:
    return f"Access({rule.value})" if isinstance(rule, Action) else str(rule)


def test_every_guard_agrees_with_the_table():
    wrong = [f"  {r}: the route declares {_label(declared_guard(r))}, the table says {_label(ROUTE_PERMISSIONS[r.key])}"
             for r in ROUTES if r.key in ROUTE_PERMISSIONS and declared_guard(r) != ROUTE_PERMISSIONS[r.key]]  # fmt: skip
    assert wrong == [], "guards that disagree with app/route_permissions.py:\n" + "\n".join(wrong)


def test_the_walk_sees_the_whole_app():
    assert len(ROUTES) > 150
    assert ("GET", "/healthz") in {r.key for r in ROUTES}
    assert any(declared_guard(r) == ADMIN for r in ROUTES) and any(declared_guard(r) == ANY_USER for r in ROUTES)


# ---- the world ----------------------------------------------------------------------------------------


@dataclass
class World:
    params: dict[str, Any]
    callers: dict[str, Any] = field(default_factory=dict)


@pytest.fixture
def world(db, sign_in, make_user, make_project, add_member, tmp_path, monkeypatch):
    from app.system.service import request_probe, set_signup_mode

    use_lora_folder(tmp_path, monkeypatch)
    admin = make_user(name="Admin", admin=True)  # an instance admin who is a member of nothing
    owner = make_user(name="Owner")
    project = make_project(owner)
    target = make_user(name="Target")
    add_member(project, target, "artist")
    newcomer = make_user(name="Newcomer")  # not in the project: someone to add
    callers = {"owner": sign_in(owner), "outsider": sign_in(make_user(name="Outsider")), "admin": sign_in(admin)}
    for role in Role:
        if role != Role.owner:
            user = make_user(name=role.value)
            add_member(project, user, role.value)
            callers[role.value] = sign_in(user)
    set_signup_mode(db, mode="open")
    params = stock_project(db, project=project, owner=owner, tag="walk")
    probe = request_probe(db, actor=admin)
    db.info.pop("after_commit", None)
    params.update(user_id=target.id, probe_id=probe.id, owner_email=owner.email, newcomer_email=newcomer.email,
                  project_name=project.name)  # fmt: skip
    db.commit()
    return World(params=params, callers=callers)


# ---- requests built from the routes' schemas -----------------------------------------------------------

# Values for required body and form fields, by name (a callable gets the world's params).
FIELD_VALUES: dict[str, Any] = {
    "name": "Walker",
    "heading": "INT. STAIRWELL - NIGHT",
    "role": "viewer",
    "index": 0,
    "status": "ready",
    "caption": "From the north.",
    "direction": "up",
    "active": "1",
    "mode": "open",
    "signup_mode": "open",
    "shot_ids": lambda p: [p["shot_id"]],
    "scene_id": lambda p: p["spare_scene_id"],
    "project_gpu_s_month": 36_000,
    "user_gpu_s_day": 3_600,
    "rush": "owners",
    "count_cpu": False,
    "priority": "normal",  # a job's priority as it is: the walk's job stays where it is in the queue
}


def _png(p):
    from tests.images import png_bytes

    return ("still.png", png_bytes(48, 32), "image/png")


def _lora(p):
    from tests.images import safetensors_bytes

    return ("mara.safetensors", safetensors_bytes(), "application/octet-stream")


SHOT_FORM = {"action": "Mara climbs.", "dialogue": "", "prompt": "", "negative_prompt": "", "duration_s": "4",
             "fps": "", "width": "", "height": "", "model": "", "seed": "", "location_id": "", "style_id": "",
             "camera_move": "static", "camera_framing": "WS"}  # fmt: skip
NEW_ACCOUNT = {"email": "walker@example.com", "password": "a long enough password", "display_name": "Walker"}

# Fields a route needs beyond its required ones, or with other values than FIELD_VALUES (files included).
ROUTE_FIELDS: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/login"): {"email": lambda p: p["my_email"], "password": PASSWORD},
    ("POST", "/signup"): NEW_ACCOUNT,
    ("POST", "/api/v1/auth/register"): NEW_ACCOUNT,
    ("POST", "/api/v1/auth/tokens"): {"email": lambda p: p["my_email"], "password": PASSWORD},
    ("POST", "/projects/{project_id}/members"): {"email": lambda p: p["newcomer_email"], "role": "viewer"},
    # Forms whose text fields the service checks (so a blank one is said next to the field): the walk fills them.
    ("POST", "/projects"): {"name": "Walker"},
    ("POST", "/projects/{project_id}/settings"): {"name": "Walker"},
    ("POST", "/projects/{project_id}/invitations"): {"role": "viewer"},
    ("POST", "/account/tokens"): {"name": "Walker"},
    ("POST", "/projects/{project_id}/characters"): {"name": "Walker"},
    ("POST", "/characters/{character_id}"): {"name": "Walker"},
    ("POST", "/characters/{character_id}/looks"): {"name": "Walker"},
    ("POST", "/looks/{look_id}"): {"name": "Walker"},
    ("POST", "/scenes/{scene_id}/shots"): {"action": "Walker climbs the stairs."},
    ("POST", "/api/v1/projects/{project_id}/members"): {"email": lambda p: p["newcomer_email"]},
    ("POST", "/projects/{project_id}/delete"): {"confirm_name": lambda p: p["project_name"]},
    ("POST", "/projects/{project_id}/scenes"): {"heading": "INT. STAIRWELL - NIGHT"},
    ("POST", "/scenes/{scene_id}"): {"heading": "INT. STAIRWELL - NIGHT"},
    ("POST", "/projects/{project_id}/locations"): {"name": "Walker"},
    ("POST", "/locations/{location_id}"): {"name": "Walker"},
    ("POST", "/projects/{project_id}/styles"): {"name": "Walker"},
    ("POST", "/styles/{style_id}"): {"name": "Walker"},
    ("POST", "/projects/{project_id}/shots/status"): {"shot_ids": lambda p: [str(p["shot_id"])], "status": "ready"},
    ("POST", "/shots/{shot_id}/move"): {"index": "0"},
    ("POST", "/projects/{project_id}/styles/presets"): {"preset": lambda p: _preset()},
    ("POST", "/api/v1/projects/{project_id}/style-presets"): {"preset": lambda p: _preset()},
    ("POST", "/locations/{location_id}/references/caption"): {"reference_id": lambda p: p["location_reference_id"]},
    ("POST", "/locations/{location_id}/references/delete"): {"reference_id": lambda p: p["location_reference_id"]},
    ("POST", "/shots/{shot_id}"): SHOT_FORM,
    ("POST", "/shots/{shot_id}/preview"): SHOT_FORM,
    ("POST", "/characters/{character_id}/lora/settings"): {"lora_path": "keeper.safetensors"},
    ("POST", "/characters/{character_id}/references"): {"file": _png},
    ("POST", "/api/v1/characters/{character_id}/references"): {"file": _png},
    ("POST", "/looks/{look_id}/references"): {"file": _png},
    ("POST", "/api/v1/looks/{look_id}/references"): {"file": _png},
    ("POST", "/locations/{location_id}/references"): {"file": _png},
    ("POST", "/api/v1/locations/{location_id}/references"): {"file": _png},
    ("POST", "/characters/{character_id}/lora"): {"file": _lora},
    ("POST", "/api/v1/characters/{character_id}/lora"): {"file": _lora},
    ("POST", "/projects/{project_id}/import"): {"text": FOUNTAIN},
}
# Routes that read their body themselves (no declared body): what they are sent.
RAW_BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/api/v1/projects/{project_id}/import/fountain"): {"json": {"text": FOUNTAIN}},
}
# Path parameters taken from another object than the world's usual one (what the route deletes or moves).
ROUTE_PARAMS: dict[tuple[str, str], dict[str, str]] = {
    ("DELETE", "/api/v1/characters/{character_id}"): {"character_id": "spare_character_id"},
    ("POST", "/characters/{character_id}/delete"): {"character_id": "spare_character_id"},
    ("DELETE", "/api/v1/looks/{look_id}"): {"look_id": "spare_look_id"},
    ("POST", "/looks/{look_id}/delete"): {"look_id": "spare_look_id"},
    ("DELETE", "/api/v1/locations/{location_id}"): {"location_id": "spare_location_id"},
    ("POST", "/locations/{location_id}/delete"): {"location_id": "spare_location_id"},
    ("POST", "/jobs/{job_id}/retry"): {"job_id": "failed_job_id"},
    ("POST", "/api/v1/jobs/{job_id}/retry"): {"job_id": "failed_job_id"},
}


def _preset() -> str:
    from app.design.service import STYLE_PRESETS

    return STYLE_PRESETS[-1].key


def _value(v: Any, params: dict[str, Any]) -> Any:
    return v(params) if callable(v) else v


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model of a JSON body (`Model` or `Model | None`)."""
    candidates = typing.get_args(annotation) or (annotation,)
    return next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)


def request_for(info: RouteInfo, params: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments of a valid request to the route (`json`, `data`, `files`), from its schema."""
    if info.key in RAW_BODIES:
        return {k: _value(v, params) for k, v in RAW_BODIES[info.key].items()}
    route = info.api
    extra = ROUTE_FIELDS.get(info.key, {})
    body = route.dependant.body_params if route is not None else []
    if not body and not extra:
        return {}
    if len(body) == 1 and not isinstance(body[0].field_info, (Form, File)):
        model = _model_of(body[0].field_info.annotation)
        assert model is not None, f"{info}: a JSON body that is not a pydantic model"
        payload = {}
        for name, f in model.model_fields.items():
            if name in extra:
                payload[name] = _value(extra[name], params)
            elif f.is_required():
                assert name in FIELD_VALUES, f"{info}: no value for the required body field {name!r} (FIELD_VALUES)"
                payload[name] = _value(FIELD_VALUES[name], params)
        return {"json": payload}
    data: dict[str, Any] = {}
    files: dict[str, Any] = {}
    declared = {p.alias or p.name: p for p in body}
    for name, value in extra.items():
        if name not in declared and body:  # (a route without declared fields reads its raw form: the shot editor)
            raise AssertionError(f"{info}: ROUTE_FIELDS names {name!r}, which the route does not read")
    for name in {*declared, *extra}:
        p = declared.get(name)
        if name in extra:
            value = _value(extra[name], params)
        elif p is not None and p.field_info.is_required():
            assert name in FIELD_VALUES, f"{info}: no value for the required form field {name!r} (FIELD_VALUES)"
            value = _value(FIELD_VALUES[name], params)
        else:
            continue
        if p is not None and isinstance(p.field_info, File):
            files[name] = value
        else:
            data[name] = value if isinstance(value, list) else str(value)
    return {"data": data, **({"files": files} if files else {})}


def _chosen(info: RouteInfo, params: dict[str, Any]) -> dict[str, Any]:
    return {**params, **{k: params[v] for k, v in ROUTE_PARAMS.get(info.key, {}).items()}}


def url_for(info: RouteInfo, params: dict[str, Any]) -> str:
    streams = info.api is not None and getattr(info.api.endpoint, "streams", False)
    return fill_path(info.path, _chosen(info, params)) + ("?once=1" if streams else "")


# ---- expected answers ------------------------------------------------------------------------------

# Answers other than the table's, for one route and caller, each with its reason.
EXPECTED: dict[tuple[str, str], tuple[dict[str, str], str]] = {
    ("POST", "/projects/{project_id}/leave"): ({"owner": "conflict"}, "the last owner cannot leave"),
    ("POST", "/api/v1/projects/{project_id}/leave"): ({"owner": "conflict"}, "the last owner cannot leave"),
    ("POST", "/api/v1/invitations/{token}/accept"): (
        {r.value: "conflict" for r in Role}, "a member accepting a link to their own project: already a member"),
    ("POST", "/invite/{token}"): (
        {r.value: "conflict" for r in Role}, "a member accepting a link to their own project: already a member"),
    ("DELETE", "/api/v1/auth/tokens/{token_id}"): (
        {i: "notfound" for i in IDENTITIES if i not in ("anonymous", "owner")},
        "the token is the owner's: another account's token does not exist for you"),
    ("POST", "/account/tokens/{token_id}/revoke"): (
        {i: "notfound" for i in IDENTITIES if i not in ("anonymous", "owner")},
        "the token is the owner's: another account's token does not exist for you"),
}  # fmt: skip


def expected(identity: str, info: RouteInfo) -> str:
    special, _reason = EXPECTED.get(info.key, ({}, ""))
    if identity in special:
        return special[identity]
    rule = ROUTE_PERMISSIONS[info.key]
    if rule == PUBLIC:
        return "allowed"
    if identity == "anonymous":
        return "signin"
    if rule == ANY_USER:
        return "allowed"
    if rule == ADMIN:
        return "allowed" if identity == "admin" else "forbidden"
    if identity in ("outsider", "admin"):
        return "notfound"  # a project you are not in does not exist for you, whoever you are
    return "allowed" if rule in PERMISSIONS[Role(identity)] else "forbidden"


OUTCOMES = {401: "signin", 403: "forbidden", 404: "notfound", 409: "conflict", 413: "toolarge", 422: "invalid",
            429: "toomany"}  # fmt: skip


def outcome(status: int, location: str, path: str) -> str:
    if status >= 500:
        return f"server error {status}"
    if status == 303 and location.startswith("/login?next=") and not path.startswith("/api/"):
        return "signin"
    if 200 <= status < 400:
        return "allowed"
    return OUTCOMES.get(status, f"status {status}")


def said(resp) -> str:
    """What an answer says, short: the JSON detail, or the error a page shows."""
    if "html" not in resp.headers.get("content-type", ""):
        return resp.text[:200]
    for pattern in (r'role="alert">(.*?)</div>', r'class="field-error"[^>]*>(.*?)</p>', r'<p class="muted">(.*?)</p>'):
        found = re.search(pattern, resp.text, flags=re.S)
        if found:
            return " ".join(found.group(1).split())[:200]
    return "(a page)"


def anonymous_request(app, method: str, url: str, **kw):
    """A signed-out browser: it opens the sign-in page first, which hands it the CSRF cookie and token."""
    from fastapi.testclient import TestClient

    anon = TestClient(app, follow_redirects=False)
    try:
        page = anon.get("/login")
        found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert found, "the sign-in page carries no CSRF token"
        return anon.request(method, url, headers={"X-CSRF-Token": found.group(1)}, **kw)
    finally:
        anon.close()


# ---- the walk --------------------------------------------------------------------------------------


@pytest.mark.parametrize("info", ROUTES, ids=str)
def test_route_walk(info: RouteInfo, world, connection, app):
    assert info.key in ROUTE_PERMISSIONS, f"{info} is not in app/route_permissions.py"
    url = url_for(info, world.params)
    failures = []
    for identity in IDENTITIES:
        me = world.callers[identity].user.email if identity != "anonymous" else world.params["owner_email"]
        kw = request_for(info, {**world.params, "my_email": me})  # sign-in throttles count per account
        nested = connection.begin_nested()  # whatever the call changes is undone before the next caller
        try:
            if identity == "anonymous":
                resp = anonymous_request(app, info.method, url, **kw)
            else:
                resp = world.callers[identity].request(info.method, url, **kw)
        finally:
            nested.rollback()
        got = outcome(resp.status_code, resp.headers.get("location", ""), info.path)
        want = expected(identity, info)
        if got == "signin" and info.path.startswith("/api/") and resp.status_code != 401:
            got = f"sign-in answered {resp.status_code}, not 401"
        if got != want:
            failures.append(f"{identity}: expected {want}, got {got} ({resp.status_code} {said(resp)!r})")
    assert not failures, f"{info} (table: {_label(ROUTE_PERMISSIONS[info.key])})\n" + "\n".join(failures)


ID_ROUTES = [r for r in ROUTES if any(p.endswith("_id") for p in path_params(r.path))]


@pytest.mark.parametrize("info", ID_ROUTES, ids=str)
def test_ids_past_the_integer_range_are_unknown(info: RouteInfo, world, connection):
    """Each id of the path, one at a time, just past PostgreSQL's integer: 404 like any unknown id, never a 500."""
    caller = world.callers["admin" if ROUTE_PERMISSIONS.get(info.key) == ADMIN else "owner"]
    failures = []
    for name in [p for p in path_params(info.path) if p.endswith("_id")]:
        url = fill_path(info.path, {**_chosen(info, world.params), name: ID_MAX + 1})
        nested = connection.begin_nested()
        try:
            resp = caller.request(info.method, url, **request_for(info, world.params))
        finally:
            nested.rollback()
        if resp.status_code != 404:
            failures.append(f"{name}={ID_MAX + 1}: {resp.status_code} {said(resp)!r}")
    assert not failures, f"{info}\n" + "\n".join(failures)

