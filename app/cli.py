"""The `slate` command: run the studio, its workers and its housekeeping."""

from __future__ import annotations

import getpass
import time
from collections.abc import Iterator
from contextlib import contextmanager

import typer

from app.config import get_settings

cli = typer.Typer(help="Slate: a collaborative AI film studio.", no_args_is_help=True, add_completion=False)
db_cli = typer.Typer(help="Database migrations.", no_args_is_help=True)
user_cli = typer.Typer(help="Accounts.", no_args_is_help=True)
models_cli = typer.Typer(help="Generation models.", no_args_is_help=True)
cli.add_typer(db_cli, name="db")
cli.add_typer(user_cli, name="user")
cli.add_typer(models_cli, name="models")


@contextmanager
def step(text: str) -> Iterator[None]:
    """Print a step, then how long it took (or that it failed)."""
    typer.echo(f"  {text} … ", nl=False)
    started = time.perf_counter()
    try:
        yield
    except BaseException:
        typer.secho("failed", fg=typer.colors.RED)
        raise
    typer.secho(f"done ({time.perf_counter() - started:.1f} s)", fg=typer.colors.GREEN)


def _session():
    from app.db import engine_for, session_factory

    return session_factory(engine_for(get_settings().database_url))()


def _migrate() -> None:
    from app.migrate import upgrade

    upgrade(get_settings().database_url)


def _seed_demo() -> str:
    from app import models  # noqa: F401
    from app.db import commit
    from app.projects.service import seed_demo

    with _session() as db:
        project = seed_demo(db)
        commit(db)
        return "created" if project else "already there"


def _tiny_models(settings) -> None:
    """Where the diffusers engines are installed but no model folder is configured, build the tiny ones (once)."""
    import importlib.util

    if importlib.util.find_spec("diffusers") is None:
        return
    from workers.engines.registry import get_registry

    missing = [m.id for m in get_registry() if m.engine in ("ltx", "wan") and m.folder and not m.folder.exists()
               and m.folder.name.endswith("-tiny")]  # fmt: skip
    if missing:
        from workers.engines.tiny import main as make_tiny

        with step(f"building tiny {' and '.join(missing)} models (random weights, for trying the pipeline)"):
            make_tiny(missing + ["--out", str(settings.data_dir / "models")])


def _serve(host: str, port: int, workers: int = 1) -> None:
    import uvicorn

    # uvicorn would otherwise believe X-Forwarded-For from 127.0.0.1 on its own; the client address is decided
    # in one place, app.deps.client_key, from SLATE_TRUSTED_PROXIES.
    uvicorn.run("app.main:create_app", factory=True, host=host, port=port, workers=workers,
                proxy_headers=False, log_level="info")  # fmt: skip


@cli.command()
def up(
    host: str = typer.Option(None, help="address to listen on (default SLATE_HOST, 127.0.0.1)"),
    port: int = typer.Option(None, help="port (default SLATE_PORT, 8000)"),
) -> None:
    """Everything in one process: migrate, seed the demo, serve, and run a worker in-process."""
    settings = get_settings()
    host = host or settings.host
    port = port or settings.port
    typer.secho("Slate", bold=True)
    db_label = settings.database_url.split("@")[-1] if not settings.is_sqlite else settings.database_url
    typer.echo(f"  database {db_label}")
    typer.echo(f"  queue    {'in-process' if settings.broker_url.startswith('memory://') else settings.broker_url}")
    with step("preparing the data folder"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        settings.media_dir.mkdir(parents=True, exist_ok=True)
        settings.resolved_secret_key()
    with step("migrating the database"):
        _migrate()
    if settings.demo:
        with step("seeding the demo project"):
            _seed_demo()
    _tiny_models(settings)
    typer.secho(f"\n  Open http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}\n", bold=True)
    _serve(host, port)


@cli.command()
def serve(
    host: str = typer.Option(None, help="address to listen on"),
    port: int = typer.Option(None, help="port"),
    workers: int = typer.Option(1, help="uvicorn worker processes"),
) -> None:
    """The web server only (production: run `slate db upgrade` first, and workers separately)."""
    settings = get_settings()
    _serve(host or settings.host, port or settings.port, workers)


@cli.command()
def worker(
    queues: str = typer.Option("default,media", help="comma-separated queues, e.g. gen.ltx or media"),
    pool: str = typer.Option("solo", help="solo for GPU workers (one process per GPU); prefork or threads for CPU"),
    concurrency: int = typer.Option(1, help="processes/threads (GPU workers: 1)"),
    loglevel: str = typer.Option("INFO"),
    hostname: str = typer.Option(None, help="worker name, default celery@<host>"),
) -> None:
    """A Celery worker against SLATE_BROKER_URL."""
    from workers.celery_app import celery, configure

    settings = get_settings()
    if settings.broker_url.startswith("memory://"):
        typer.secho("SLATE_BROKER_URL is memory:// (embedded): a separate worker cannot reach it. "
                    "Set SLATE_BROKER_URL=redis://… or use `slate up`.", fg=typer.colors.RED)  # fmt: skip
        raise typer.Exit(2)
    configure(settings)
    argv = ["worker", f"--queues={queues}", f"--pool={pool}", f"--concurrency={concurrency}",
            f"--loglevel={loglevel}", "--without-gossip", "--without-mingle"]  # fmt: skip
    if hostname:
        argv.append(f"--hostname={hostname}")
    celery.worker_main(argv)


@cli.command()
def beat(loglevel: str = typer.Option("INFO")) -> None:
    """The scheduler of periodic tasks (the job reconciler): run exactly one per installation."""
    from workers.celery_app import celery, configure

    settings = get_settings()
    if settings.broker_url.startswith("memory://"):
        typer.secho("SLATE_BROKER_URL is memory:// (embedded): `slate up` runs the reconciler itself.",
                    fg=typer.colors.RED)  # fmt: skip
        raise typer.Exit(2)
    configure(settings)
    celery.loader.import_default_modules()
    celery.start(["beat", f"--loglevel={loglevel}", "--schedule", str(settings.data_dir / "celerybeat-schedule")])


@db_cli.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head")) -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    from app.migrate import upgrade

    with step(f"migrating to {revision}"):
        upgrade(get_settings().database_url, revision)


@db_cli.command("downgrade")
def db_downgrade(revision: str = typer.Argument(..., help="target revision, e.g. base")) -> None:
    """Undo migrations down to REVISION."""
    from app.migrate import downgrade

    with step(f"migrating down to {revision}"):
        downgrade(get_settings().database_url, revision)


@user_cli.command("create")
def user_create(
    email: str = typer.Option(..., prompt=True),
    name: str = typer.Option(..., "--name", prompt="Display name"),
    admin: bool = typer.Option(False, help="make the account an instance admin"),
    password: str = typer.Option(None, help="omit to be asked (not echoed)"),
) -> None:
    """Create an account (the first one on an instance is its admin)."""
    from app import models  # noqa: F401
    from app.db import commit
    from app.errors import DomainError
    from app.projects.service import create_account  # the first account owns the seeded demo

    password = password or getpass.getpass("Password: ")
    with _session() as db:
        try:
            user = create_account(db, email=email, password=password, display_name=name, is_admin=admin)
            commit(db)
        except DomainError as exc:
            typer.secho(exc.detail, fg=typer.colors.RED)
            raise typer.Exit(1) from None
        typer.echo(f"created {user.email}{' (admin)' if user.is_admin else ''}")


@cli.command()
def demo(owner: str = typer.Option(None, help="e-mail of the account that will own it")) -> None:
    """Create the demo project (once)."""
    from app import models  # noqa: F401
    from app.auth.service import get_user_by_email
    from app.db import commit
    from app.projects.service import seed_demo

    with _session() as db:
        user = get_user_by_email(db, email=owner) if owner else None
        if owner and user is None:
            typer.secho(f"no account {owner}", fg=typer.colors.RED)
            raise typer.Exit(1)
        project = seed_demo(db, owner=user)
        commit(db)
        typer.echo(f"demo project {'created' if project else 'already exists'}")


@models_cli.command("make-tiny")
def models_make_tiny(
    kinds: list[str] = typer.Argument(None, help="ltx and/or wan (default: both)"),
    out: str = typer.Option(None, help="folder for the model folders (default: <data dir>/models)"),
    seed: int = typer.Option(0, help="weights seed: the same seed gives the same folder"),
) -> None:
    """Build tiny random-weight LTX and Wan folders offline, for tests and demos."""
    from workers.engines.tiny import main as make_tiny

    argv = list(kinds or []) + ["--out", out or str(get_settings().data_dir / "models"), "--seed", str(seed)]
    raise typer.Exit(make_tiny(argv) or 0)


@models_cli.command("list")
def models_list() -> None:
    """The models this installation knows (workers/models.toml and SLATE_MODELS_FILE)."""
    from workers.engines.registry import get_registry

    for model in get_registry():
        typer.echo(f"{model.id:12} {model.engine:9} {model.folder or '-'}")


def main() -> None:
    cli()
