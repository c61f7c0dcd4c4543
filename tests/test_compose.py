"""docker-compose.yml, checked offline (no Docker engine needed).

Two layers: the compose specification's JSON schema (via check-jsonschema), and the rules the
schema cannot express: references between services, the Slate commands, healthchecks, the GPU
reservation and a required secret. Each rule is also shown to catch a broken copy of the file.
"""

from __future__ import annotations

import copy
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"

APP_SERVICES = {"migrate", "web", "gpu-worker", "media-worker"}
WORKERS = {"gpu-worker", "media-worker"}
REQUIRED_ENV = {
    "SLATE_ENV": "production",
    "SLATE_DATABASE_URL": "postgresql+psycopg://slate:slate@postgres:5432/slate",
    "SLATE_BROKER_URL": "redis://redis:6379/0",
    "SLATE_REDIS_URL": "redis://redis:6379/1",
    "SLATE_MEDIA_DIR": "/data/media",
}
# `${VAR?msg}` / `${VAR:?msg}`: compose refuses to start when VAR is unset (or empty).
REQUIRED_VAR = re.compile(r"\$\{SLATE_SECRET_KEY:?\?[^}]*\}")


# --- helpers ------------------------------------------------------------------------------------


def load(path: Path = COMPOSE_FILE) -> dict[str, Any]:
    # safe_load resolves YAML anchors, aliases and `<<` merge keys, as compose does.
    with path.open() as f:
        return yaml.safe_load(f)


def run_schema_check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec",
         str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def command_words(service: dict[str, Any]) -> list[str]:
    cmd = service.get("command")
    if cmd is None:
        return []
    return shlex.split(cmd) if isinstance(cmd, str) else [str(word) for word in cmd]


def environment(service: dict[str, Any]) -> dict[str, str | None]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        pairs = (item.split("=", 1) if "=" in item else (item, None) for item in env)
        return {key: value for key, value in pairs}
    return {key: (None if value is None else str(value)) for key, value in env.items()}


def depends_on(service: dict[str, Any]) -> dict[str, str]:
    """Dependency name -> condition (`service_started` for the short list form)."""
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return {name: "service_started" for name in deps}
    return {name: (spec or {}).get("condition", "service_started") for name, spec in deps.items()}


def volume_targets(service: dict[str, Any]) -> dict[str, str]:
    """Mount target -> source, for both the short ("src:dst[:mode]") and long syntax."""
    targets = {}
    for volume in service.get("volumes") or []:
        if isinstance(volume, str):
            parts = volume.split(":")
            if len(parts) >= 2:
                targets[parts[1]] = parts[0]
        else:
            targets[volume["target"]] = volume.get("source", "")
    return targets


def dig(mapping: Any, *keys: str) -> Any:
    """mapping[k1][k2]..., or None where a level is missing."""
    for key in keys:
        if not isinstance(mapping, dict):
            return None
        mapping = mapping.get(key)
    return mapping


def healthcheck_words(service: dict[str, Any]) -> list[str]:
    return command_words({"command": dig(service, "healthcheck", "test")})


def has_option(words: list[str], flag: str, value: str) -> bool:
    return any(a == flag and b == value for a, b in zip(words, words[1:]))


def uses_app_image(service: dict[str, Any]) -> bool:
    image = str(service.get("image", ""))
    return "build" in service or image.split(":")[0].split("/")[-1].startswith("slate")


def problems(compose: dict[str, Any]) -> list[str]:
    """Everything wrong with a parsed compose file that the JSON schema does not catch."""
    found: list[str] = []
    services: dict[str, Any] = compose.get("services") or {}
    named_volumes = set((compose.get("volumes") or {}).keys())

    for name in sorted(APP_SERVICES | {"postgres", "redis", "flower"}):
        if name not in services:
            found.append(f"service {name!r} is missing")

    for name, service in services.items():
        for dep, condition in depends_on(service).items():
            if dep not in services:
                found.append(f"{name}: depends_on unknown service {dep!r}")
            elif condition == "service_healthy" and "healthcheck" not in services[dep]:
                found.append(f"{name}: waits for {dep} to be healthy but {dep} has no healthcheck")
        for target, source in volume_targets(service).items():
            is_named = source and not source.startswith((".", "/", "~", "$"))
            if is_named and source not in named_volumes:
                found.append(f"{name}: volume {source!r} (at {target}) is not declared")

        if uses_app_image(service):
            words = command_words(service)
            if not words or words[0] != "slate":
                found.append(f"{name}: runs the Slate image, command not `slate ...`: {words}")
            env = environment(service)
            for key, value in REQUIRED_ENV.items():
                if env.get(key) != value:
                    found.append(f"{name}: {key} is {env.get(key)!r}, expected {value!r}")
            secret = env.get("SLATE_SECRET_KEY") or ""
            if not REQUIRED_VAR.fullmatch(secret):
                found.append(f"{name}: SLATE_SECRET_KEY must be required, got {secret!r}")

    for name, probe in (("postgres", "pg_isready"), ("redis", "redis-cli ping")):
        test = healthcheck_words(services.get(name, {}))
        if not test or test == ["NONE"]:
            found.append(f"{name}: no healthcheck")
        elif probe not in " ".join(test):
            found.append(f"{name}: healthcheck does not use {probe}: {test}")

    # Without an append-only file, queued messages are lost when Redis restarts.
    redis_cmd = command_words(services.get("redis", {}))
    if not has_option(redis_cmd, "--appendonly", "yes"):
        found.append(f"redis: not started with --appendonly yes: {redis_cmd}")

    gpu = services.get("gpu-worker", {})
    devices = dig(gpu, "deploy", "resources", "reservations", "devices") or []
    if not any(d.get("driver") == "nvidia" and "gpu" in d.get("capabilities", []) for d in devices):
        found.append(f"gpu-worker: reserves no nvidia gpu device: {devices}")
    gpu_cmd = command_words(gpu)
    gpu_options = (("--queues", "gen.ltx,gen.wan"), ("--pool", "solo"), ("--concurrency", "1"))
    for flag, value in gpu_options:
        if not has_option(gpu_cmd, flag, value):
            found.append(f"gpu-worker: command lacks {flag} {value}: {gpu_cmd}")

    web_deps = depends_on(services.get("web", {}))
    if web_deps.get("migrate") != "service_completed_successfully":
        found.append(f"web: must wait for migrate to succeed, has {web_deps.get('migrate')!r}")
    if web_deps.get("redis") != "service_healthy":
        found.append(f"web: must wait for a healthy redis, has {web_deps.get('redis')!r}")
    migrate = services.get("migrate", {})
    if command_words(migrate)[:3] != ["slate", "db", "upgrade"]:
        found.append(f"migrate: command is not `slate db upgrade`: {command_words(migrate)}")
    if str(migrate.get("restart", "no")) != "no":
        found.append(f"migrate: a one-shot job must not restart, has {migrate.get('restart')!r}")
    if depends_on(migrate).get("postgres") != "service_healthy":
        found.append("migrate: must wait for a healthy postgres")

    for name in {"web"} | WORKERS:
        if volume_targets(services.get(name, {})).get("/data/media") != "media":
            found.append(f"{name}: the shared media volume is not mounted at /data/media")
    return found


# --- the real file --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load()


def test_compose_file_matches_the_compose_spec() -> None:
    result = run_schema_check(COMPOSE_FILE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_file_has_no_problems(compose: dict[str, Any]) -> None:
    assert problems(compose) == []


def test_app_services_share_one_environment(compose: dict[str, Any]) -> None:
    envs = [environment(compose["services"][name]) for name in sorted(APP_SERVICES)]
    assert all(env == envs[0] for env in envs), envs


# --- the checks catch broken files ----------------------------------------------------------------


def test_schema_check_rejects_an_invalid_file(tmp_path: Path) -> None:
    broken = load()
    broken["services"]["web"]["depends_on"]["migrate"]["condition"] = "when_it_feels_like_it"
    broken["services"]["web"]["ports"] = {"not": "a list"}
    path = tmp_path / "docker-compose.yml"
    path.write_text(yaml.safe_dump(broken))
    result = run_schema_check(path)
    assert result.returncode != 0, result.stdout + result.stderr


def _break(mutate) -> list[str]:
    broken = copy.deepcopy(load())
    mutate(broken["services"], broken)
    return problems(broken)


def _set_env(service: dict[str, Any], **values: str) -> None:
    # The environment mapping is shared between services through the YAML alias: replace it.
    service["environment"] = {**service["environment"], **values}


BREAKAGES = {
    "unknown-dependency": (
        lambda s, c: s["web"]["depends_on"].update({"db": {"condition": "service_healthy"}}),
        "web: depends_on unknown service 'db'",
    ),
    "non-slate-command": (
        lambda s, c: s["media-worker"].update(command=["celery", "worker"]),
        "media-worker: runs the Slate image, command not `slate ...`",
    ),
    "no-gpu": (
        lambda s, c: s["gpu-worker"].pop("deploy"),
        "gpu-worker: reserves no nvidia gpu device",
    ),
    "non-nvidia-gpu": (
        lambda s, c: dig(s, "gpu-worker", "deploy", "resources", "reservations", "devices")[0]
        .update(driver="amd"),
        "gpu-worker: reserves no nvidia gpu device",
    ),
    "gpu-worker-prefork": (
        lambda s, c: s["gpu-worker"].update(command=["slate", "worker", "--queues", "gen.ltx"]),
        "gpu-worker: command lacks --pool solo",
    ),
    "postgres-healthcheck": (
        lambda s, c: s["postgres"].pop("healthcheck"),
        "postgres: no healthcheck",
    ),
    "redis-healthcheck": (lambda s, c: s["redis"].pop("healthcheck"), "redis: no healthcheck"),
    "redis-not-durable": (
        lambda s, c: s["redis"].update(command=["redis-server"]),
        "redis: not started with --appendonly yes",
    ),
    "defaulted-secret": (
        lambda s, c: _set_env(s["web"], SLATE_SECRET_KEY="${SLATE_SECRET_KEY:-change-me}"),
        "web: SLATE_SECRET_KEY must be required",
    ),
    "hardcoded-secret": (
        lambda s, c: _set_env(s["migrate"], SLATE_SECRET_KEY="hunter2"),
        "migrate: SLATE_SECRET_KEY must be required",
    ),
    "sqlite-in-production": (
        lambda s, c: _set_env(s["gpu-worker"], SLATE_DATABASE_URL="sqlite:///data/slate.db"),
        "gpu-worker: SLATE_DATABASE_URL is 'sqlite:///data/slate.db'",
    ),
    "web-before-migrations": (
        lambda s, c: s["web"]["depends_on"]["migrate"].update(condition="service_started"),
        "web: must wait for migrate to succeed",
    ),
    "no-media-volume": (
        lambda s, c: s["web"].update(volumes=[]),
        "web: the shared media volume is not mounted at /data/media",
    ),
    "undeclared-volume": (
        lambda s, c: c["volumes"].pop("media"),
        "volume 'media' (at /data/media) is not declared",
    ),
    "missing-service": (lambda s, c: s.pop("flower"), "service 'flower' is missing"),
}


@pytest.mark.parametrize(("mutate", "expected"), BREAKAGES.values(), ids=BREAKAGES.keys())
def test_problems_catch_a_broken_file(mutate, expected: str) -> None:
    found = _break(mutate)
    assert any(expected in problem for problem in found), found
