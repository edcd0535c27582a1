"""The `previsecours` command: the pipeline steps for people and for `dvc.yaml` stages.

Commands import their pipeline lazily, so `previsecours --help` stays fast and a command that
does not validate never pays for Great Expectations' import. Errors are caught once, in
`main`: a `PrevisecoursError` is one line on stderr and its exit code (2 bad usage or input,
1 a step that failed); `--debug` shows the traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import click
import typer

from previsecours.paths import HOME_ENV, ROOT_ENV, Project
from previsecours.settings import Settings, load_settings

if TYPE_CHECKING:
    import pandas as pd

app = typer.Typer(
    help="Prévisecours: forecast fire-and-rescue interventions by hour, area and category.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

TerritoryOption = Annotated[
    str | None,
    typer.Option(
        "--territory",
        "-t",
        help="Territory name (territories/NAME.yaml) or path to a territory YAML file "
        "(default: the first of params.yaml's `territories`).",
    ),
]
DEBUG = {"traceback": False}


@dataclass(frozen=True)
class Context:
    """What the global options say: where the project and the home are."""

    project: Project
    home: Path | None


@app.callback()
def main_callback(
    ctx: typer.Context,
    home: Annotated[
        Path | None,
        typer.Option(
            "--home",
            envvar=HOME_ENV,
            help="Working root holding data/, mlruns/, .prefect/ and forecasts/ "
            "(default: the project's root).",
        ),
    ] = None,
    root: Annotated[
        Path | None,
        typer.Option(
            "--root",
            envvar=ROOT_ENV,
            help="The project: params.yaml, territories/, expectations/ (default: the working "
            "directory or a parent holding them, else the checkout of this package).",
        ),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of errors.")] = False,
) -> None:
    DEBUG["traceback"] = debug
    ctx.obj = Context(Project.locate(root), home)


def settings_from(ctx: typer.Context, territory: str | None) -> Settings:
    options: Context = ctx.obj
    return load_settings(territory, options.home, options.project)


@contextmanager
def progress_bar(label: str) -> Iterator[Callable[[str, int, int], None]]:
    """A terminal progress bar fed by a pipeline's `progress(step, done, total)` callback.

    The bar appears at the first report: a step that fails before any progress (an empty store)
    prints its one-line error alone."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    bar = Progress(*columns)
    task = bar.add_task(label, total=None)

    def report(step: str, done: int, total: int) -> None:
        if not bar.live.is_started:
            bar.start()
        bar.update(task, description=f"{label}: {step}", completed=done, total=total)

    try:
        yield report
    finally:
        if bar.live.is_started:
            bar.stop()


@app.command()
def territory(ctx: typer.Context, territory: TerritoryOption = None) -> None:
    """Check a territory file and summarise it."""
    t = settings_from(ctx, territory).territory
    typer.echo(
        f"{t.label} ({t.name}): time zone {t.timezone}, holidays {t.holidays_country}"
        f"{'-' + t.holidays_subdivision if t.holidays_subdivision else ''}, "
        f"school zone {t.school_zone or '-'}"
    )
    typer.echo(
        f"  {len(t.communes)} communes, {len(t.stations)} stations, "
        f"{len(t.coverage_zones)} coverage zones, categories {', '.join(t.categories)}, "
        f"frequency {t.frequency}"
    )


@app.command("synth-territory")
def synth_territory(
    stations: Annotated[int, typer.Option(help="Number of fire stations.")] = 50,
    out: Annotated[Path, typer.Option(help="Directory for NAME.yaml and its NAME/ tables.")] = (
        Path("territories")
    ),
    name: Annotated[str | None, typer.Option(help="Territory name (default synth-N).")] = None,
    communes: Annotated[
        int | None, typer.Option(help="Number of communes (default: Essonne's ~4 per station).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same territory.")] = 0,
) -> None:
    """Write a synthetic territory of any size (Essonne's densities), loadable with -t PATH."""
    from previsecours.adapters.territory_files import write_territory
    from previsecours.core.synthetic_territory import synthetic_territory

    try:
        t = synthetic_territory(
            name or f"synth-{stations}", stations, n_communes=communes, seed=seed
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    path = write_territory(t, out)
    population = sum(c.population for c in t.communes)
    typer.echo(
        f"{path}: {len(t.stations)} stations, {len(t.communes)} communes, "
        f"{len(t.coverage_zones)} coverage zones, {population:,} inhabitants"
    )


@app.command()
def generate(  # noqa: PLR0917 (Typer reads options from the parameters)
    ctx: typer.Context,
    territory: TerritoryOption = None,
    start: Annotated[
        str | None,
        typer.Option(help="First day, YYYY-MM-DD (default: params.yaml generate.start)."),
    ] = None,
    end: Annotated[
        str | None, typer.Option(help="Last day, included (default: params.yaml generate.end).")
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="Random seed: same seed, same bytes (default: params).")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="File to write (default: <home>/data/inbox/<territory>_<start>_<end>)."),
    ] = None,
    file_format: Annotated[str, typer.Option("--format", help="csv or parquet.")] = "csv",
    dirty: Annotated[
        bool,
        typer.Option(help="Latin-1 CSV with personal data and injected defects, plus a manifest."),
    ] = False,
    dirty_rate: Annotated[
        float | None,
        typer.Option(
            help="Share of defective rows with --dirty (default 0.005; ingest rejects >2 %)."
        ),
    ] = None,
    encoding: Annotated[
        str | None, typer.Option(help="utf-8 or latin-1 (default: utf-8, latin-1 with --dirty).")
    ] = None,
) -> None:
    """Write a synthetic dispatch extract calibrated on SDIS 91's real data."""
    from dataclasses import replace
    from datetime import date

    from previsecours.ops.generate import GenerateRequest, generate_extract

    settings = settings_from(ctx, territory)
    try:
        request = GenerateRequest.from_params(
            settings.params.generate,
            out=Path(),
            start=date.fromisoformat(start) if start else None,
            end=date.fromisoformat(end) if end else None,
            seed=seed,
            file_format=file_format,
            dirty=dirty,
            dirty_rate=dirty_rate,
            encoding=encoding,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    default_name = f"{settings.territory.name}_{request.start}_{request.end}.{file_format}"
    request = replace(request, out=out or settings.paths.inbox / default_name)
    try:
        result = generate_extract(settings.territory, request)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    typer.echo(f"{result.rows} interventions → {result.path} ({result.file_format})")
    if result.manifest is not None:
        typer.echo(f"{result.defects} defective rows listed in {result.manifest}")


@app.command()
def dashboard(
    ctx: typer.Context,
    territory: TerritoryOption = None,
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8050,
    host: Annotated[str, typer.Option(help="Address to bind (keep 127.0.0.1).")] = "127.0.0.1",
) -> None:
    """Serve the planners' dashboard (web page in French) for the latest forecast."""
    from previsecours.dashboard.app import no_forecast_message, serve
    from previsecours.dashboard.forecast_reader import latest_issue

    settings = settings_from(ctx, territory)
    latest = latest_issue(settings.paths, settings.territory.name)
    if latest is None:
        typer.echo(no_forecast_message(settings.paths, settings.territory), err=True)
    else:
        typer.echo(f"Prévision servie : {latest}")
    typer.echo(f"Tableau de bord : http://{host}:{port}/  (Ctrl+C pour arrêter)")
    serve(settings.paths, settings.territory, host=host, port=port)


@app.command()
def ingest(  # noqa: PLR0917 - Typer maps parameters to options
    ctx: typer.Context,
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Extract files (CSV, .csv.gz, .zip of one CSV, Parquet); none: the inbox."
        ),
    ] = None,
    territory: TerritoryOption = None,
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="events (one row per intervention) or counts. Default: counts with --preset "
            "or --frequency, or for a territory that maps no event columns; else events.",
        ),
    ] = None,
    preset: Annotated[
        str | None, typer.Option(help="Counts preset, e.g. sdis91-weekly (SDIS 91 open data).")
    ] = None,
    frequency: Annotated[
        str | None, typer.Option(help="Counts frequency (hour, day, week); inferred if absent.")
    ] = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="A corrected extract wins over stored rows.")
    ] = False,
) -> None:
    """Validate extracts and merge them into the versioned curated store."""
    from previsecours.adapters.ingest_files import pending_files
    from previsecours.pipelines import ingest as pipeline

    try:
        kind = pipeline.named_format(fmt)
    except ValueError:
        raise typer.BadParameter("must be events or counts", param_hint="--format") from None
    _check_counts_options(kind, preset, frequency)
    settings = settings_from(ctx, territory)
    files = list(paths) if paths else pending_files(settings.paths)
    if not files:
        typer.echo(f"nothing to ingest: no extract in {settings.paths.inbox}")
        return
    options = pipeline.IngestOptions(
        format=kind,
        preset=preset,
        frequency=frequency,
        replace=replace,
    )
    reports = [pipeline.ingest_file(settings, path, options) for path in files]
    for report in reports:
        typer.echo(report.summary())
        for shift in report.level_shifts:  # a notice: the rows were accepted
            typer.echo(f"  notice: {shift}")
        typer.echo(f"  report: {report.report_file}")
    if not all(r.accepted for r in reports):
        raise typer.Exit(code=1)


def _check_counts_options(fmt: str | None, preset: str | None, frequency: str | None) -> None:
    """--preset and --frequency describe a counts extract: known values, not --format events."""
    from previsecours.core.ingest import COUNTS_PRESETS
    from previsecours.core.schema import FREQUENCIES
    from previsecours.errors import InputError

    if preset is not None and preset not in COUNTS_PRESETS:
        raise InputError(
            f"--preset {preset!r}: unknown counts preset (known: {', '.join(COUNTS_PRESETS)})"
        )
    if frequency is not None and frequency not in FREQUENCIES:
        raise InputError(f"--frequency {frequency!r}: expected one of {', '.join(FREQUENCIES)}")
    if fmt == "events" and (preset is not None or frequency is not None):
        option = "--preset" if preset is not None else "--frequency"
        raise InputError(f"{option} describes a counts extract, not --format events")


@app.command()
def panel(ctx: typer.Context, territory: TerritoryOption = None) -> None:
    """DVC stage: count the curated events into the modelled panel (data/panel/)."""
    from previsecours.pipelines import train as pipeline

    path = pipeline.panel_stage(settings_from(ctx, territory))
    typer.echo(f"panel: {path}")


OriginsOption = Annotated[
    str | None,
    typer.Option(
        help="Backtest origins, comma-separated local dates or times of the territory, e.g. "
        "2017-01-02,2017-02-06 (each the first period at or after it; windows [origin, origin + "
        "horizon)). Default: params.yaml train.origins, else rolling windows ending with the data."
    ),
]


def parse_origins(text: str | None) -> list[str] | None:
    """`--origins` as a list of ISO local dates or times (None when not given)."""
    from datetime import datetime

    from previsecours.errors import InputError

    if text is None:
        return None
    origins = [part.strip() for part in text.split(",") if part.strip()]
    if not origins:
        raise InputError("--origins: expected local dates or times, e.g. 2017-01-02,2017-02-06")
    for origin in origins:
        try:
            datetime.fromisoformat(origin)
        except ValueError:
            raise InputError(
                f"--origins {origin!r}: expected a local date or time, e.g. 2017-01-02 or "
                "2017-01-02T06:00"
            ) from None
    return origins


@app.command()
def backtest(
    ctx: typer.Context, territory: TerritoryOption = None, origins: OriginsOption = None
) -> None:
    """DVC stage: backtest of every model at rolling or given origins (data/backtest/, metrics/)."""
    from previsecours.adapters.training_files import backtest_metrics_file
    from previsecours.core.backtest import metric_table
    from previsecours.pipelines import train as pipeline

    at = parse_origins(origins)
    settings = settings_from(ctx, territory)
    with progress_bar("backtest") as progress:
        files = pipeline.backtest_stage(settings, progress=progress, origins=at)
    typer.echo("RMSSE over all windows (lower is better):")
    typer.echo(metric_table(files.metrics, "rmsse").round(3).to_string())
    typer.echo(f"metrics: {backtest_metrics_file(settings.paths, settings.territory.name)}")


@app.command()
def train(
    ctx: typer.Context,
    territory: TerritoryOption = None,
    from_backtest: Annotated[
        bool,
        typer.Option(help="Reuse the backtest stage's outputs instead of backtesting again."),
    ] = False,
    dask: Annotated[
        str | None,
        typer.Option(
            help="Run as the Prefect flow `train`, each backtest window a task on Dask: `local` "
            "or a scheduler's address (tcp://HOST:8786). Needs PREFECT_API_URL."
        ),
    ] = None,
    origins: OriginsOption = None,
) -> None:
    """Panel, backtest, final CatBoost fit, MLflow run and a new registered model version."""
    from previsecours.errors import InputError
    from previsecours.pipelines import train as pipeline

    at = parse_origins(origins)
    if at is not None and (from_backtest or dask):
        raise InputError(
            "--origins backtests here: not with --from-backtest (the backtest stage's own "
            "origins) nor --dask (set train.origins in params.yaml)"
        )
    settings = pipeline.with_origins(settings_from(ctx, territory), at)
    if dask:
        from flows.runners import DaskCluster
        from flows.train import run

        cluster = DaskCluster() if dask == "local" else DaskCluster(dask)
        done = run(str(settings.territory_file), str(settings.paths.home), cluster)
        typer.echo(f"run {done['run_id']}: {done['model_uri']} (version {done['version']})")
        return
    if from_backtest:
        result = pipeline.train_stage(settings)
    else:
        with progress_bar("backtest") as progress:
            result = pipeline.train(settings, progress=progress)
    typer.echo("RMSSE over all windows (lower is better):")
    typer.echo(result.rmsse.round(3).to_string())
    typer.echo(f"run {result.run_id}: {result.model_uri} (version {result.version})")
    typer.echo(" · ".join(f"{k} {v:.1f} s" for k, v in result.seconds.items()))
    for note in result.notes:
        typer.echo(f"note: {note}")


@app.command("retrain-all")
def retrain_all(
    ctx: typer.Context,
    territories: Annotated[
        list[str] | None,
        typer.Option(
            "--territory", "-t", help="A territory (repeatable; default: all of territories/)."
        ),
    ] = None,
    dask: Annotated[
        str | None,
        typer.Option(
            "--dask",
            "--dask-address",
            envvar="DASK_SCHEDULER_ADDRESS",
            help="`local` (a Dask cluster started for the run) or an existing scheduler's "
            "address (tcp://HOST:8786). Needs PREFECT_API_URL. Default: one fit at a time.",
        ),
    ] = None,
    workers: Annotated[int, typer.Option(help="Worker processes of a --dask local cluster.")] = 2,
) -> None:
    """Retrain every territory (fits fanned out on Dask), register, promote to champion."""
    from flows.retrain_all import run
    from flows.runners import DaskCluster

    cluster = None
    if dask:
        cluster = DaskCluster(local_workers=workers) if dask == "local" else DaskCluster(dask)
    home = str(ctx.obj.home) if ctx.obj.home else None
    result = run(territories, home, cluster)
    for name, r in result["territories"].items():
        worker = r["worker"]
        typer.echo(
            f"{name}: version {r['version']}, champion {r['champion']}"
            f" (fit on {worker['host']} pid {worker['pid']}) — {r['reason']}"
        )


PROMOTION_REFUSED = 3  # `promote`'s exit code when the challenger is not promoted


@app.command()
def promote(
    ctx: typer.Context,
    territory: TerritoryOption = None,
    version: Annotated[
        int | None, typer.Option(help="Challenger version (default: the newest registered).")
    ] = None,
) -> None:
    """Score challenger and champion on the same latest window; promote the challenger if better.

    Exits with code 0 when the challenger was promoted, 3 when the promotion was refused (the
    champion stays), so that a script can tell them apart.
    """
    from datetime import UTC, datetime

    from previsecours.pipelines import promote as pipeline

    settings = settings_from(ctx, territory)
    result = pipeline.run_promote(settings, now=datetime.now(UTC), version=version)
    typer.echo(result.markdown())
    if not result.decision.promoted:
        raise typer.Exit(PROMOTION_REFUSED)


@app.command()
def rollback(ctx: typer.Context, territory: TerritoryOption = None) -> None:
    """Move the `champion` alias back to `previous-champion`."""
    from datetime import UTC, datetime

    from previsecours.pipelines import promote as pipeline

    settings = settings_from(ctx, territory)
    outcome = pipeline.run_rollback(settings, now=datetime.now(UTC))
    typer.echo(outcome.markdown())


@app.command()
def forecast(
    ctx: typer.Context,
    territory: TerritoryOption = None,
    horizon: Annotated[
        str | None, typer.Option(help="e.g. 7d, 48h (default: params.yaml forecast.horizon).")
    ] = None,
    start: Annotated[
        str | None,
        typer.Option(
            help="First period, local time (default: the first period after the curated history)."
        ),
    ] = None,
) -> None:
    """Forecast every level, area and category with the champion; crews per station and shift.

    Warnings (data that ended long ago, a biased champion) go to stderr, one line each.
    """
    import pandas as pd

    from previsecours.core.calendar import horizon_periods
    from previsecours.pipelines import forecast as pipeline

    if horizon is not None:
        horizon_periods(horizon, "hour")  # its syntax, before a model is loaded
    settings = settings_from(ctx, territory)
    result = pipeline.run_forecast(
        settings,
        now=pd.Timestamp.now(tz="UTC"),
        horizon=horizon,
        start=local_start(start, settings.territory.timezone) if start else None,
    )
    for warning in result.metadata.get("warnings", ()):
        typer.echo(f"warning: {warning}", err=True)
    total = settings.territory.presentation.total_label
    typer.echo(pipeline.riskiest_markdown(result, total_label=total))
    typer.echo(f"\nwritten: {result.files.forecast} (+ .csv, .staffing.parquet, ...)")
    typer.echo(" · ".join(f"{k} {v:.1f} s" for k, v in result.seconds.items()))


def local_start(text: str, timezone: str) -> pd.Timestamp:
    """`--start` as a time of the territory: an ISO date or date-time, local unless it carries
    an offset; the repeated autumn hour is its first occurrence, the skipped spring hour moves
    forward (as in ingest)."""
    from datetime import datetime

    import pandas as pd

    from previsecours.errors import InputError

    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise InputError(
            f"--start {text!r}: expected a local date or time, e.g. 2026-12-07 or 2026-12-07T06:00"
        ) from exc
    stamp = pd.Timestamp(parsed)
    if stamp.tzinfo is not None:
        return stamp.tz_convert(timezone)
    return stamp.tz_localize(timezone, ambiguous=True, nonexistent="shift_forward")


@app.command()
def monitor(ctx: typer.Context, territory: TerritoryOption = None) -> None:
    """Score past forecasts against the actuals that have arrived, check drift and level shifts.

    Exits with code 3 when accuracy degraded, the data drifted or the weekly volume recently
    stepped to another level (the Prefect flow `monitor` then triggers a retrain).
    """
    from previsecours.pipelines.monitor import run_monitor

    result = run_monitor(settings_from(ctx, territory))
    typer.echo(result.summary())
    if result.assessment is not None:
        typer.echo(result.assessment.accuracy.round(3).to_string(index=False))
    if result.degraded:
        raise typer.Exit(3)


@app.command()
def serve(
    ctx: typer.Context,
    territory: TerritoryOption = None,
    prefect_port: Annotated[int, typer.Option(help="Prefect server and UI port.")] = 4200,
    mlflow_port: Annotated[int, typer.Option(help="MLflow UI port.")] = 5000,
    dashboard_port: Annotated[int, typer.Option(help="Planners' dashboard port.")] = 8050,
) -> None:
    """Start the Prefect server with the scheduled deployments, the MLflow UI and the dashboard
    on 127.0.0.1; Ctrl-C stops them all."""
    from previsecours.adapters.services import serve_all
    from previsecours.ops.serve import Ports, platform_services

    settings = settings_from(ctx, territory)
    services = platform_services(settings, Ports(prefect_port, mlflow_port, dashboard_port))
    serve_all(services, settings.paths.home, announce=typer.echo)


@app.command("serve-team")
def serve_team(
    ctx: typer.Context,
    prefect_port: Annotated[int, typer.Option(help="Prefect server and UI port.")] = 4200,
    mlflow_port: Annotated[int, typer.Option(help="MLflow tracking server port.")] = 5000,
) -> None:
    """Prefect and MLflow servers on PostgreSQL and a process worker of the work pool, on
    127.0.0.1 (configured by environment: see README, servers for a team); Ctrl-C stops all."""
    import os

    from previsecours.adapters.services import serve_all
    from previsecours.errors import InputError
    from previsecours.ops.team_servers import TeamServers, team_services
    from previsecours.paths import Paths

    try:
        servers = TeamServers.from_env(
            os.environ, prefect_port=prefect_port, mlflow_port=mlflow_port
        )
    except ValueError as exc:
        raise InputError(str(exc)) from exc
    options: Context = ctx.obj
    home = Paths.of_home(options.home, options.project.root).home
    shown = servers.client_env(masked=True)
    typer.echo("clients: " + " ".join(f"{k}={v}" for k, v in shown.items()))
    serve_all(team_services(servers, home / ".prefect"), home, announce=typer.echo)


# Usage errors: click's, and typer's own copy of click's (typer >= 0.20 vendors click).
_USAGE_ERRORS: tuple[type[Exception], ...] = (
    click.ClickException,
    getattr(typer, "TyperException", click.ClickException),
)
_EXITS: tuple[type[Exception], ...] = (click.exceptions.Exit, typer.Exit)
_ABORTS: tuple[type[BaseException], ...] = (click.exceptions.Abort, typer.Abort)


def main() -> None:
    """The command, with every error of the project caught once (see the module docstring)."""
    import logging

    from previsecours.errors import PrevisecoursError

    # MLflow announces the creation of a new home's tracking database on stderr: noise here.
    logging.getLogger("mlflow.store.db.utils").setLevel(logging.WARNING)
    try:
        # Outside standalone mode click returns a command's `typer.Exit` code instead of exiting.
        code = app(standalone_mode=False)
    except PrevisecoursError as exc:
        if DEBUG["traceback"]:
            raise
        typer.echo(f"error: {_one_line(exc)}", err=True)
        sys.exit(exc.exit_code)
    except _EXITS as exc:
        sys.exit(getattr(exc, "exit_code", 1))
    except _ABORTS:
        typer.echo("aborted", err=True)
        sys.exit(1)
    except _USAGE_ERRORS as exc:
        show = getattr(exc, "show", None)
        if show is not None:
            show()
        else:
            typer.echo(f"Error: {_one_line(exc)}", err=True)
        sys.exit(getattr(exc, "exit_code", 2))
    sys.exit(code if isinstance(code, int) else 0)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
