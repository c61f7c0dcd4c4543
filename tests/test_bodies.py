"""Request bodies are capped before anything reads them, and anonymous bodies are not read at all (app/bodies.py)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker
from starlette.requests import Request

from app.bodies import ANONYMOUS_MAX_BYTES, MULTIPART_OVERHEAD, BodyLimit, body_cap
from app.characters import service as characters
from app.config import Settings, get_settings
from app.main import create_app
from app.projects.models import Project
from tests.asgi import call
from tests.images import png_bytes, safetensors_bytes

KIB, MIB = 1024, 1024 * 1024
CHUNK = 64 * KIB


def _zeros(total: int, chunk: int = CHUNK):
    """`total` bytes in chunks, made lazily (one chunk object reused)."""
    block = b"0" * chunk
    sent = 0
    while sent < total:
        n = min(chunk, total - sent)
        yield block if n == chunk else block[:n]
        sent += n


def _project_count(db) -> int:
    return db.scalar(select(func.count()).select_from(Project))


@pytest.fixture
def app_with(connection):
    """An app built with some settings changed (the caps), sharing the test's transaction."""

    def _make(**overrides):
        application = create_app(Settings(**overrides))
        application.state.sessionmaker = sessionmaker(bind=connection, join_transaction_mode="create_savepoint",
                                                      expire_on_commit=False)  # fmt: skip
        return application

    return _make


# ---- the cap for each kind of request, written out by hand ------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "ctype", "anonymous", "limit"),
    [
        ("POST", "/api/v1/projects", "application/json", False, MIB),
        ("PATCH", "/api/v1/shots/7", "application/json", False, MIB),
        ("POST", "/projects/3/characters", "application/x-www-form-urlencoded", False, MIB),
        ("POST", "/characters/3/references", "multipart/form-data", False, 25 * MIB + MULTIPART_OVERHEAD),
        ("POST", "/api/v1/locations/3/references", "multipart/form-data", False, 25 * MIB + MULTIPART_OVERHEAD),
        ("POST", "/characters/3/lora", "multipart/form-data", False, 1024 * MIB + MULTIPART_OVERHEAD),
        ("POST", "/api/v1/characters/3/lora", "multipart/form-data", False, 1024 * MIB + MULTIPART_OVERHEAD),
        ("POST", "/characters/3/lora/settings", "application/x-www-form-urlencoded", False, MIB),
        ("POST", "/looks/3/references", "multipart/form-data", False, 25 * MIB + MULTIPART_OVERHEAD),
        ("POST", "/api/v1/looks/3/references", "multipart/form-data", False, 25 * MIB + MULTIPART_OVERHEAD),
        ("POST", "/locations/3/references", "multipart/form-data", False, 25 * MIB + MULTIPART_OVERHEAD),
        ("POST", "/projects/3/characters", "multipart/form-data", False, MIB),  # takes no file
        ("POST", "/api/v1/projects", "multipart/form-data", False, MIB),
        ("POST", "/characters/3/lora/settings", "multipart/form-data", False, MIB),
        ("POST", "/references/3", "multipart/form-data", False, MIB),
        ("POST", "/api/v1/projects/3/import/fountain", "application/json", False, 4 * MIB + MULTIPART_OVERHEAD),
        ("POST", "/api/v1/projects/3/import/fountain", "text/plain", False, 4 * MIB + MULTIPART_OVERHEAD),
        ("POST", "/projects/3/import", "multipart/form-data", False, 4 * MIB + MULTIPART_OVERHEAD),
        ("POST", "/login", "application/x-www-form-urlencoded", True, 16 * KIB),
        ("POST", "/signup", "application/x-www-form-urlencoded", True, 16 * KIB),
        ("POST", "/invite/abc", "application/x-www-form-urlencoded", True, 16 * KIB),
        ("POST", "/api/v1/auth/register", "application/json", True, 16 * KIB),
        ("POST", "/api/v1/auth/tokens", "application/json", True, 16 * KIB),
        ("GET", "/projects", "", True, 16 * KIB),
        ("POST", "/projects/3/characters", "multipart/form-data", True, None),
        ("POST", "/api/v1/projects", "application/json", True, None),
        ("POST", "/api/v1/invitations/abc/accept", "application/json", True, None),
        ("POST", "/logout", "application/x-www-form-urlencoded", True, None),
        ("POST", "/login/extra", "application/x-www-form-urlencoded", True, None),
    ],
)
def test_each_kind_of_body_gets_its_cap(method, path, ctype, anonymous, limit):
    cap = body_cap(method=method, path=path, content_type=ctype, anonymous=anonymous, settings=Settings())
    assert (cap.limit if cap else None) == limit


def test_every_route_that_takes_a_file_gets_an_upload_cap(app):
    """The routes are read from the app; a new upload route missing from the middleware's list fails here."""
    from fastapi.params import File
    from fastapi.routing import APIRoute

    takes_files: list[tuple[str, str]] = []

    def walk(routes, prefix: str) -> None:
        for route in routes:
            inner = getattr(route, "original_router", None)  # an included router, kept as one node
            if inner is not None:
                walk(inner.routes, prefix + getattr(getattr(route, "include_context", None), "prefix", ""))
            elif isinstance(route, APIRoute) and any(isinstance(p.field_info, File)
                                                     for p in route.dependant.body_params):  # fmt: skip
                takes_files.extend((method, prefix + route.path) for method in route.methods)

    walk(app.routes, "")
    assert len(takes_files) >= 9  # references of characters, looks and locations, LoRA files, screenplays
    settings = Settings()
    for method, path in takes_files:
        concrete = path.replace("{", "").replace("}", "")  # /characters/character_id/lora: any segment will do
        cap = body_cap(method=method, path=concrete, content_type="multipart/form-data", anonymous=False,
                       settings=settings)  # fmt: skip
        assert cap is not None and cap.limit > settings.max_body_bytes, (method, path)


# ---- JSON and form bodies ------------------------------------------------------------------------------------


def test_a_json_body_over_the_cap_is_refused_before_it_is_read(app, db, make_user, api_token):
    user = make_user()
    body = json.dumps({"name": "Big", "description": "x" * MIB}).encode()
    before = _project_count(db)
    r = call(app, "POST", "/api/v1/projects", chunks=[body],
             headers={**api_token(user), "content-type": "application/json", "content-length": str(len(body))})  # fmt: skip
    assert r.status == 413 and json.loads(r.body) == {"detail": "the request body is larger than 1 MB"}
    assert r.pulled == 0 and r.headers["connection"] == "close"  # the Content-Length said enough
    assert r.headers["x-content-type-options"] == "nosniff"  # refusals pass through the security headers too
    assert _project_count(db) == before


def test_a_chunked_json_body_is_cut_at_the_cap(app, db, make_user, api_token):
    user = make_user()
    before = _project_count(db)
    r = call(app, "POST", "/api/v1/projects", chunks=_zeros(5 * MIB),
             headers={**api_token(user), "content-type": "application/json"})  # no Content-Length: chunked
    assert r.status == 413 and json.loads(r.body) == {"detail": "the request body is larger than 1 MB"}
    assert r.pulled <= MIB + CHUNK  # reading stopped at the first chunk past the cap, far before 5 MB
    assert r.headers["connection"] == "close"  # or the server would go on reading (and dropping) the rest
    assert _project_count(db) == before


def test_through_the_test_client_too(client, db, make_user, api_token):
    user = make_user()
    r = client.post("/api/v1/projects", json={"name": "Big", "description": "x" * MIB}, headers=api_token(user))
    assert r.status_code == 413 and r.json()["detail"] == "the request body is larger than 1 MB"
    r = client.post("/api/v1/projects", json={"name": "Small"}, headers=api_token(user))
    assert r.status_code == 201


def test_a_page_form_over_the_cap_gets_an_error_page_or_fragment(sign_in, make_user, make_project):
    owner = make_user()
    p = make_project(owner)
    b = sign_in(owner)
    big = {"name": "Mara", "description": "x" * MIB}
    r = b.post(f"/projects/{p.id}/characters", data=big)
    assert r.status_code == 413 and "the request body is larger than 1 MB" in r.text and "<html" in r.text
    r = b.post(f"/projects/{p.id}/characters", data=big, headers={"HX-Request": "true"})
    assert r.status_code == 413 and r.headers["HX-Retarget"] == "#flash" and "<html" not in r.text
    assert b.post(f"/projects/{p.id}/characters", data={"name": "Mara"}).status_code == 303


def test_the_json_cap_is_a_setting(app_with, db, make_user, api_token):
    user = make_user()
    app = app_with(max_body_bytes=4 * KIB)
    body = json.dumps({"name": "x" * 100, "description": "y" * (5 * KIB)}).encode()
    r = call(app, "POST", "/api/v1/projects", chunks=[body],
             headers={**api_token(user), "content-type": "application/json"})  # fmt: skip
    assert r.status == 413 and json.loads(r.body)["detail"] == "the request body is larger than 4 KB"


def test_a_screenplay_may_be_larger_than_the_json_cap(client, db, make_user, make_project, api_token):
    owner = make_user()
    p = make_project(owner)
    text = "INT. LIGHTHOUSE - NIGHT\n\n" + "Rain beats on the glass.\n" * 60_000  # 1.4 MB, 1.5 MB as JSON
    url = f"/api/v1/projects/{p.id}/import/fountain"
    r = client.post(url, json={"text": text}, headers=api_token(owner))
    assert r.status_code == 201, r.text[:300]
    r = client.post(url, json={"text": text * 3}, headers=api_token(owner))  # 4.5 MB: past the route's cap
    assert r.status_code == 413 and r.json()["detail"] == "the screenplay is larger than 2 MB"


# ---- uploads ------------------------------------------------------------------------------------------------


def _multipart(field: str, filename: str, body_chunks, boundary: str = "slate-test-boundary"):
    yield (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\n"
           "Content-Type: application/octet-stream\r\n\r\n").encode()  # fmt: skip
    yield from body_chunks
    yield f"\r\n--{boundary}--\r\n".encode()


MULTIPART = "multipart/form-data; boundary=slate-test-boundary"


def test_an_upload_over_its_cap_is_refused_while_it_streams(app, db, make_user, make_project, api_token):
    owner = make_user()
    p = make_project(owner)
    mara = characters.create_character(db, actor=owner, project=p, name="Mara")
    db.commit()
    r = call(app, "POST", f"/api/v1/characters/{mara.id}/references",
             chunks=_multipart("file", "huge.png", _zeros(40 * MIB)),
             headers={**api_token(owner), "content-type": MULTIPART})  # fmt: skip
    assert r.status == 413 and json.loads(r.body)["detail"] == "the upload is larger than 25 MB"
    assert r.pulled <= 25 * MIB + MULTIPART_OVERHEAD + CHUNK
    assert mara.references == []


def test_each_file_has_its_own_cap(app_with, db, make_user, make_project, api_token):
    owner = make_user()
    p = make_project(owner)
    mara = characters.create_character(db, actor=owner, project=p, name="Mara")
    db.commit()
    app = app_with(upload_max_bytes=256 * KIB, lora_max_bytes=256 * KIB)
    from fastapi.testclient import TestClient

    # 300 KB: inside each route's body cap (256 KB + the form's overhead), past the file's own cap
    big_picture = png_bytes(8, 8) + b"\x00" * (300 * KIB)
    big_lora = safetensors_bytes() + b"\x00" * (300 * KIB)
    with TestClient(app) as c:
        r = c.post(f"/api/v1/characters/{mara.id}/references", headers=api_token(owner),
                   files={"file": ("big.png", big_picture, "image/png")})  # fmt: skip
        assert r.status_code == 413 and r.json()["detail"] == "the picture is larger than 256 KB", r.text
        r = c.post(f"/api/v1/characters/{mara.id}/lora", headers=api_token(owner),
                   files={"file": ("big.safetensors", big_lora)})  # fmt: skip
        assert r.status_code == 413 and r.json()["detail"] == "the LoRA file is larger than 256 KB", r.text
        r = c.post(f"/api/v1/characters/{mara.id}/lora", headers=api_token(owner),
                   files={"file": ("mara.safetensors", safetensors_bytes())})  # fmt: skip
        assert r.status_code == 200 and r.json()["lora"]["filename"] == "mara.safetensors"


def test_the_upload_reader_refuses_before_reading():
    """`read_upload` measures the spooled file; it reads none of it when the file is over its cap."""
    import io

    from starlette.datastructures import UploadFile

    from app.errors import Invalid, TooLarge
    from app.media.uploads import read_upload

    class Spied(io.BytesIO):
        reads = 0

        def read(self, *args):
            Spied.reads += 1
            return super().read(*args)

    with pytest.raises(TooLarge, match="the picture is larger than 1 KB"):
        read_upload(UploadFile(Spied(b"x" * 1025), filename="a.png"), limit=KIB, what="the picture")
    assert Spied.reads == 0
    with pytest.raises(Invalid, match="the picture is empty"):
        read_upload(UploadFile(io.BytesIO(), filename="a.png"), limit=KIB, what="the picture")
    with pytest.raises(Invalid, match="send the picture as a file"):
        read_upload("not a file", limit=KIB, what="the picture")
    upload = read_upload(UploadFile(io.BytesIO(b"abc"), filename="a.png"), limit=KIB, what="the picture")
    assert (upload.read(), upload.size, upload.filename) == (b"abc", 3, "a.png")


def test_uploads_under_the_cap_still_work(sign_in, db, make_user, make_project):
    owner = make_user()
    p = make_project(owner)
    mara = characters.create_character(db, actor=owner, project=p, name="Mara")
    db.commit()
    b = sign_in(owner)
    r = b.post(f"/characters/{mara.id}/references", files={"file": ("mara.png", png_bytes(64, 64), "image/png")})
    assert r.status_code == 303
    db.expire_all()
    assert len(mara.references) == 1


# ---- nothing is read for anonymous callers outside sign-in and sign-up ---------------------------------------


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_an_anonymous_upload_is_not_read(app, db, make_user, make_project, declared):
    owner = make_user()
    p = make_project(owner)
    size = 50 * MIB
    headers = {"content-type": MULTIPART} | ({"content-length": str(size)} if declared else {})
    r = call(app, "POST", f"/projects/{p.id}/characters", headers=headers,
             chunks=_multipart("file", "x.png", _zeros(size)))  # fmt: skip
    assert r.status == 303 and r.headers["location"] == f"/login?next=/projects/{p.id}/characters"
    assert r.receives == 0 and r.pulled == 0  # refused before a byte of the body was read
    r = call(app, "POST", "/api/v1/projects", headers={"content-type": "application/json"},
             chunks=[b'{"name": "Anon"}'])  # fmt: skip
    assert r.status == 401 and json.loads(r.body) == {"detail": "sign in first"} and r.pulled == 0


def test_sign_in_and_sign_up_take_small_anonymous_bodies_only(app, client):
    form = "email=a%40example.com&password=" + "x" * (ANONYMOUS_MAX_BYTES + 1)
    r = call(app, "POST", "/login", headers={"content-type": "application/x-www-form-urlencoded"},
             chunks=[form.encode()])  # fmt: skip
    assert r.status == 413 and "the form is larger than 16 KB" in r.text
    r = client.post("/api/v1/auth/register", json={"email": "a@example.com", "password": "p" * (20 * KIB),
                                                  "display_name": "A"})  # fmt: skip
    assert r.status_code == 413 and r.json()["detail"] == "the form is larger than 16 KB"
    r = client.post("/api/v1/auth/register", json={"email": "small@example.com", "password": "a long enough secret",
                                                  "display_name": "Small"})  # fmt: skip
    assert r.status_code == 201, r.text


def test_csrf_check_does_not_parse_an_anonymous_form(client, monkeypatch):
    """An anonymous post that reaches the app (it announced no body) is sent to sign in, its form unread."""
    parsed = []
    real_form = Request.form

    def spy(self, *args, **kwargs):
        parsed.append(self.url.path)
        return real_form(self, *args, **kwargs)

    monkeypatch.setattr(Request, "form", spy)
    r = client.post("/logout", headers={"content-type": "application/x-www-form-urlencoded", "content-length": "0"})
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/logout"
    assert parsed == []


# ---- the middleware alone -------------------------------------------------------------------------------------


def test_an_app_that_swallows_the_refusal_still_answers_413():
    """Whatever the app does with the cut-short body (here: ignores the error and answers 200), the caller gets 413."""
    seen = []

    async def careless(scope, receive, send):
        total = 0
        try:
            while True:
                message = await receive()
                total += len(message.get("body", b""))
                if not message.get("more_body"):
                    break
        except Exception:  # noqa: BLE001 (the careless app under test)
            pass
        seen.append(total)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"stored"})

    guarded = BodyLimit(careless, settings=get_settings())
    r = call(guarded, "POST", "/api/v1/anything", headers={"authorization": "Bearer slt_x",
             "content-type": "application/json"}, chunks=_zeros(3 * MIB))  # fmt: skip
    assert r.status == 413 and json.loads(r.body) == {"detail": "the request body is larger than 1 MB"}
    assert seen[0] <= MIB  # the app never saw a byte past the cap
