"""Memory: a job at the work limits keeps `slate up` (web and embedded worker, one process) under its cap.

The job runs through the real path (API, the in-process broker and worker, the animatic's chunks, the
encoder, the media store) in a fresh process (`bench/memory.py`), whose peak resident size is read
from `getrusage`. Before takes were streamed, the two takes below alone held 1.4 GB of frames.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from app.generation import limits
from app.generation.service import JobSettings

ROOT = Path(__file__).resolve().parents[2]
CAP_MB = 1024  # peak RSS of the whole process (web and worker) for any accepted job; measured: 400-460 MB


def test_a_job_at_the_limits_stays_under_the_memory_cap():
    cfg = JobSettings(_env_file=None)
    frames = 257  # 1280x720 x 257 frames: a take at the per-take limit
    assert limits.megapixel_frames(1280, 720, frames) <= cfg.max_take_megapixel_frames
    assert frames / 24 <= cfg.max_duration_s
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "memory.py"), "--takes", "2", "--width", "1280",
                          "--height", "720", "--frames", str(frames)], cwd=ROOT, capture_output=True, text=True,
                         timeout=900, check=False)  # fmt: skip
    assert out.returncode == 0, out.stderr[-4000:]
    result, _ = json.JSONDecoder().raw_decode(out.stdout)
    print(f"\n2 takes of 1280x720 x 257 frames: peak RSS {result['peak_mb']} MB "
          f"(the studio alone {result['baseline_peak_mb']} MB), {result['seconds']} s")  # fmt: skip
    assert (result["status"], result["takes_stored"]) == ("succeeded", 2), result["error"]
    assert result["peak_mb"] < CAP_MB
