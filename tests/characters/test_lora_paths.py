"""LoRA files come from uploads, or from the one folder the admin set (SLATE_LORA_DIR): on the web and on the workers.

A path outside the folder is refused with the same words whether or not the file exists there.
"""

from __future__ import annotations

import pytest

from app.characters import service
from app.characters.models import Character
from app.errors import Invalid
from tests.images import safetensors_bytes
from workers.engines.lora_path import OUTSIDE, TURNED_OFF, LoraPathRefused, lora_file, worker_lora_file

@pytest.fixture
def owner(make_user):
    return make_user()


@pytest.fixture
def project(make_project, owner):
    return make_project(owner)


@pytest.fixture
def elsewhere(tmp_path):
    """A folder outside the LoRA folder, with one real .safetensors file in it (and one name that is not there)."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    (folder / "secret.safetensors").write_bytes(safetensors_bytes())
    return folder


def _refusal(db, owner, project, path: str) -> str:
    with pytest.raises(Invalid) as err:
        service.create_character(db, actor=owner, project=project, name="Mara", lora_path=path)
    assert err.value.field == "lora_path"
    return err.value.detail


# ---- on the web -----------------------------------------------------------------------------------------------


def test_without_a_folder_paths_are_turned_off(db, owner, project, elsewhere):
    for path in ("loras/mara.safetensors", str(elsewhere / "secret.safetensors"), "/srv/loras/none.safetensors"):
        assert _refusal(db, owner, project, path) == TURNED_OFF
    assert TURNED_OFF == "LoRA paths are turned off; upload the file, or ask the admin to set SLATE_LORA_DIR"
    c = service.create_character(db, actor=owner, project=project, name="Mara", lora_path="")
    assert c.lora_path is None  # clearing a path needs no folder


def test_paths_inside_the_folder_are_stored_relative_to_it(db, owner, project, lora_dir):
    (lora_dir / "cast").mkdir()
    c = service.create_character(db, actor=owner, project=project, name="Mara", lora_path="cast/mara.safetensors")
    assert c.lora_path == "cast/mara.safetensors"
    service.update_character(db, actor=owner, character=c, changes={"lora_path": f"{lora_dir}/cast/ines.safetensors"})
    assert c.lora_path == "cast/ines.safetensors"


def test_a_path_outside_the_folder_gets_one_answer_whether_or_not_it_exists(db, owner, project, lora_dir, elsewhere):
    existing, missing = elsewhere / "secret.safetensors", elsewhere / "missing.safetensors"
    assert existing.exists() and not missing.exists()
    answers = {_refusal(db, owner, project, str(p)) for p in (existing, missing, "/etc/shadow.safetensors")}
    assert answers == {OUTSIDE}
    assert "SLATE_LORA_DIR" in OUTSIDE and "exist" not in OUTSIDE


def test_a_link_inside_the_folder_that_leads_out_of_it_is_outside(db, owner, project, lora_dir, elsewhere):
    (lora_dir / "mara.safetensors").symlink_to(elsewhere / "secret.safetensors")
    (lora_dir / "shared").symlink_to(elsewhere, target_is_directory=True)
    assert _refusal(db, owner, project, "mara.safetensors") == OUTSIDE
    assert _refusal(db, owner, project, "shared/secret.safetensors") == OUTSIDE
    assert _refusal(db, owner, project, "shared/missing.safetensors") == OUTSIDE


def test_the_api_answers_the_same_for_a_file_that_exists_and_one_that_does_not(client, db, owner, project,
                                                                              api_token, lora_dir, elsewhere):  # fmt: skip
    mara = service.create_character(db, actor=owner, project=project, name="Mara")
    db.commit()
    answers = []
    for path in (elsewhere / "secret.safetensors", elsewhere / "missing.safetensors"):
        r = client.patch(f"/api/v1/characters/{mara.id}", json={"lora_path": str(path)}, headers=api_token(owner))
        answers.append((r.status_code, r.json()))
    assert answers[0] == answers[1] == (422, {"detail": OUTSIDE, "field": "lora_path"})
    db.expire_all()
    assert db.get(Character, mara.id).lora_path is None


def test_the_page_says_paths_are_off(sign_in, db, owner, project):
    mara = service.create_character(db, actor=owner, project=project, name="Mara")
    db.commit()
    r = sign_in(owner).post(f"/characters/{mara.id}/lora/settings", data={"lora_path": "loras/mara.safetensors"})
    assert r.status_code == 422 and "LoRA paths are turned off" in r.text


# ---- on a worker ----------------------------------------------------------------------------------------------


def test_a_worker_resolves_against_its_own_folder(monkeypatch, tmp_path, elsewhere):
    worker_dir = tmp_path / "gpu-host-loras"
    (worker_dir / "cast").mkdir(parents=True)
    monkeypatch.delenv("SLATE_LORA_DIR", raising=False)
    with pytest.raises(LoraPathRefused, match="turned off"):
        worker_lora_file("cast/mara.safetensors")
    monkeypatch.setenv("SLATE_LORA_DIR", str(worker_dir))
    assert worker_lora_file("cast/mara.safetensors") == worker_dir.resolve() / "cast" / "mara.safetensors"
    refusals = set()
    for path in (elsewhere / "secret.safetensors", elsewhere / "missing.safetensors", "/etc/passwd.safetensors"):
        with pytest.raises(LoraPathRefused) as err:
            worker_lora_file(str(path))
        refusals.add(str(err.value))
    assert refusals == {OUTSIDE}
    with pytest.raises(LoraPathRefused):
        lora_file(".", worker_dir)  # the folder itself is not a file in it


def test_a_worker_never_opens_a_lora_outside_its_folder(monkeypatch, tmp_path, elsewhere):
    pytest.importorskip("torch")
    from workers.engines.ltx import lora_adapters

    class Pipe:
        def __init__(self) -> None:
            self.loaded: list[str] = []

        def load_lora_weights(self, state, adapter_name):
            self.loaded.append(adapter_name)

        def set_adapters(self, names, adapter_weights):
            pass

        def unload_lora_weights(self):
            pass

    def no_media(key):
        raise AssertionError("a path is not a media key")

    worker_dir = tmp_path / "loras"
    worker_dir.mkdir()
    (worker_dir / "ada.safetensors").write_bytes(safetensors_bytes())
    monkeypatch.setenv("SLATE_LORA_DIR", str(worker_dir))
    errors = []
    for path in (elsewhere / "secret.safetensors", elsewhere / "missing.safetensors"):
        pipe = Pipe()
        with pytest.raises(ValueError) as err, lora_adapters(pipe, [{"name": "Ada", "path": str(path), "weight": 1.0}],
                                                             no_media):  # fmt: skip
            pass
        errors.append(str(err.value))
        assert pipe.loaded == []
    assert errors[0] == errors[1] == f"the LoRA of Ada: {OUTSIDE}"
    pipe = Pipe()
    with lora_adapters(pipe, [{"name": "Ada", "path": "ada.safetensors", "weight": 1.0}], no_media) as names:
        assert names == ["slate_lora_0"] and pipe.loaded == names
