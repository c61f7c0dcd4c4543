#!/usr/bin/env python3
"""Storyboard page benchmark: how long the board of a feature-sized project takes to render.

It seeds a fresh database (PostgreSQL database `slate_bench` on the test server when one answers,
else a new SQLite file) with a project of 40 scenes, 300 shots and 30 characters with reference
images (looks, locations, a default style, coverage sets), starts the app in a real uvicorn server
on a free local port, signs in, and measures in one run, interleaved:

* GET /projects/{id}/storyboard  (the page: every scene and shot card)
* GET /healthz                   (a trivial route of the same app, through the same stack)

It prints the median and p95 of each and their ratios, and the bytes of the page on the wire with and
without `Accept-Encoding: gzip`. Targets: page p95 < 150 ms, ratio < 15, page under 60 KiB on the wire.

    .venv/bin/python bench/storyboard.py [--requests 30] [--sqlite] [--testclient]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import random
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SCENES, SHOTS, CHARACTERS, LOCATIONS = 40, 300, 30, 8
HEADINGS = ["INT. KITCHEN - NIGHT", "EXT. LIGHTHOUSE - NIGHT", "EXT. ROCKS - DAWN", "INT. LAMP ROOM - NIGHT",
            "EXT. PIER - DAY", "INT. STAIRWELL - CONTINUOUS", "EXT. CLIFF PATH - DUSK",
            "INT. BOAT CABIN - NIGHT"]
ACTIONS = ["She pulls the door shut against the wind and leans on it, breathing hard.",
           "The lamp turns, its beam sweeping across black water and the rocks below.",
           "He sets two cups on the table, hesitates, and puts one back.",
           "Rain streaks the glass. Far out, a small light blinks and goes out.",
           "The girl climbs the last steps, soaked, holding the rail with both hands."]  # fmt: skip


def postgres_server() -> str | None:
    """The test PostgreSQL server's URL when it answers."""
    server = os.environ.get("SLATE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")
    import sqlalchemy as sa

    try:
        engine = sa.create_engine(f"{server}/postgres", connect_args={"connect_timeout": 2})
        with engine.connect():
            pass
        engine.dispose()
        return server
    except sa.exc.OperationalError:
        return None


def database(use_sqlite: bool, data_dir: Path) -> tuple[str, str, callable]:
    """(url, description, cleanup) of a fresh, migrated database."""
    from app.migrate import upgrade

    server = None if use_sqlite else postgres_server()
    if server is None:
        url = f"sqlite:///{(data_dir / 'bench.db').as_posix()}"
        upgrade(url)
        return url, "SQLite (fresh file)", lambda: None
    os.environ.setdefault("SLATE_TEST_PG", server)
    from tests.conftest import recreate_database  # noqa: E402  (sets test environment variables; harmless here)

    url = recreate_database("slate_bench")
    upgrade(url)
    name = url.rsplit("/", 1)[1]

    def drop() -> None:
        import sqlalchemy as sa

        from app.db import engine_for

        engine_for(url).dispose()
        admin = sa.create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url, f"PostgreSQL (database {name})", drop


def seed(url: str) -> tuple[int, str]:
    """The feature-sized project; returns (project id, session cookie of its owner)."""
    from PIL import Image

    from app import models  # noqa: F401
    from app.auth import service as auth_service
    from app.auth.models import User
    from app.characters.models import Character, Look, ReferenceImage
    from app.db import engine_for, session_factory
    from app.design.models import Location, StylePreset
    from app.media.service import store_image
    from app.projects import service as project_service
    from app.storyboard import service

    def png(seed_: int) -> bytes:
        rng = random.Random(seed_)
        buf = io.BytesIO()
        Image.new("RGB", (96, 54), tuple(rng.randrange(256) for _ in range(3))).save(buf, "PNG")
        return buf.getvalue()

    rng = random.Random(7)
    db = session_factory(engine_for(url))()
    user = User(email="bench@example.com", display_name="Bench Director", password_hash="-", is_admin=True)
    db.add(user)
    db.flush()
    project = project_service.create_project(db, actor=user, name="The Lighthouse Keeper (bench)")
    db.add(StylePreset(project_id=project.id, name="Vision3 500T", prompt_fragment="35mm film, Kodak Vision3 500T",
                       negative_fragment="digital look", is_default=True))  # fmt: skip
    characters, looks = [], []
    for i in range(CHARACTERS):
        c = Character(project_id=project.id, name=f"Character {i + 1}", name_key=f"character {i + 1}",
                      prompt_fragment=f"person {i + 1}, distinctive face",
                      negative_fragment="extra fingers")
        db.add(c)
        db.flush()
        asset = store_image(db, project_id=project.id, data=png(i), filename=f"c{i}.png", actor=user)
        db.add(ReferenceImage(project_id=project.id, asset_id=asset.id, character_id=c.id))
        look = Look(project_id=project.id, character_id=c.id, name="Storm gear", prompt_fragment="yellow oilskin")
        db.add(look)
        db.flush()
        if i % 2:
            asset = store_image(db, project_id=project.id, data=png(1000 + i), filename=f"l{i}.png", actor=user)
            db.add(ReferenceImage(project_id=project.id, asset_id=asset.id, character_id=c.id, look_id=look.id))
        characters.append(c)
        looks.append(look)
    locations = []
    for i in range(LOCATIONS):
        loc = Location(project_id=project.id, name=f"Place {i + 1}", name_key=f"place {i + 1}",
                       prompt_fragment=f"place {i + 1}, weathered stone")  # fmt: skip
        db.add(loc)
        db.flush()
        asset = store_image(db, project_id=project.id, data=png(2000 + i), filename=f"p{i}.png", actor=user)
        db.add(ReferenceImage(project_id=project.id, asset_id=asset.id, location_id=loc.id))
        locations.append(loc)
    db.flush()
    scenes = [service.create_scene(db, actor=user, project=project, heading=HEADINGS[i % len(HEADINGS)],
                                   synopsis=f"Scene {i + 1} of the bench script.") for i in range(SCENES)]  # fmt: skip
    framings = ["EWS", "WS", "MS", "MCU", "CU", "OTS"]
    moves = ["static", "dolly_in", "pan_left", "handheld", "crane_up"]
    made = 0
    while made < SHOTS:
        scene = scenes[made % SCENES]
        cast = rng.sample(range(CHARACTERS), rng.choice([0, 1, 1, 2, 2, 3]))
        shot = service.create_shot(db, actor=user, scene=scene, values={
            "action": rng.choice(ACTIONS), "dialogue": "Hold on." if made % 4 == 0 else "",
            "character_ids": [characters[i].id for i in cast],
            "looks": {characters[i].id: looks[i].id for i in cast[:1]},
            "location_id": rng.choice(locations).id, "status": "ready" if made % 3 == 0 else "draft",
            "camera": {"framing": rng.choice(framings), "move": rng.choice(moves),
                       "lens_mm": rng.choice([24, 35, 50, 85])},
            "lighting": {"key": "low_key", "color": "blue_hour", "mood": "tense"}})  # fmt: skip
        made += 1
        if made % 25 == 0 and made + 4 <= SHOTS:
            made += len(service.create_coverage(db, actor=user, shot=shot))
    token, _ = auth_service.start_session(db, user=user)
    db.commit()
    count = len(service.load_shots(db, project_id=project.id))
    db.close()
    assert count == SHOTS, count
    return project.id, token


def free_port() -> int:
    with contextlib.closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * pct / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=30, help="timed requests per route (default 30)")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--sqlite", action="store_true", help="use a fresh SQLite file even if PostgreSQL answers")
    parser.add_argument("--testclient", action="store_true", help="call the app in-process instead of over HTTP")
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="slate-bench-"))
    url, described, cleanup = database(args.sqlite, data_dir)
    try:
        from app.config import Settings
        from app.deps import SESSION_COOKIE
        from app.main import create_app

        settings = Settings(env="test", data_dir=data_dir, database_url=url, broker_url="memory://",
                            embedded_worker=False, demo=False, secret_key="bench-secret-key-" + "x" * 40)  # fmt: skip
        app = create_app(settings)
        t0 = time.perf_counter()
        project_id, token = seed(url)
        print(f"database: {described}; seeded {SCENES} scenes, {SHOTS} shots, {CHARACTERS} characters "
              f"in {time.perf_counter() - t0:.1f} s")  # fmt: skip

        server = None
        if args.testclient:
            from fastapi.testclient import TestClient

            client = TestClient(app)
            how = "in-process TestClient"
        else:
            import httpx
            import uvicorn

            port = free_port()
            server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                                   access_log=False, lifespan="on"))  # fmt: skip
            threading.Thread(target=server.run, daemon=True).start()
            while not server.started:
                time.sleep(0.02)
            client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)
            how = f"uvicorn on 127.0.0.1:{port}, httpx keep-alive"
        client.cookies.set(SESSION_COOKIE, token)
        page_url = f"/projects/{project_id}/storyboard"

        def timed(path: str) -> float:
            start = time.perf_counter()
            r = client.get(path)
            elapsed = time.perf_counter() - start
            if r.status_code != 200:
                raise SystemExit(f"{path} answered {r.status_code}: {r.text[:200]}")
            return elapsed * 1000

        body = client.get(page_url).text
        cards = body.count('class="shot-card')
        wire = {}
        for encoding in ("gzip", "identity"):  # the body as sent, before the client unzips it
            with client.stream("GET", page_url, headers={"Accept-Encoding": encoding}) as r:
                wire[encoding] = (sum(len(chunk) for chunk in r.iter_raw()), r.headers.get("content-encoding"))
        for _ in range(args.warmup):
            timed(page_url)
            timed("/healthz")
        page, health = [], []
        for _ in range(args.requests):  # interleaved, so both see the same machine state
            health.append(timed("/healthz"))
            page.append(timed(page_url))
        if server is not None:
            server.should_exit = True
            time.sleep(0.2)

        pm, pp = statistics.median(page), percentile(page, 95)
        hm, hp = statistics.median(health), percentile(health, 95)
        print(f"client: {how}; {args.requests} timed requests per route after {args.warmup} warm-up each")
        print(f"storyboard page ({cards} cards, {len(body) // 1024} KiB): median {pm:7.2f} ms   p95 {pp:7.2f} ms")
        print(f"/healthz                                 : median {hm:7.2f} ms   p95 {hp:7.2f} ms")
        print(f"ratio page/healthz: median {pm / hm:5.1f}   p95 {pp / hp:5.1f}")
        zipped, plain = wire["gzip"][0], wire["identity"][0]
        print(f"storyboard page on the wire: {plain / 1024:.1f} KiB plain, {zipped / 1024:.1f} KiB gzipped "
              f"(content-encoding {wire['gzip'][1]}; {plain / zipped:.1f}x smaller)")  # fmt: skip
        ok = pp < 150 and pm / hm < 15 and zipped < 60 * 1024
        print(f"targets (page p95 < 150 ms, median ratio < 15, under 60 KiB on the wire): {'met' if ok else 'NOT met'}")
        return 0 if ok else 1
    finally:
        cleanup()


if __name__ == "__main__":
    raise SystemExit(main())
