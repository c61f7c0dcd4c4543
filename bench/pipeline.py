#!/usr/bin/env python3
"""Pipeline: does encoding hide behind rendering? A job of 16 takes on an engine with a known render time per take.

The `sleepy` test engine (workers/engines/sleepy.py) "renders" each take in exactly `--render-s` seconds (a sleep in
steps, plus real frames of the shot's size, made inside that time), so the only other cost of a take is what the
worker does after it: finishing, H.264 encoding, poster, filmstrip, last frame, the media store, the take row. The job
runs through the real path of `slate up`: the API, its own SQLite database, the in-process broker and worker, the
render task, the media store. The clock runs from the POST to the job's end as the API reports it.

    ratio = wall time / (takes x render time)

Perfect overlap gives 1 + (one take's encode) / (takes x render time); no overlap about 1 + encode / render.
With overlap (the default, SLATE_JOB_OVERLAP_ENCODE=true) the target is a median ratio of at most 1.10; the same job
without overlap is measured alternately for comparison. Encoding hides only while it is faster than rendering: on a
busy or small CPU, where one take encodes slower than `--render-s`, the ratio is about encode / render instead.

    .venv/bin/python bench/pipeline.py                      # 16 takes, 768x512, 97 frames, 4 s a take, 3 repeats
    .venv/bin/python bench/pipeline.py --render-s 2 --size 384x256 --repeats 5

Everything lives in a temporary folder with a random name (database, media), removed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PASSWORD = "correct horse battery"
TARGET = 1.10


def _job(api, h: dict, shot_id: int, *, takes: int, overlap: bool) -> dict:
    os.environ["SLATE_JOB_OVERLAP_ENCODE"] = "true" if overlap else "false"  # read by the task at its start
    started = time.perf_counter()
    r = api.post(f"/api/v1/shots/{shot_id}/generate", json={"takes": takes, "model": "sleepy", "seed": 11},
                 headers=h)  # fmt: skip
    if r.status_code != 202:
        raise SystemExit(f"could not queue the job: {r.status_code} {r.text}")
    job_id = r.json()["id"]
    while True:
        job = api.get(f"/api/v1/jobs/{job_id}", headers=h).json()
        if job["status"] not in ("queued", "running"):
            break
        time.sleep(0.02)
    wall = time.perf_counter() - started
    if job["status"] != "succeeded" or len(job["takes"]) != takes:
        raise SystemExit(f"job {job_id} ended {job['status']} with {len(job['takes'])} takes: {job['error']}")
    return {"wall_s": wall, "timings": job["timings"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--takes", type=int, default=16)
    ap.add_argument("--size", default="768x512")
    ap.add_argument("--frames", type=int, default=97)
    ap.add_argument("--fps", type=int, default=24)
    ap.add_argument("--render-s", type=float, default=4.0, help="render time of one take (LTX compiled on an H200: 3.8)")
    ap.add_argument("--repeats", type=int, default=3, help="measured runs of each side, alternating")
    ap.add_argument("--only", choices=("overlap", "serial"), help="measure one side only")
    args = ap.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))

    tmp = Path(tempfile.mkdtemp(prefix="slate-bench-pipeline-"))  # a random name: runs never share a database
    os.environ.update(SLATE_JOB_PROGRESS_INTERVAL_S="0.5", SLATE_JOB_RECONCILE_S="3600")
    try:
        from fastapi.testclient import TestClient

        from app.config import Settings
        from app.main import create_app
        from app.migrate import upgrade
        from workers.engines.sleepy import SleepyEngine, install

        install(tmp)  # the test engine, in this process's registry only
        SleepyEngine.reset(take_seconds=args.render_s)
        settings = Settings(data_dir=tmp / "data", database_url=f"sqlite:///{tmp}/slate.db", broker_url="memory://",
                            embedded_worker=True, secret_key="", env="development", demo=False,
                            _env_file=None)  # fmt: skip
        upgrade(settings.database_url)
        with TestClient(create_app(settings)) as api:
            api.post("/api/v1/auth/register", json={"email": "bench@example.com", "password": PASSWORD,
                                                     "display_name": "Bench"})  # fmt: skip
            token = api.post("/api/v1/auth/tokens", json={"email": "bench@example.com", "password": PASSWORD,
                                                            "name": "bench"}).json()["token"]  # fmt: skip
            h = {"Authorization": f"Bearer {token}"}
            project = api.post("/api/v1/projects", json={"name": "Pipeline bench"}, headers=h).json()
            scene = api.post(f"/api/v1/projects/{project['id']}/scenes", json={"heading": "EXT. PIER - DAWN"},
                             headers=h).json()  # fmt: skip
            shot = api.post(f"/api/v1/scenes/{scene['id']}/shots", headers=h, json={
                "action": "Gulls lift off the pier.", "width": width, "height": height, "fps": args.fps,
                "duration_s": args.frames / args.fps}).json()  # fmt: skip
            if "id" not in shot:
                raise SystemExit(f"could not make the shot: {shot}")
            sides = [s for s in ("overlap", "serial") if args.only in (None, s)]
            _job(api, h, shot["id"], takes=2, overlap=True)  # warm up: model load, first encode
            ratios: dict[str, list[float]] = {s: [] for s in sides}
            encode: dict[str, list[float]] = {s: [] for s in sides}
            ideal = args.takes * args.render_s
            for i in range(args.repeats):
                for side in sides if i % 2 == 0 else sides[::-1]:
                    run = _job(api, h, shot["id"], takes=args.takes, overlap=side == "overlap")
                    ratios[side].append(run["wall_s"] / ideal)
                    encode[side].append(run["timings"]["encode_s"] / args.takes)
                    print(f"  {side:8s} run {i + 1}: {run['wall_s']:.1f} s, ratio {ratios[side][-1]:.3f}, "
                          f"encode {encode[side][-1]:.2f} s a take", file=sys.stderr, flush=True)  # fmt: skip
        result = {"takes": args.takes, "size": f"{width}x{height}", "frames": args.frames,
                  "render_s_per_take": args.render_s, "repeats": args.repeats, "cpus": os.cpu_count()}  # fmt: skip
        for side in sides:
            r = sorted(ratios[side])
            result[side] = {"median_ratio": round(statistics.median(r), 4), "min": round(r[0], 4),
                            "max": round(r[-1], 4), "spread": round(r[-1] - r[0], 4),
                            "encode_s_per_take": round(statistics.median(encode[side]), 3)}  # fmt: skip
        print(json.dumps(result, indent=2))
        for side in sides:
            s = result[side]
            verdict = (f"target <= {TARGET}: {'met' if s['median_ratio'] <= TARGET else 'NOT met'}"
                       if side == "overlap" else "for comparison")  # fmt: skip
            print(f"{side:8s}: wall / ({args.takes} x {args.render_s} s) = {s['median_ratio']:.3f} median "
                  f"(min {s['min']:.3f}, max {s['max']:.3f}; encode {s['encode_s_per_take']:.2f} s a take); "
                  f"{verdict}")  # fmt: skip
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
