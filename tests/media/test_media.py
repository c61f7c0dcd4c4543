import io

import pytest
from PIL import Image
from sqlalchemy import func, select

from app.errors import Invalid, TooLarge, Unsupported
from app.media import service
from app.media.models import MediaAsset
from app.media.store import get_store
from tests.images import SVG, TEXT_AS_PNG, huge_png_header, jpeg_bytes, png_bytes, safetensors_bytes, truncated_jpeg, webp_bytes


def _files() -> set[str]:
    root = get_store().root
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()} if root.exists() else set()


@pytest.mark.parametrize("make", [png_bytes, jpeg_bytes, webp_bytes])
def test_images_are_reencoded_with_a_thumbnail(db, make_user, make_project, make):
    owner = make_user()
    p = make_project(owner)
    asset = service.store_image(db, project_id=p.id, data=make(800, 600), filename="x", actor=owner)
    assert (asset.width, asset.height, asset.kind) == (800, 600, "image")
    thumb = Image.open(get_store().path(asset.thumb_key))
    assert max(thumb.size) == 384
    again = service.store_image(db, project_id=p.id, data=make(800, 600), filename="y", actor=owner)
    assert again.id == asset.id  # the same picture is stored once


def test_metadata_is_dropped(db, make_user, make_project):
    owner = make_user()
    p = make_project(owner)
    img = Image.new("RGB", (32, 32))
    exif = img.getexif()
    exif[0x010F] = "SecretCam"  # Make
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif.tobytes())
    asset = service.store_image(db, project_id=p.id, data=buf.getvalue(), filename="x.jpg", actor=owner)
    assert b"SecretCam" not in get_store().path(asset.key).read_bytes()


@pytest.mark.parametrize(
    ("data", "error", "text"),
    [
        (TEXT_AS_PNG, Unsupported, "only PNG, JPEG and WebP"),
        (SVG, Unsupported, "only PNG, JPEG and WebP"),
        (huge_png_header(), TooLarge, "too many pixels"),
        (truncated_jpeg(), Invalid, "damaged or incomplete"),
        (b"", Invalid, "empty"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * (30 * 1024 * 1024), TooLarge, "larger than 25 MB"),
    ],
    ids=["text-named-png", "svg", "20000x20000-png", "truncated-jpeg", "empty", "30MB"],
)
def test_bad_uploads_are_refused_and_nothing_is_stored(db, make_user, make_project, data, error, text):
    owner = make_user()
    p = make_project(owner)
    files_before = _files()
    with pytest.raises(error, match=text):
        service.store_image(db, project_id=p.id, data=data, filename="evil.png", actor=owner)
    assert _files() == files_before
    assert db.scalar(select(func.count()).select_from(MediaAsset).where(MediaAsset.project_id == p.id)) == 0


def test_files_written_for_a_transaction_that_rolls_back_are_removed(db, make_user, make_project):
    owner = make_user()
    p = make_project(owner)
    before = _files()
    nested = db.begin_nested()
    asset = service.store_image(db, project_id=p.id, data=png_bytes(33, 33, (1, 2, 3)), filename="x", actor=owner)
    assert get_store().exists(asset.key)
    nested.rollback()
    db.rollback()
    assert _files() == before


def test_lora_must_be_safetensors(db, make_user, make_project):
    owner = make_user()
    p = make_project(owner)
    asset = service.store_lora(db, project_id=p.id, data=safetensors_bytes(), filename="mara.safetensors", actor=owner)
    assert asset.kind == "lora"
    with pytest.raises(Unsupported):
        service.store_lora(db, project_id=p.id, data=b"\x80\x04\x95pickle" + b"\x00" * 40, filename="x.ckpt",
                           actor=owner)  # fmt: skip


def test_media_is_served_to_members_only_with_ranges(db, client, sign_in, make_user, make_project):
    owner, stranger = make_user(), make_user()
    p = make_project(owner)
    asset = service.store_image(db, project_id=p.id, data=png_bytes(200, 100), filename="ref.png", actor=owner)
    db.commit()
    b = sign_in(owner)
    full = b.get(f"/media/{asset.id}")
    assert full.status_code == 200 and full.headers["content-type"] == "image/png"
    part = b.get(f"/media/{asset.id}", headers={"Range": "bytes=0-9"})
    assert part.status_code == 206 and part.content == full.content[:10]
    assert b.get(f"/media/{asset.id}/thumb").headers["content-type"] == "image/jpeg"
    assert sign_in(stranger).get(f"/media/{asset.id}").status_code == 404
    assert client.get(f"/media/{asset.id}").status_code == 303


def test_pixel_limit_below_pillows_own_guard(db, make_user, make_project):
    owner = make_user()
    p = make_project(owner)
    with pytest.raises(TooLarge, match=r"9000×5000"):
        service.store_image(db, project_id=p.id, data=huge_png_header(9000, 5000), filename="big.png", actor=owner)


@pytest.mark.parametrize(("role", "status"), [("owner", 200), ("director", 200), ("artist", 200), ("producer", 403),
                                              ("editor", 403), ("viewer", 403)])  # fmt: skip
def test_lora_files_go_only_to_those_who_edit_characters(db, sign_in, make_user, make_project, add_member, role,
                                                         status):  # fmt: skip
    owner = make_user()
    p = make_project(owner)
    asset = service.store_lora(db, project_id=p.id, data=safetensors_bytes(), filename="mara.safetensors", actor=owner)
    db.commit()
    member = owner
    if role != "owner":
        member = make_user()
        add_member(p, member, role)
    r = sign_in(member).get(f"/media/{asset.id}")
    assert r.status_code == status, r.text[:200]
    if status == 200:
        assert r.content == safetensors_bytes()
