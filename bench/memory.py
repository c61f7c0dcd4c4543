#!/usr/bin/env python3
"""Memory: the peak resident size of `slate up` (web and embedded worker in one process) rendering a big job.

Path: a fresh subprocess builds the embedded studio (SQLite in a temporary folder, the in-process
broker and worker, the animatic engine), signs up, makes a shot and queues one job through
POST /api/v1/shots/{id}/generate; the worker thread renders, encodes and stores every take. The
process's peak resident size (`resource.getrusage(RUSAGE_SELF).ru_maxrss`) is read before the job
(after a warm-up job of one tiny take) and after it. The figure that matters is the peak after the
job; the baseline says how much of it is the studio itself.

    .venv/bin/python bench/memory.py                       # 16 takes, 1280x720, 97 frames (4 s at 24 fps)
    .venv/bin/python bench/memory.py --frames 257           # the default per-take limit
    .venv/bin/python bench/memory.py --repo /tmp/old-slate  # the same job on another checkout (before/after)

Needs nothing outside the process (no PostgreSQL, no Redis).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse battery"


def _peak_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def child(args: argparse.Namespace) -> None:
    """Runs in the measured process: the embedded studio and one job."""
    sys.path.insert(0, str(Path(args.repo).resolve()))
    os.environ.setdefault("SLATE_JOB_RECONCILE_S", "3600")
    os.environ.setdefault("SLATE_JOB_RATE_PER_MINUTE", "0")
    from fastapi.testclient import TestClient

    from app.config import Settings
    from app.main import create_app
    from app.migrate import upgrade

    tmp = Path(tempfile.mkdtemp(prefix="slate-bench-memory-"))
    settings = Settings(data_dir=tmp, database_url=f"sqlite:///{tmp}/slate.db", broker_url="memory://",
                        embedded_worker=True, secret_key="", env="development", demo=False, _env_file=None)  # fmt: skip
    upgrade(settings.database_url)
    with TestClient(create_app(settings)) as api:
        api.post("/api/v1/auth/register", json={"email": "mem@example.com", "password": PASSWORD,
                                                 "display_name": "Mem"})  # fmt: skip
        token = api.post("/api/v1/auth/tokens", json={"email": "mem@example.com", "password": PASSWORD,
                                                        "name": "bench"}).json()["token"]  # fmt: skip
        h = {"Authorization": f"Bearer {token}"}
        project = api.post("/api/v1/projects", json={"name": "Memory"}, headers=h).json()
        scene = api.post(f"/api/v1/projects/{project['id']}/scenes", json={"heading": "EXT. FIELD - DAY"},
                         headers=h).json()  # fmt: skip

        def shot(width: int, height: int, frames: int) -> dict:
            r = api.post(f"/api/v1/scenes/{scene['id']}/shots", headers=h, json={
                "action": "A long slow push across the field.", "width": width, "height": height, "fps": 24,
                "duration_s": round(frames / 24, 3), "camera": {"move": "dolly_in"}})  # fmt: skip
            assert r.status_code in (200, 201), r.text
            return r.json()

        def run(shot_id: int, takes: int) -> tuple[dict, float]:
            t0 = time.perf_counter()
            r = api.post(f"/api/v1/shots/{shot_id}/generate", json={"takes": takes, "model": "animatic", "seed": 1},
                         headers=h)  # fmt: skip
            if r.status_code != 202:
                return {"status": f"refused {r.status_code}", "error": r.text}, 0.0
            job_id = r.json()["id"]
            while True:
                job = api.get(f"/api/v1/jobs/{job_id}", headers=h).json()
                if job["status"] not in ("queued", "running"):
                    return job, time.perf_counter() - t0
                time.sleep(0.2)

        warm, _ = run(shot(64, 64, 17)["id"], 1)  # imports, engine and encoder warm
        baseline = _peak_mb()
        job, seconds = run(shot(args.width, args.height, args.frames)["id"], args.takes)
        peak = _peak_mb()
    print(json.dumps({
        "repo": str(Path(args.repo).resolve()), "takes": args.takes, "size": f"{args.width}x{args.height}",
        "frames": args.frames, "warm_status": warm["status"], "status": job["status"], "error": job.get("error"),
        "takes_stored": len(job.get("takes") or []), "seconds": round(seconds, 1),
        "baseline_peak_mb": round(baseline), "peak_mb": round(peak),
    }))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--takes", type=int, default=16)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--frames", type=int, default=97)
    parser.add_argument("--repo", default=str(ROOT), help="the checkout whose code is measured")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    # a fresh process, so the peak is this job's and nothing earlier's
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", "--takes", str(args.takes),
           "--width", str(args.width), "--height", str(args.height), "--frames", str(args.frames),
           "--repo", args.repo]  # fmt: skip
    out = subprocess.run(cmd, cwd=args.repo, capture_output=True, text=True, check=False)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode != 0 or not lines:
        sys.exit(f"the measured process failed ({out.returncode}):\n{out.stderr[-4000:]}")
    result = json.loads(lines[-1])
    print(json.dumps(result, indent=2))
    print(f"{result['takes']} takes {result['size']} x {result['frames']} frames: {result['status']} "
          f"({result['takes_stored']} takes stored, {result['seconds']} s); peak RSS {result['peak_mb']} MB "
          f"(the studio alone: {result['baseline_peak_mb']} MB)")  # fmt: skip


if __name__ == "__main__":
    main()
