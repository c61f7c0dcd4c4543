#!/usr/bin/env python3
"""Orchestration: the takes of one shot through the whole generation path against direct engine calls.

Path: POST /api/v1/shots/{id}/generate over real HTTP (uvicorn on a free local port), the job row
in PostgreSQL, the message through Redis to a warm `slate worker --pool solo` subprocess rendering
with tiny LTX (built offline with `make_tiny`), encoding (H.264, poster, filmstrip, last frame)
into the media store, take rows, throttled progress and live events through Redis pub/sub to an
open SSE stream; the clock stops when that stream says the job `succeeded` (as a page sees it).
Direct: the same spec (taken from the job) rendered by `LtxEngine.render` in this process and
each take encoded the same way. Each side runs once to warm up, then `--repeats` times,
alternating; the best of each counts. Target: path / direct at most 1.15.

Warm model: the second job on the warm worker (its first measured run) spends what share of its
time (task start to finish, from the job's `timings`) before the first denoising step? Target < 5%.

    .venv/bin/python bench/orchestration.py            # 8 takes, 256x256, 65 frames, 8 steps
    .venv/bin/python bench/orchestration.py --size 128x128 --frames 33

Needs PostgreSQL (SLATE_TEST_PG, default postgresql+psycopg://postgres@127.0.0.1:5432; database
`slate_bench_orchestration` is recreated) and Redis on 127.0.0.1:6379 (database 11 is flushed).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

REDIS = "redis://127.0.0.1:6379/11"
PASSWORD = "correct horse battery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fresh_database(name: str) -> str:
    import sqlalchemy as sa

    server = os.environ.get("SLATE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")
    admin = sa.create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return f"{server}/{name}"


def wait_for(check, timeout: float, what: str, poll: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(poll)
    raise SystemExit(f"timed out waiting for {what}")


class Worker:
    def __init__(self, env: dict[str, str]) -> None:
        self.lines: list[str] = []
        slate = str(Path(sys.executable).parent / "slate")
        self.proc = subprocess.Popen([slate, "worker", "--queues", "gen.ltx", "--pool", "solo", "--hostname",
                                      "bench@%h", "--loglevel", "INFO"], env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)  # fmt: skip
        threading.Thread(target=lambda: self.lines.extend(self.proc.stdout), daemon=True).start()
        wait_for(lambda: any(" ready." in line for line in self.lines) or self.proc.poll() is not None, 120,
                 "the worker")  # fmt: skip
        if self.proc.poll() is not None:
            raise SystemExit("the worker did not start:\n" + "".join(self.lines))

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--takes", type=int, default=8)
    ap.add_argument("--size", default="256x256", help="WxH of the shot (LTX: multiples of 32)")
    ap.add_argument("--frames", type=int, default=65, help="frames (LTX: 8k+1)")
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--poll", type=float, default=2.0, help="seconds between fallback polls of the job")
    args = ap.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))
    fps = 24.0

    import httpx
    import redis
    import uvicorn

    from workers.engines.tiny import make_tiny

    tmp = Path(tempfile.mkdtemp(prefix="slate-bench-orch-"))
    folder = make_tiny("ltx", tmp / "ltx-tiny")
    models = tmp / "models.toml"
    models.write_text(f"[models.ltx]\ndefault_steps = {args.steps}\n")
    os.environ.update(SLATE_MODEL_LTX_FOLDER=str(folder), SLATE_MODELS_FILE=str(models))
    db_url = fresh_database("slate_bench_orchestration")
    redis.Redis.from_url(REDIS).flushdb()

    from app.config import Settings
    from app.main import create_app
    from app.migrate import upgrade
    from workers.celery_app import configure
    from workers.engines.registry import reload_registry

    reload_registry()
    upgrade(db_url)
    settings = Settings(database_url=db_url, broker_url=REDIS, redis_url=REDIS, data_dir=tmp / "data",
                        embedded_worker=False, secret_key="b" * 40, env="test", demo=False, _env_file=None)  # fmt: skip
    configure(settings)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLATE_")}
    env.update(SLATE_DATABASE_URL=db_url, SLATE_BROKER_URL=REDIS, SLATE_REDIS_URL=REDIS,
               SLATE_DATA_DIR=str(tmp / "data"), SLATE_MODEL_LTX_FOLDER=str(folder), SLATE_MODELS_FILE=str(models),
               SLATE_ENV="test", SLATE_SECRET_KEY="b" * 40)  # fmt: skip
    print(f"tiny LTX, {args.takes} takes of {width}x{height}, {args.frames} frames, {args.steps} steps; "
          f"{os.cpu_count()} CPU cores")  # fmt: skip
    worker = Worker(env)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    wait_for(lambda: server.started, 30, "the web server")
    base = f"http://127.0.0.1:{port}"
    events: list[str] = []
    try:
        with httpx.Client(base_url=base, timeout=60) as api:
            api.post("/api/v1/auth/register", json={"email": "bench@example.com", "password": PASSWORD,
                                                     "display_name": "Bench"})  # fmt: skip
            token = api.post("/api/v1/auth/tokens", json={"email": "bench@example.com", "password": PASSWORD,
                                                            "name": "bench"}).json()["token"]  # fmt: skip
            h = {"Authorization": f"Bearer {token}"}
            project = api.post("/api/v1/projects", json={"name": "Bench", "gpu_budget_s": 1_000_000}, headers=h).json()
            scene = api.post(f"/api/v1/projects/{project['id']}/scenes", json={"heading": "INT. LAMP ROOM - NIGHT"},
                             headers=h).json()  # fmt: skip
            shot = api.post(f"/api/v1/scenes/{scene['id']}/shots", headers=h, json={
                "action": "The keeper climbs the spiral stairs, lamp in hand.", "width": width, "height": height,
                "fps": fps, "duration_s": round(args.frames / fps, 4),
                "camera": {"move": "dolly_in"}}).json()  # fmt: skip

            finished: dict[int, threading.Event] = {}

            def sse() -> None:  # an open browser of the project: job and take events arrive here
                kind = ""
                with httpx.stream("GET", f"{base}/projects/{project['id']}/events", headers=h, timeout=None) as r:
                    for line in r.iter_lines():
                        if line.startswith("event:"):
                            kind = line.split(":", 1)[1].strip()
                            events.append(kind)
                        elif line.startswith("data:") and kind == "job":
                            data = json.loads(line.split(":", 1)[1])
                            if data["status"] not in ("queued", "running"):
                                finished.setdefault(data["id"], threading.Event()).set()

            threading.Thread(target=sse, daemon=True).start()
            wait_for(lambda: "ready" in events, 10, "the event stream")

            def through_the_path() -> tuple[float, dict]:
                started = time.perf_counter()
                r = api.post(f"/api/v1/shots/{shot['id']}/generate", headers=h,
                             json={"takes": args.takes, "model": "ltx", "seed": 1000})  # fmt: skip
                r.raise_for_status()
                job_id = r.json()["id"]
                done = finished.setdefault(job_id, threading.Event())
                while not done.wait(args.poll):  # the live event ends the wait; a poll now and then is the fallback
                    if api.get(f"/api/v1/jobs/{job_id}", headers=h).json()["status"] not in ("queued", "running"):
                        break
                elapsed = time.perf_counter() - started
                job = api.get(f"/api/v1/jobs/{job_id}", headers=h).json()
                if job["status"] != "succeeded" or len(job["takes"]) != args.takes:
                    raise SystemExit(f"job {job_id} ended {job['status']}: {job['error']}")
                return elapsed, job

            first_elapsed, first_job = through_the_path()  # the worker's first job (its model is already warm)
            spec_data = first_job["spec"]

            from app.media.store import LocalMediaStore
            from workers import media
            from workers.engines.ltx import LtxEngine
            from workers.spec import RenderSpec

            engine = LtxEngine()
            store = LocalMediaStore(tmp / "direct-media")
            spec = RenderSpec.from_dict(spec_data)

            def direct() -> float:
                started = time.perf_counter()
                for frames in engine.render(spec):
                    with tempfile.TemporaryDirectory(prefix="slate-direct-") as d:
                        info = media.encode_mp4(frames, fps=spec.fps, path=Path(d) / "take.mp4")
                        store.put(info.path.read_bytes(), "mp4")
                    store.put(media.poster_jpeg(frames), "jpg")
                    store.put(media.filmstrip_jpeg(frames)[0], "jpg")
                    store.put(media.last_frame_png(frames), "png")
                return time.perf_counter() - started

            direct()  # warm-up
            path_times, direct_times, jobs = [], [], []
            for _ in range(args.repeats):
                elapsed, job = through_the_path()
                path_times.append(elapsed)
                jobs.append(job)
                direct_times.append(direct())
    finally:
        server.should_exit = True
        worker.stop()
        configure()

    best_path, best_direct = min(path_times), min(direct_times)
    second = jobs[0]["timings"]
    share = second["before_first_step_s"] / second["total_s"]
    print(f"first job on the worker:  {first_elapsed:.2f} s (not counted)")
    print(f"whole path:  {', '.join(f'{t:.2f}' for t in path_times)} s  (best {best_path:.2f} s)")
    print(f"direct:      {', '.join(f'{t:.2f}' for t in direct_times)} s  (best {best_direct:.2f} s)")
    print(f"ratio path / direct: {best_path / best_direct:.3f}  (target <= 1.15; median "
          f"{statistics.median(path_times) / statistics.median(direct_times):.3f})")  # fmt: skip
    print(f"warm model, second job on the worker: {second['before_first_step_s'] * 1000:.0f} ms before the first "
          f"denoising step of {second['total_s']:.2f} s = {share * 100:.2f}% (target < 5%); queue wait "
          f"{second['queue_wait_s'] * 1000:.0f} ms, render {second['render_s']:.2f} s, "
          f"encode {second['encode_s']:.2f} s")  # fmt: skip
    print(f"events on the open SSE stream: {events.count('job')} job, {events.count('take')} take, "
          f"{events.count('activity')} activity")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
