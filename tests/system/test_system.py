from app.system import service


def test_admin_sets_signup_mode(client, make_user, api_token):
    admin = make_user(admin=True)
    h = api_token(admin)
    assert client.put("/api/v1/system/signup-mode", json={"signup_mode": "invite"}, headers=h).json() == {
        "signup_mode": "invite"}  # fmt: skip
    assert client.put("/api/v1/system/signup-mode", json={"signup_mode": "closed"}, headers=h).status_code == 422
    other = make_user()
    assert client.get("/api/v1/system/signup-mode", headers=api_token(other)).status_code == 403


def test_probe_is_sent_only_after_commit(db, make_user):
    admin = make_user(admin=True)
    probe = service.request_probe(db, actor=admin)
    assert probe.status == "queued"
    assert len(db.info["after_commit"]) == 1  # waiting for the commit, not sent
    db.info.pop("after_commit")


def test_the_probe_is_sent_by_the_name_of_a_registered_task(db, make_user, monkeypatch):
    from app.system import tasks
    from workers.celery_app import celery

    sent = []
    monkeypatch.setattr(celery, "send_task", lambda name, **kw: sent.append((name, kw)))
    admin = make_user(admin=True)
    probe = service.request_probe(db, actor=admin, queue="gpu")
    for dispatch in db.info.pop("after_commit"):
        dispatch()
    assert sent == [(service.PROBE_TASK, {"args": [probe.id], "queue": "gpu"})]
    assert tasks.answer_probe.name == service.PROBE_TASK and service.PROBE_TASK in celery.tasks


def test_answering_twice_changes_nothing(db, make_user):
    admin = make_user(admin=True)
    probe = service.request_probe(db, actor=admin)
    db.info.pop("after_commit")
    service.answer_probe(db, probe_id=probe.id, worker="w1@host")
    first = probe.finished_at
    service.answer_probe(db, probe_id=probe.id, worker="w2@host")
    assert probe.worker == "w1@host" and probe.finished_at == first
    assert service.answer_probe(db, probe_id=10**9, worker="w") is None


def test_admin_disables_an_account(sign_in, make_user, client, api_token):
    admin = make_user(admin=True)
    victim = make_user()
    headers = api_token(victim)
    b = sign_in(admin)
    assert b.post(f"/admin/users/{victim.id}/active", data={"active": "0"}).status_code == 303
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 401
    assert b.post(f"/admin/users/{admin.id}/active", data={"active": "0"}).status_code == 409
