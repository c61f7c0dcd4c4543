#!/usr/bin/env python3
"""Orchestration: the takes of one shot through the whole generation path against direct engine calls.

Path: POST /api/v1/shots/{id}/generate over real HTTP (uvicorn on a free local port), the job row
in PostgreSQL, the message through Redis to a warm `slate worker --pool solo` subprocess rendering
with tiny LTX (built offline with `make_tiny`; `--folder` names another LTX folder), encoding
(H.264, poster, filmstrip, last frame) into the media store, take rows, throttled progress and live
events through Redis pub/sub to an open SSE stream; the clock stops when that stream says the job
`succeeded` (as a page sees it).
Direct: the same spec (taken from the job), in this process, on the engine the worker would load
(`workers.engines.loader.get_engine`: the same model settings and the same device, cuda where a GPU
exists), the takes in the chunks the worker renders (the model's `batch`), each take encoded with the
worker's `media.encode_take` and its four files put in a media store, one after the other (no overlap):
the same work, without the job, the queue, the database and the events.

Each side runs once to warm up, then `--repeats` times (at least 7 for a figure to keep), alternating
path, direct, path, direct...; each pair gives a ratio path / direct. Printed: the median ratio with
its spread (min-max and interquartile range). Target: median path / direct <= 1.10.

Warm model: the second job on the warm worker (its first measured run) spends what share of its
time (task start to finish, from the job's `timings`) before the first denoising step? Target < 5%.

    .venv/bin/python bench/orchestration.py            # 8 takes, 256x256, 65 frames, 8 steps, 7 repeats
    .venv/bin/python bench/orchestration.py --takes 2 --size 64x64 --frames 17 --steps 4   # a quick check
    python3 bench/orchestration.py --folder /models/LTX-Video --size 768x512 --frames 97 --steps 40 --takes 4

Needs PostgreSQL (SLATE_TEST_PG, default postgresql+psycopg://postgres@127.0.0.1:5432) and Redis
(--redis, default redis://127.0.0.1:6379). Each run makes its own PostgreSQL database
`slate_bench_orch_<random>` and claims an empty Redis database (never 0-1, the compose defaults, nor
12-14, the test suite's) with a claim key written only where the database is empty, so two runs on one
machine, and the tests, never share one. At the end (also after an error, Ctrl-C or SIGTERM) the worker
and the web server stop, the PostgreSQL database is dropped, the claimed Redis database is emptied
(everything in it is this run's) and the temporary folder is removed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
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

PASSWORD = "correct horse battery"
TARGET = 1.10
QUOTA_S = 10**9  # GPU-second quotas out of the way: a long run renders many jobs
MIN_REPEATS = 7
CLAIM_KEY = "slate:bench:orchestration:claim"
NOT_OURS = {0, 1, 12, 13, 14}  # compose's broker and events databases; the test suite's fixed ones


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pg_server() -> str:
    return os.environ.get("SLATE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")


def _admin(sql: str) -> None:
    import sqlalchemy as sa

    admin = sa.create_engine(f"{pg_server()}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(sql))
    finally:
        admin.dispose()


def create_database(name: str) -> str:
    """A new, empty PostgreSQL database `name` (unique to this run); its URL."""
    _admin(f'CREATE DATABASE "{name}"')
    return f"{pg_server()}/{name}"


def drop_database(name: str) -> None:
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def claim_redis_db(server: str, token: str) -> int:
    """The number of an empty Redis database, now marked as this run's with a claim key.

    The claim is written only if the key is absent (SET NX), and kept only if the database then holds
    nothing but it: a database someone else writes to, even at this moment, is left alone.
    """
    import redis

    probe = redis.Redis.from_url(f"{server}/0")
    try:
        count = int(probe.config_get("databases").get("databases", 16))
    except redis.ResponseError:  # CONFIG disabled on a managed server
        count = 16
    finally:
        probe.close()
    for number in sorted(set(range(count)) - NOT_OURS, reverse=True):
        client = redis.Redis.from_url(f"{server}/{number}")
        try:
            if client.dbsize() == 0 and client.set(CLAIM_KEY, token, nx=True, ex=24 * 3600):
                if client.dbsize() == 1:
                    return number
                release_redis_db(server, number, token, flush=False)  # someone else arrived at the same moment
        finally:
            client.close()
    raise SystemExit(f"no empty Redis database on {server} to claim (databases 0-{count - 1}, "
                     f"not {sorted(NOT_OURS)}); is another benchmark running?")  # fmt: skip


def release_redis_db(server: str, number: int, token: str, *, flush: bool = True) -> None:
    """Empty the database claimed with `token` (all of it is this run's), or leave it when the claim is not ours."""
    import redis

    client = redis.Redis.from_url(f"{server}/{number}")
    try:
        if client.get(CLAIM_KEY) != token.encode():
            print(f"Redis database {number}: the claim is no longer this run's; left as it is", file=sys.stderr)
        elif flush:
            client.flushdb()
        else:
            client.delete(CLAIM_KEY)
    finally:
        client.close()


def wait_for(check, timeout: float, what: str, poll: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(poll)
    raise SystemExit(f"timed out waiting for {what}")


class Worker:
    """`slate worker --pool solo` on the gen.ltx queue, as a subprocess; `stop()` always ends it."""

    def __init__(self, env: dict[str, str]) -> None:
        self.lines: list[str] = []
        slate = str(Path(sys.executable).parent / "slate")
        self.proc = subprocess.Popen([slate, "worker", "--queues", "gen.ltx", "--pool", "solo", "--hostname",
                                      "bench@%h", "--loglevel", "INFO"], env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)  # fmt: skip
        threading.Thread(target=lambda: self.lines.extend(self.proc.stdout), daemon=True).start()

    def wait_ready(self) -> None:
        wait_for(lambda: any(" ready." in line for line in self.lines) or self.proc.poll() is not None, 120,
                 "the worker")  # fmt: skip
        if self.proc.poll() is not None:
            raise SystemExit("the worker did not start:\n" + "".join(self.lines))

    def stop(self) -> None:
        if self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def quartiles(values: list[float]) -> tuple[float, float]:
    if len(values) < 2:
        return values[0], values[0]
    q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q3


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--takes", type=int, default=8)
    ap.add_argument("--size", default="256x256", help="WxH of the shot (LTX: multiples of 32)")
    ap.add_argument("--frames", type=int, default=65, help="frames (LTX: 8k+1)")
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=MIN_REPEATS,
                    help=f"measured pairs (path, direct); fewer than {MIN_REPEATS}: a check that it runs")
    ap.add_argument("--poll", type=float, default=2.0, help="seconds between fallback polls of the job")
    ap.add_argument("--folder", type=Path, help="an LTX diffusers folder for both sides (default: a tiny one)")
    ap.add_argument("--redis", default="redis://127.0.0.1:6379", help="the Redis server (a database is claimed)")
    args = ap.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))
    if args.repeats < 1 or args.takes < 1:
        ap.error("--repeats and --takes must be at least 1")
    signal.signal(signal.SIGTERM, interrupted)
    try:
        with contextlib.ExitStack() as cleanup:
            return run(args, width, height, cleanup)
    except KeyboardInterrupt:
        print("interrupted: worker stopped, databases dropped, files removed", file=sys.stderr)
        return 130


def interrupted(signum: int, frame: object) -> None:
    """SIGTERM ends the run the way Ctrl-C does: through the clean-up."""
    raise KeyboardInterrupt


def run(args: argparse.Namespace, width: int, height: int, cleanup: contextlib.ExitStack) -> int:
    fps = 24.0
    suffix = secrets.token_hex(4)
    tmp = Path(tempfile.mkdtemp(prefix=f"slate-bench-orch-{suffix}-"))
    cleanup.callback(shutil.rmtree, tmp, ignore_errors=True)

    import httpx
    import uvicorn

    from workers.engines.tiny import make_tiny

    db_name = f"slate_bench_orch_{suffix}"
    db_url = create_database(db_name)
    cleanup.callback(drop_database, db_name)
    token = f"{socket.gethostname()}:{os.getpid()}:{suffix}"
    redis_db = claim_redis_db(args.redis.rstrip("/"), token)
    cleanup.callback(release_redis_db, args.redis.rstrip("/"), redis_db, token)
    redis_url = f"{args.redis.rstrip('/')}/{redis_db}"

    folder = args.folder.resolve() if args.folder else make_tiny("ltx", tmp / "ltx-tiny")
    models = tmp / "models.toml"
    models.write_text(f"[models.ltx]\ndefault_steps = {args.steps}\n")
    saved_env = {k: os.environ.get(k) for k in ("SLATE_MODEL_LTX_FOLDER", "SLATE_MODELS_FILE")}
    os.environ.update(SLATE_MODEL_LTX_FOLDER=str(folder), SLATE_MODELS_FILE=str(models))
    cleanup.callback(lambda: [os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
                              for k, v in saved_env.items()])  # fmt: skip

    from app.config import Settings
    from app.main import create_app
    from app.migrate import upgrade
    from workers.celery_app import configure
    from workers.engines.registry import get_model, reload_registry

    reload_registry()
    upgrade(db_url)
    settings = Settings(database_url=db_url, broker_url=redis_url, redis_url=redis_url, data_dir=tmp / "data",
                        embedded_worker=False, secret_key="b" * 40, env="test", demo=False, _env_file=None,
                        quota_project_gpu_s_month=QUOTA_S, quota_user_gpu_s_day=QUOTA_S)  # fmt: skip
    configure(settings)
    cleanup.callback(configure)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLATE_")}
    env.update(SLATE_DATABASE_URL=db_url, SLATE_BROKER_URL=redis_url, SLATE_REDIS_URL=redis_url,
               SLATE_DATA_DIR=str(tmp / "data"), SLATE_MODEL_LTX_FOLDER=str(folder), SLATE_MODELS_FILE=str(models),
               SLATE_ENV="test", SLATE_SECRET_KEY="b" * 40, SLATE_QUOTA_PROJECT_GPU_S_MONTH=str(QUOTA_S),
               SLATE_QUOTA_USER_GPU_S_DAY=str(QUOTA_S))  # fmt: skip

    from workers.engines.loader import default_device

    device = default_device(get_model("ltx"))
    what = "tiny LTX" if args.folder is None else f"LTX from {folder}"
    print(f"{what}, {args.takes} takes of {width}x{height}, {args.frames} frames, {args.steps} steps; "
          f"{os.cpu_count()} CPU cores; device {device} (worker and direct side); PostgreSQL database {db_name}, "
          f"Redis database {redis_db}")  # fmt: skip
    worker = Worker(env)
    cleanup.callback(worker.stop)
    worker.wait_ready()
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    cleanup.callback(setattr, server, "should_exit", True)
    wait_for(lambda: server.started, 30, "the web server")
    base = f"http://127.0.0.1:{port}"
    events: list[str] = []

    api = cleanup.enter_context(httpx.Client(base_url=base, timeout=60))
    api.post("/api/v1/auth/register", json={"email": "bench@example.com", "password": PASSWORD,
                                             "display_name": "Bench"})  # fmt: skip
    token_api = api.post("/api/v1/auth/tokens", json={"email": "bench@example.com", "password": PASSWORD,
                                                      "name": "bench"}).json()["token"]  # fmt: skip
    h = {"Authorization": f"Bearer {token_api}"}
    project = api.post("/api/v1/projects", json={"name": "Bench"}, headers=h).json()
    scene = api.post(f"/api/v1/projects/{project['id']}/scenes", json={"heading": "INT. LAMP ROOM - NIGHT"},
                     headers=h).json()  # fmt: skip
    shot = api.post(f"/api/v1/scenes/{scene['id']}/shots", headers=h, json={
        "action": "The keeper climbs the spiral stairs, lamp in hand.", "width": width, "height": height,
        "fps": fps, "duration_s": round(args.frames / fps, 4), "camera": {"move": "dolly_in"}}).json()  # fmt: skip

    finished: dict[int, threading.Event] = {}

    def sse() -> None:  # an open browser of the project: job and take events arrive here
        kind = ""
        with contextlib.suppress(httpx.HTTPError):  # the server going away at the end closes the stream
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

    from app.media.store import LocalMediaStore
    from workers import media
    from workers.engines import loader
    from workers.spec import RenderSpec

    engine = loader.get_engine("ltx")  # what the worker loaded: same settings, same device
    store = LocalMediaStore(tmp / "direct-media")
    spec = RenderSpec.from_dict(first_job["spec"])  # the same size, frames, steps and seeds as the path

    direct_render: list[float] = []

    # the takes the worker hands the engine at once (the model's `batch`; all of them where there is no such setting)
    size = max(getattr(get_model("ltx"), "batch", None) or len(spec.seeds), 1)
    parts = [spec.with_seeds(spec.seeds[i:i + size]) for i in range(0, len(spec.seeds), size)]

    def direct() -> float:
        started, rendering = time.perf_counter(), 0.0
        for part in parts:
            render_started = time.perf_counter()
            takes = engine.render(part)
            rendering += time.perf_counter() - render_started
            for frames in takes:
                with tempfile.TemporaryDirectory(prefix="slate-direct-") as d:  # where the worker encodes too
                    out = media.encode_take(frames, count=len(frames), fps=spec.fps, path=Path(d) / "take.mp4")
                    store.put(out.video.path.read_bytes(), "mp4")
                store.put(out.poster_jpeg, "jpg")
                store.put(out.filmstrip_jpeg, "jpg")
                store.put(out.last_frame_png, "png")
            del takes
        direct_render.append(rendering)
        return time.perf_counter() - started

    direct()  # warm-up
    direct_render.clear()
    path_times, direct_times, jobs = [], [], []
    for i in range(args.repeats):
        elapsed, job = through_the_path()
        path_times.append(elapsed)
        jobs.append(job)
        direct_times.append(direct())
        print(f"  pair {i + 1}/{args.repeats}: path {elapsed:.2f} s, direct {direct_times[-1]:.2f} s, "
              f"ratio {elapsed / direct_times[-1]:.3f}", flush=True)  # fmt: skip

    ratios = [p / d for p, d in zip(path_times, direct_times)]
    median = statistics.median(ratios)
    q1, q3 = quartiles(ratios)
    verdict = "met" if median <= TARGET else "not met"
    if args.repeats < MIN_REPEATS:
        verdict = f"not judged: {args.repeats} pairs, fewer than {MIN_REPEATS}"
    print(f"first job on the worker:  {first_elapsed:.2f} s (not counted)")
    print(f"whole path: median {statistics.median(path_times):.2f} s ({min(path_times):.2f}-{max(path_times):.2f})"
          f"  [{', '.join(f'{t:.2f}' for t in path_times)}]")  # fmt: skip
    print(f"direct:     median {statistics.median(direct_times):.2f} s ({min(direct_times):.2f}-"
          f"{max(direct_times):.2f})  [{', '.join(f'{t:.2f}' for t in direct_times)}]  ({size} take(s) a render "
          f"call, as the worker; encoded after each call, no overlap)")  # fmt: skip
    print(f"ratio path / direct over {args.repeats} alternated pairs: median {median:.3f}, min-max "
          f"{min(ratios):.3f}-{max(ratios):.3f}, IQR {q1:.3f}-{q3:.3f} (target: median <= {TARGET:.2f}; {verdict})")
    path_render = [t["render_s"] for t in (j.get("timings") or {} for j in jobs)
                   if isinstance(t.get("render_s"), int | float)]  # fmt: skip
    if path_render:
        print(f"rendering alone: the worker's (job timings) median {statistics.median(path_render):.2f} s "
              f"({min(path_render):.2f}-{max(path_render):.2f}), direct median {statistics.median(direct_render):.2f}"
              f" s ({min(direct_render):.2f}-{max(direct_render):.2f})")  # fmt: skip
    second = jobs[0].get("timings") or {}
    if {"before_first_step_s", "total_s"} <= second.keys() and second["total_s"]:
        share = second["before_first_step_s"] / second["total_s"]
        extra = ", ".join(f"{name} {second[key]:.2f} s" for name, key in
                          (("queue wait", "queue_wait_s"), ("render", "render_s"), ("encode", "encode_s"))
                          if isinstance(second.get(key), int | float))  # fmt: skip
        print(f"warm model, second job on the worker: {second['before_first_step_s'] * 1000:.0f} ms before the "
              f"first denoising step of {second['total_s']:.2f} s = {share * 100:.2f}% (target < 5%); {extra}")
    else:
        print(f"warm model: the job's timings do not say ({sorted(second)})")
    print(f"events on the open SSE stream: {events.count('job')} job, {events.count('take')} take, "
          f"{events.count('activity')} activity")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
