"""The app's routes as the authorization tests see them, and a project stocked with one of every object.

Shared by tests/test_authorization_walk.py (every route as every caller) and tests/test_cross_project.py
(another project's ids sent in bodies). Routes are read from the app `create_app` builds, so a route
added anywhere (a router, or the factory itself like /healthz) is seen; static files (the /static mount)
are files, not routes, and are left out.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from fastapi.routing import APIRoute
from starlette.routing import BaseRoute, Mount

from app.deps import Access, require_admin, require_user
from app.permissions import Action
from app.route_permissions import ADMIN, ANY_USER, PUBLIC, Audience

ID_MAX = 2**31 - 1  # PostgreSQL `integer`: every id column


@dataclass(frozen=True)
class RouteInfo:
    method: str
    path: str
    route: BaseRoute = field(compare=False, repr=False)

    @property
    def key(self) -> tuple[str, str]:
        return self.method, self.path

    @property
    def api(self) -> APIRoute | None:
        return self.route if isinstance(self.route, APIRoute) else None

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def app_routes(app) -> list[RouteInfo]:
    """Every (method, path) the app answers, HEAD aside (Starlette adds it to every GET)."""
    out: list[RouteInfo] = []

    def walk(routes, prefix: str) -> None:
        for r in routes:
            inner = getattr(r, "original_router", None)  # an included router (FastAPI keeps it as one node)
            if inner is not None:
                walk(inner.routes, prefix + getattr(getattr(r, "include_context", None), "prefix", ""))
                continue
            if isinstance(r, Mount):
                continue
            for method in sorted((getattr(r, "methods", None) or set()) - {"HEAD"}):
                out.append(RouteInfo(method, prefix + r.path, r))

    walk(app.routes, "")
    return out


def declared_guard(info: RouteInfo) -> Action | Audience | str:
    """The guard a route declares through its dependencies: `Access(action)` wins over `require_admin`, which
    wins over `require_user` (both depend on it); none of them: public. Two different `Access` actions on one
    route come back as a text naming both (it never matches the table)."""
    route = info.api
    if route is None:
        return PUBLIC
    actions: list[Action] = []
    seen: set[str] = set()

    def visit(dependant) -> None:
        for dep in dependant.dependencies:
            call = dep.call
            if isinstance(call, Access):
                actions.append(call.action)
            elif call is require_admin:
                seen.add("admin")
            elif call is require_user:
                seen.add("user")
            visit(dep)

    visit(route.dependant)
    if len(set(actions)) > 1:
        return " + ".join(f"Access({a.value})" for a in sorted(set(actions)))
    if actions:
        return actions[0]
    if "admin" in seen:
        return ADMIN
    if "user" in seen:
        return ANY_USER
    return PUBLIC


def path_params(path: str) -> list[str]:
    return re.findall(r"\{(\w+)(?::\w+)?\}", path)


def fill_path(path: str, params: dict[str, Any]) -> str:
    def sub(m: re.Match) -> str:
        name = m.group(1)
        assert name in params, f"the walk needs a value for path parameter {name!r}: add it to tests/walk.py"
        return str(params[name])

    return re.sub(r"\{(\w+)(?::\w+)?\}", sub, path)


def use_lora_folder(tmp_path, monkeypatch):
    """SLATE_LORA_DIR set to a folder holding keeper.safetensors (LoRA paths are off without it), for the app and
    the services."""
    from app.config import get_settings

    folder = tmp_path / "loras"
    folder.mkdir()
    (folder / "keeper.safetensors").write_bytes(b"")
    monkeypatch.setenv("SLATE_LORA_DIR", str(folder))
    monkeypatch.setattr(get_settings(), "lora_dir", folder)
    return folder


# ---- a stocked project ------------------------------------------------------------------------


def stock_project(db, *, project, owner, tag: str) -> dict[str, Any]:
    """One of every kind of object in `project` (two of those a route deletes or moves to), made with the
    models where that is enough, and with the services where a row needs what they write (locked versions,
    jobs with a real render spec).
    Returns the ids (and a few values) by the path-parameter names routes use."""
    from app.auth import service as auth_service
    from app.characters import service as characters_service
    from app.characters.models import Character, Look, ReferenceImage
    from app.design.models import Location, StylePreset
    from app.generation import service as generation_service
    from app.generation.models import Take
    from app.media.models import MediaAsset
    from app.media.service import store_image
    from app.media.store import get_store
    from app.projects import service as project_service
    from app.storyboard.models import Scene, Shot, ShotCharacter
    from tests.images import png_bytes, safetensors_bytes

    shade = sum(tag.encode()) % 200  # pictures differ between projects (assets are per project anyway)
    asset = store_image(db, project_id=project.id, data=png_bytes(64, 48, (shade, 90, 40)), filename="ref.png",
                        actor=owner)  # fmt: skip
    place = store_image(db, project_id=project.id, data=png_bytes(80, 48, (40, shade, 90)), filename="place.png",
                        actor=owner)  # fmt: skip
    store = get_store()
    lora_bytes = safetensors_bytes()[:-16] + hashlib.md5(tag.encode()).digest()  # its own weights, its own file
    lora_key, _ = store.put(lora_bytes, "safetensors")
    lora = MediaAsset(project_id=project.id, kind="lora", key=lora_key, mime="application/octet-stream",
                      sha256=hashlib.sha256(lora_bytes).hexdigest(), bytes=len(lora_bytes),
                      original_name=f"{tag}.safetensors", created_by_id=owner.id)  # fmt: skip
    character = Character(project_id=project.id, name=f"Mara {tag}", name_key=f"mara {tag}".lower(),
                          prompt_fragment=f"an old keeper {tag}-secret", lora_asset=lora)  # fmt: skip
    spare = Character(project_id=project.id, name=f"Tomas {tag}", name_key=f"tomas {tag}".lower())
    db.add_all([lora, character, spare])
    db.flush()
    look = Look(project_id=project.id, character_id=character.id, name="Storm gear",
                prompt_fragment=f"oilskin {tag}-secret")  # fmt: skip
    spare_look = Look(project_id=project.id, character_id=character.id, name="Sunday best", position=1)
    location = Location(project_id=project.id, name=f"Lighthouse {tag}", name_key=f"lighthouse {tag}".lower(),
                        prompt_fragment=f"granite tower {tag}-secret")  # fmt: skip
    spare_location = Location(project_id=project.id, name=f"Harbour {tag}", name_key=f"harbour {tag}".lower())
    style = StylePreset(project_id=project.id, name=f"Vision3 500T {tag}", is_default=True,
                        prompt_fragment=f"grain {tag}-secret")  # fmt: skip
    scene = Scene(project_id=project.id, number="1", heading="EXT. LIGHTHOUSE - NIGHT", position=0)
    spare_scene = Scene(project_id=project.id, number="2", heading="INT. LAMP ROOM - NIGHT", position=1)
    db.add_all([look, spare_look, location, spare_location, style, scene, spare_scene])
    db.flush()
    reference = ReferenceImage(project_id=project.id, asset_id=asset.id, character_id=character.id)
    location_reference = ReferenceImage(project_id=project.id, asset_id=place.id, location_id=location.id)
    shot = Shot(project_id=project.id, scene_id=scene.id, code="1A", action="Waves.", location_id=location.id,
                model="animatic")  # fmt: skip
    db.add_all([reference, location_reference, shot])
    db.flush()
    version = characters_service.lock_character(db, actor=owner, character=character)  # generation needs locks
    look_version = characters_service.lock_look(db, actor=owner, look=look)
    db.add(ShotCharacter(shot_id=shot.id, character_id=character.id, character_version=version.number,
                         look_id=look.id, look_version=look_version.number))  # fmt: skip
    db.flush()

    job = generation_service.enqueue(db, actor=owner, shot=shot, takes=2, model="animatic", seed=1)
    failed = generation_service.enqueue(db, actor=owner, shot=shot, takes=1, model="animatic", seed=7)
    failed.status, failed.error = "failed", "the worker ran out of memory"
    video, _ = store.put(f"\x00\x00\x00\x18ftypisom {tag}".encode(), "mp4")
    image, _ = store.put(f"\xff\xd8\xff {tag}".encode(), "jpg")
    take = Take(project_id=project.id, shot_id=shot.id, job_id=job.id, index=0, number=1, seed=1, model="animatic",
                spec_hash=job.spec_hash, frames=9, fps=24.0, width=64, height=64, video_key=video, poster_key=image,
                filmstrip_key=image)  # fmt: skip
    db.add(take)
    db.flush()
    db.info.pop("after_commit", None)  # nothing to send: no worker in these tests

    token, invitation = project_service.create_invitation(db, actor=owner, actor_role="owner", project=project,
                                                          role="viewer")  # fmt: skip
    _, api_token = auth_service.create_api_token(db, user=owner, name=f"walk {tag}")
    db.flush()
    return {
        "project_id": project.id, "asset_id": asset.id, "lora_asset_id": lora.id,
        "lora_file": str(store.path(lora_key)), "character_id": character.id, "spare_character_id": spare.id,
        "look_id": look.id, "spare_look_id": spare_look.id, "reference_id": reference.id, "location_reference_id": location_reference.id,
        "version_id": version.id, "location_id": location.id, "spare_location_id": spare_location.id,
        "style_id": style.id, "scene_id": scene.id, "spare_scene_id": spare_scene.id, "shot_id": shot.id,
        "job_id": job.id, "failed_job_id": failed.id, "take_id": take.id, "token": token,
        "invitation_id": invitation.id, "token_id": api_token.id, "secret": f"{tag}-secret",
    }  # fmt: skip
