"""Another project's ids, sent by an owner of this one: 404 or 422, and nothing changes anywhere.

Two projects, "ours" and "theirs", each stocked with one of every object (tests/walk.py). For every input of
every route that carries ids (body and form fields, query parameters, and path ids the access check does not
cover), a probe sends theirs where ours belong, as the owner of ours (who is not a member of theirs):
- the answer is 404 or 422, every table of the database is as it was, and nothing of theirs shows in the answer;
- the same probe with ids just past PostgreSQL's integer range is refused the same way;
- the same request with our own ids (the control) succeeds, so the refusal came from the id and not from a
  body that was wrong in some other way.
Inputs are found from the routes' schemas (fields named *_id, *_ids, *_key, *_keys, *_path, and the cast map
`looks`); an input without a probe fails `test_every_id_input_has_a_probe`, so new routes are covered.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.params import File, Form
from pydantic import BaseModel

from app.config import get_settings
from app.db import Base
from app.deps import Access, csrf_protect, get_db, get_principal, known_ids, require_admin, require_user
from app.main import create_app
from tests.walk import ID_MAX, RouteInfo, app_routes, fill_path, path_params, stock_project, use_lora_folder

ROUTES = {r.key: r for r in app_routes(create_app(get_settings()))}
ID_NAME = re.compile(r".+_(id|ids|key|keys|path)$")
ID_NAMES = {"looks"}  # the cast map {character_id: look_id}
FRAMEWORK = {get_db, get_principal, require_user, require_admin, csrf_protect, known_ids}


# ---- which inputs carry ids ------------------------------------------------------------------------------


def _models(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models(arg)]


def _model_fields(model: type[BaseModel], seen: set[type] | None = None) -> set[str]:
    """Field names of a body model and of the models nested in it."""
    seen = seen or set()
    if model in seen:
        return set()
    seen.add(model)
    names = set(model.model_fields)
    for f in model.model_fields.values():
        for inner in _models(f.annotation):
            names |= _model_fields(inner, seen)
    return names


def _checked_param(dependant) -> set[str]:
    """Path parameters an `Access` dependency turns into the route's project (a foreign one is its 404)."""
    out = set()
    for dep in dependant.dependencies:
        if isinstance(dep.call, Access):
            out.add(dep.call.param)
        out |= _checked_param(dep)
    return out


def _own_readers(dependant) -> set[str]:
    """Dependencies that read the request themselves (raw forms, raw bodies): their inputs have no schema."""
    out = set()
    for dep in dependant.dependencies:
        if dep.call not in FRAMEWORK and not isinstance(dep.call, Access):
            out.add(getattr(dep.call, "__name__", repr(dep.call)))
        out |= _own_readers(dep)
    return out


def id_inputs(info: RouteInfo) -> set[str]:
    """The route's inputs that carry ids, as "where:name" (body, form, query, path)."""
    route = info.api
    if route is None:
        return set()
    found = set()
    for p in route.dependant.body_params:
        if isinstance(p.field_info, (Form, File)):
            names, where = {p.alias or p.name}, "form"
        else:
            names, where = set().union(*(_model_fields(m) for m in _models(p.field_info.annotation))), "body"
        found |= {f"{where}:{n}" for n in names if ID_NAME.match(n) or n in ID_NAMES}
    found |= {f"query:{p.alias or p.name}" for p in route.dependant.query_params if ID_NAME.match(p.alias or p.name)}
    checked = _checked_param(route.dependant)
    found |= {f"path:{n}" for n in path_params(info.path) if n.endswith("_id") and n not in checked}
    return found


def own_reader_routes() -> dict[tuple[str, str], set[str]]:
    return {k: readers for k, r in ROUTES.items() if r.api is not None and (readers := _own_readers(r.api.dependant))}


# ---- the probes --------------------------------------------------------------------------------------------

Ids = dict[str, Any]


@dataclass
class Probe:
    """Send `values(ids)` to the route, where `ids` are theirs (the probe), past the range, or ours (the control).

    `values` returns the request: "path" (overrides of our path ids), "json", "data" or "query".
    `ours`: the control's values when "our own" is not simply our ids (a LoRA path is a file in SLATE_LORA_DIR).
    `answers`: what a refusal may answer; a read-only route that filters may answer 200 showing nothing of theirs.
    """

    method: str
    path: str
    inputs: tuple[str, ...]
    values: Callable[[Ids], dict[str, Any]]
    ours: Callable[[Ids], dict[str, Any]] | None = None
    answers: tuple[int, ...] = (404, 422)
    ranged: bool = True  # ids past the integer range make sense here
    note: str = ""
    label: str = ""

    def __str__(self) -> str:
        return f"{self.method} {self.path} [{', '.join(self.inputs)}]{' ' + self.label if self.label else ''}"


def _shot_form(ids: Ids, **changes: Any) -> dict[str, Any]:
    """The shot editor's form with our cast, and `changes`."""
    form = {"action": "Mara climbs.", "duration_s": "4", "location_id": "", "style_id": "",
            "character_ids": ["@ours:character_id"]}  # fmt: skip
    form.update(changes)
    return {"data": form}


SHOT_JSON: list[tuple[str, Callable[[Ids], dict[str, Any]], str]] = [
    ("body:character_ids", lambda i: {"character_ids": [i["spare_character_id"]]}, ""),
    ("body:looks", lambda i: {"looks": {str(i["character_id"]): i["spare_look_id"]}}, "their character and look"),
    ("body:location_id", lambda i: {"location_id": i["location_id"]}, ""),
    ("body:style_id", lambda i: {"style_id": i["style_id"]}, ""),
]


PROBES: list[Probe] = [
    # ---- the storyboard: a shot's cast, location, style, scene; many shots at once
    *[Probe("POST", "/api/v1/scenes/{scene_id}/shots", (inp,), lambda i, v=v: {"json": {"action": "New.", **v(i)}},
            label=label) for inp, v, label in SHOT_JSON],
    *[Probe("PATCH", "/api/v1/shots/{shot_id}", (inp,), lambda i, v=v: {"json": v(i)}, label=label)
      for inp, v, label in SHOT_JSON],
    Probe("PATCH", "/api/v1/shots/{shot_id}", ("body:looks",), label="our character, their look",
          values=lambda i: {"json": {"looks": {"@ours:character_id": i["spare_look_id"]}}}),
    Probe("POST", "/api/v1/shots/{shot_id}/move", ("body:scene_id",),
          lambda i: {"json": {"scene_id": i["spare_scene_id"], "index": 0}}),
    Probe("POST", "/api/v1/projects/{project_id}/shots/status", ("body:shot_ids",), label="ours and theirs together",
          values=lambda i: {"json": {"shot_ids": ["@ours:shot_id", i["shot_id"]], "status": "ready"}}),
    Probe("POST", "/shots/{shot_id}", ("raw:character_ids",),
          lambda i: _shot_form(i, character_ids=[str(i["spare_character_id"])])),
    Probe("POST", "/shots/{shot_id}", ("raw:look_<character_id>",), label="our character, their look",
          values=lambda i: _shot_form(i, **{"look_@ours:character_id": str(i["spare_look_id"])})),
    Probe("POST", "/shots/{shot_id}", ("raw:location_id",), lambda i: _shot_form(i, location_id=str(i["location_id"]))),
    Probe("POST", "/shots/{shot_id}", ("raw:style_id",), lambda i: _shot_form(i, style_id=str(i["style_id"]))),
    # The live preview of the shot editor answers 200 with the error in place (it is typed into): it must
    # show nothing of theirs and write nothing.
    *[Probe("POST", "/shots/{shot_id}/preview", (f"raw:{name}",), answers=(200,), note="the preview shows the error",
            values=lambda i, name=name, v=v: _shot_form(i, **{name: v(i)}))
      for name, v in (("character_ids", lambda i: [str(i["character_id"])]),
                      ("location_id", lambda i: str(i["location_id"])), ("style_id", lambda i: str(i["style_id"])))],
    Probe("POST", "/shots/{shot_id}/move", ("form:scene_id",),
          lambda i: {"data": {"scene_id": str(i["spare_scene_id"]), "index": "0"}}),
    Probe("POST", "/projects/{project_id}/shots/status", ("form:shot_ids",), label="ours and theirs together",
          values=lambda i: {"data": {"shot_ids": ["@ours:shot_id", str(i["shot_id"])], "status": "ready"}}),
    # The board's filters (read from the query string by the page): a filter on their character or location
    # shows an empty board of ours.
    *[Probe("GET", path, (f"query:{name}",), answers=(200,), note="a filter: an empty board",
            values=lambda i, name=name, key=key: {"query": {name: i[key]}})
      for path in ("/projects/{project_id}/storyboard", "/projects/{project_id}/storyboard/print")
      for name, key in (("character", "character_id"), ("location", "location_id"))],
    # ---- characters: a look to advance shots to, a LoRA file named by path
    Probe("POST", "/api/v1/characters/{character_id}/advance-shots", ("body:look_id",),
          lambda i: {"json": {"look_id": i["look_id"]}}),
    Probe("POST", "/characters/{character_id}/advance-shots", ("form:look_id",),
          lambda i: {"data": {"look_id": str(i["look_id"])}}),
    *[Probe(m, p, (inp,), ranged=False, note="their uploaded LoRA, by its path in the media store",
            values=lambda i, w=wrap: w(i["lora_file"]), ours=lambda i, w=wrap: w("keeper.safetensors"))
      for m, p, inp, wrap in (
          ("POST", "/api/v1/projects/{project_id}/characters", "body:lora_path",
           lambda v: {"json": {"name": "Ines", "lora_path": v}}),
          ("PATCH", "/api/v1/characters/{character_id}", "body:lora_path", lambda v: {"json": {"lora_path": v}}),
          ("POST", "/characters/{character_id}/lora/settings", "form:lora_path", lambda v: {"data": {"lora_path": v}}),
      )],
    # ---- locations: one of their reference pictures
    *[Probe("POST", f"/locations/{{location_id}}/references/{verb}", ("form:reference_id",),
            lambda i: {"data": {"reference_id": str(i["location_reference_id"]), "caption": "North face."}})
      for verb in ("caption", "delete")],
    # ---- the team: their member, their invitation (the path's project is ours)
    *[Probe(m, p, ("path:user_id",), lambda i, body=body: {"path": {"user_id": i["member_id"]}, **body})
      for m, p, body in (
          ("PATCH", "/api/v1/projects/{project_id}/members/{user_id}", {"json": {"role": "viewer"}}),
          ("DELETE", "/api/v1/projects/{project_id}/members/{user_id}", {}),
          ("POST", "/projects/{project_id}/members/{user_id}/role", {"data": {"role": "viewer"}}),
          ("POST", "/projects/{project_id}/members/{user_id}/remove", {}),
      )],
    *[Probe(m, p, ("path:invitation_id",), lambda i: {"path": {"invitation_id": i["invitation_id"]}})
      for m, p in (("DELETE", "/api/v1/projects/{project_id}/invitations/{invitation_id}"),
                   ("POST", "/projects/{project_id}/invitations/{invitation_id}/revoke"))],
    # ---- accounts: their owner's access token
    *[Probe(m, p, ("path:token_id",), lambda i: {"path": {"token_id": i["token_id"]}})
      for m, p in (("DELETE", "/api/v1/auth/tokens/{token_id}"), ("POST", "/account/tokens/{token_id}/revoke"))],
]  # fmt: skip

# Inputs with ids that need no probe, and why.
NO_PROBE: dict[tuple[str, str, str], str] = {
    ("GET", "/api/v1/system/probes/{probe_id}", "path:probe_id"): "instance admins only; probes belong to no project",
    ("GET", "/admin/probes/{probe_id}", "path:probe_id"): "instance admins only; probes belong to no project",
    ("POST", "/admin/users/{user_id}/active", "path:user_id"): "instance admins only; accounts belong to no project",
    ("POST", "/characters/{character_id}", "form:trait_key"): "a trait's name (age, hair ...), not a media key",
}
# Routes that read inputs their schema does not declare (a raw form, a raw body, the query string): the inputs
# with ids they read. Every route with a dependency that reads the request itself must be listed.
OWN_READERS: dict[tuple[str, str], tuple[str, ...]] = {
    ("POST", "/shots/{shot_id}"): ("raw:character_ids", "raw:look_<character_id>", "raw:location_id", "raw:style_id"),
    ("POST", "/shots/{shot_id}/preview"): ("raw:character_ids", "raw:location_id", "raw:style_id"),
    ("POST", "/api/v1/projects/{project_id}/import/fountain"): (),  # a screenplay's text: names, no ids
    ("GET", "/projects/{project_id}/storyboard"): ("query:character", "query:location"),  # the board's filters
    ("GET", "/projects/{project_id}/storyboard/print"): ("query:character", "query:location"),
}


def test_every_id_input_has_a_probe():
    probed = {(p.method, p.path, inp) for p in PROBES for inp in p.inputs}
    needed = {(*k, inp) for k, info in ROUTES.items() for inp in id_inputs(info)}
    readers = own_reader_routes()
    unlisted = sorted(f"{m} {p} reads the request itself ({', '.join(sorted(r))}): list it in OWN_READERS"
                      for (m, p), r in readers.items() if (m, p) not in OWN_READERS)  # fmt: skip
    needed |= {(*k, inp) for k, inputs in OWN_READERS.items() for inp in inputs}
    missing = sorted(f"{m} {p} {inp}" for m, p, inp in needed - probed - set(NO_PROBE))
    assert unlisted == [] and missing == [], "\n".join(unlisted + [f"no cross-project probe: {x}" for x in missing])


def test_every_probe_names_a_route_input():
    readers = {(*k, inp) for k, inputs in OWN_READERS.items() for inp in inputs}
    known = {(*k, inp) for k, info in ROUTES.items() for inp in id_inputs(info)} | readers
    stale = sorted({f"{p.method} {p.path} {inp}" for p in PROBES for inp in p.inputs
                    if (p.method, p.path, inp) not in known})  # fmt: skip
    assert stale == [], "probes for inputs no route has:\n" + "\n".join(stale)
    gone = sorted(f"{m} {p}" for m, p, _ in NO_PROBE if (m, p) not in ROUTES)
    assert gone == [] and all((p.method, p.path) in ROUTES for p in PROBES)


# ---- two projects -------------------------------------------------------------------------------------------


@dataclass
class Studio:
    ours: Ids
    theirs: Ids
    caller: Any  # a browser signed in as the owner of ours


@pytest.fixture
def studio(db, make_user, make_project, add_member, sign_in, tmp_path, monkeypatch):
    use_lora_folder(tmp_path, monkeypatch)
    make_user(name="Admin", admin=True)  # the first account is the admin: neither owner is one
    stocked = {}
    for tag in ("ours", "theirs"):
        owner = make_user(name=f"Owner {tag}")
        project = make_project(owner, name=f"Night Shift {tag}")
        member = make_user(name=f"Member {tag}")
        add_member(project, member, "artist")
        stocked[tag] = {**stock_project(db, project=project, owner=owner, tag=tag), "member_id": member.id,
                        "owner": owner}  # fmt: skip
    db.commit()
    return Studio(ours=stocked["ours"], theirs=stocked["theirs"], caller=sign_in(stocked["ours"]["owner"]))


class PastRange(dict):
    """Every id just past PostgreSQL's integer range."""

    def __missing__(self, key: str) -> int:
        return ID_MAX + 1


def _resolve(value: Any, ours: Ids) -> Any:
    """Fill "@ours:<name>" placeholders (a probe's values mix our ids with theirs)."""
    if isinstance(value, str) and (whole := re.fullmatch(r"@ours:(\w+)", value)):
        return ours[whole.group(1)]
    if isinstance(value, str) and "@ours:" in value:
        return re.sub(r"@ours:(\w+)", lambda m: str(ours[m.group(1)]), value)
    if isinstance(value, list):
        return [_resolve(v, ours) for v in value]
    if isinstance(value, dict):
        return {_resolve(k, ours): _resolve(v, ours) for k, v in value.items()}
    return value


def send(studio: Studio, probe: Probe, request: dict[str, Any]):
    request = _resolve(request, studio.ours)
    url = fill_path(probe.path, {**studio.ours, **request.pop("path", {})})
    kw = {{"query": "params"}.get(k, k): v for k, v in request.items()}  # json, data, params
    return studio.caller.request(probe.method, url, **kw)


TABLES = [t for name, t in sorted(Base.metadata.tables.items())
          if name not in ("user_sessions", "login_failures", "signup_attempts")]  # fmt: skip
# user_sessions: a session's last use is written on every request; the other two are written on a
# connection of their own by the sign-in and sign-up throttles, which no probe reaches.


def snapshot(connection) -> dict[str, list[tuple]]:
    return {t.name: [tuple(r) for r in connection.execute(sa.select(t).order_by(*t.primary_key.columns))]
            for t in TABLES}  # fmt: skip


def _theirs_shown(text: str, theirs: Ids) -> list[str]:
    marks = [theirs["secret"], "Mara theirs", "Tomas theirs", "Lighthouse theirs", "Harbour theirs"]
    return [m for m in marks if m in text]


@pytest.mark.parametrize("probe", PROBES, ids=str)
def test_their_ids_are_refused_and_change_nothing(probe: Probe, studio: Studio, connection):
    failures = []
    variants = [("theirs", studio.theirs)] + ([("past the range", PastRange())] if probe.ranged else [])
    for name, ids in variants:
        before = snapshot(connection)
        nested = connection.begin_nested()
        try:
            resp = send(studio, probe, probe.values(ids))
            after = snapshot(connection)
        finally:
            nested.rollback()
        changed = sorted(t for t in before if before[t] != after[t])
        if resp.status_code not in probe.answers:
            failures.append(f"{name}: answered {resp.status_code}, not one of {probe.answers}: {resp.text[:200]!r}")
        if changed:
            failures.append(f"{name}: changed {', '.join(changed)} (answered {resp.status_code})")
        if shown := _theirs_shown(resp.text, studio.theirs):
            failures.append(f"{name}: the answer shows theirs: {shown}")
    nested = connection.begin_nested()
    try:
        control = send(studio, probe, (probe.ours or probe.values)(studio.ours))
    finally:
        nested.rollback()
    if not 200 <= control.status_code < 400:
        failures.append(f"control (our own ids) answered {control.status_code}: {control.text[:200]!r}")
    assert not failures, f"{probe}{' (' + probe.note + ')' if probe.note else ''}\n" + "\n".join(failures)
