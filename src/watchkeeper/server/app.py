"""The ASGI application: API, OTLP receiver, web pages, /metrics, /healthz and /readyz."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, RedirectResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from .. import __version__
from ..alerting import (
    AlertMetrics,
    AlertService,
    RollupSource,
    common_mode,
    fdr_from_detectors,
    live_alerting,
    rules_from_settings,
)
from ..analytics.detectors import default_registry
from ..config import Settings, check_auth
from ..privacy.retention import ENFORCED, PurgeReport, RetentionJob, policy_from_settings
from ..trust.audit import ACCESS_LOG
from ..trust.checkpoint import IssuePolicy
from ..trust.log import LogReader, LogService, merge_delay_s, read_state
from ..trust.roles import Permission
from . import (
    _access_api,
    _access_pages,
    _alerts_api,
    _alerts_pages,
    _erasure,
    _log_api,
    _problems,
    _rules_pages,
    _silences_pages,
    _slices_api,
    api,
    pages,
)
from ._auth import LoginRequired, check_routes, login_url, public, requires
from ._runtime import Runtime
from ._schemas import FeedbackIn, IngestBody, SpanIn

log = logging.getLogger("watchkeeper.server")


def create_app(settings: Settings | None = None, *, runtime: Runtime | None = None, alerting: bool = True) -> FastAPI:
    """The server application. The runtime (store, writer) starts with the app's lifespan; so does the live alert
    engine, unless ``alerting`` is False (every worker but the first of ``serve --workers N``: it runs once)."""
    rt = runtime or Runtime(settings or Settings())
    check_auth(rt.settings.auth, rt.settings.host)
    retention = _retention_job(rt)  # a bad retention policy stops the server here, before it listens
    seal = _log_service(rt)
    start_alerts = _alert_service(rt) if alerting else None  # so does a rules file that does not check
    alerts: AlertService | None = None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        rt.start()
        seal.start()
        retention.start()
        nonlocal alerts
        if start_alerts is not None:
            alerts = start_alerts()  # after rt.start(): the engine reads its state from the migrated store
            alerts.start()
        app.state.alerts = alerts  # the live alert loop, or None (what the demo tells about a history it loaded)
        log.info("ready", extra={"event": "ready"})
        try:
            yield
        finally:
            if alerts is not None:
                alerts.stop()
            retention.stop()
            seal.stop()  # sequences what is committed and signs a final checkpoint
            rt.stop()

    app = FastAPI(
        title="Watchkeeper",
        version=__version__,
        description="Monitoring for LLM applications and agents: ingest traces (OTLP or JSON), query them, "
        "and watch the application's health.",
        lifespan=lifespan,
    )
    app.state.runtime = rt
    app.state.log_reader = LogReader(rt.engine)
    _problems.install(app)
    app.include_router(api.router)
    app.include_router(_erasure.router)
    app.include_router(_slices_api.router)
    app.include_router(_log_api.router)
    app.include_router(_alerts_api.router)
    app.include_router(_access_api.router)
    app.include_router(_access_pages.router)
    app.include_router(_alerts_pages.router)
    app.include_router(_silences_pages.router)
    app.include_router(_rules_pages.router)
    app.include_router(pages.router)

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse(login_url(exc.next_url), status_code=303)

    @app.get("/healthz", tags=["health"], dependencies=[public()])
    def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], responses={503: {"description": "Not ready"}}, dependencies=[public()])
    def readyz() -> JSONResponse:
        """The store answers and the writer runs."""
        if not rt.ready:
            return JSONResponse({"status": "starting"}, status_code=503)
        try:
            with rt.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as e:
            log.error("readiness check failed: %s", type(e).__name__)
            return JSONResponse({"status": "store unavailable"}, status_code=503)
        return JSONResponse({"status": "ready", "queue_depth": rt.writer.depth})

    @app.get("/metrics", tags=["health"], response_class=Response, dependencies=[requires(Permission.READ_METRICS)])
    def metrics() -> Response:
        """Prometheus exposition: ingest health and the monitored application's infra metrics."""
        return Response(generate_latest(rt.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        comps = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in (IngestBody, SpanIn, FeedbackIn):
            js = model.model_json_schema(ref_template="#/components/schemas/{model}")
            comps.update(js.pop("$defs", {}))
            comps[model.__name__] = js
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
    check_routes(app.routes)  # deny by default: a route without an access rule stops the server here

    @app.middleware("http")
    async def count_ingest(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        path = request.url.path
        if path in ("/v1/traces", "/api/v1/ingest"):
            rt.metrics.requests.labels(path, str(response.status_code)).inc()
        return response

    return app


def _retention_job(rt: Runtime) -> RetentionJob:
    """The periodic retention purge (privacy/retention.py); it counts what it purges and never stops the server."""
    s = rt.settings

    def counted(report: PurgeReport) -> None:
        rt.metrics.purge_runs.labels("ok").inc()
        for cls in ENFORCED:
            rt.metrics.purged_records.labels(cls).inc(report.count(cls))

    return RetentionJob(
        rt.engine,
        policy_from_settings(s),
        interval_s=s.purge_interval_s,
        batch_size=s.purge_batch_size,
        on_report=counted,
        on_error=lambda _e: rt.metrics.purge_runs.labels("error").inc(),
    )


def _alert_service(rt: Runtime) -> Callable[[], AlertService]:
    """What starts the live alert engine over the rollups (alerting/rollup_source.py) once the store is migrated;
    ``alert_interval_s = 0`` leaves it idle. The rules file is checked now: a bad one stops the server here."""
    s = rt.settings
    if s.alert_interval_s > 0:
        rules_from_settings(s)
    metrics = AlertMetrics(rt.metrics.registry)

    def start() -> AlertService:
        return live_alerting(
            s,
            store=rt.engine,
            source=RollupSource(rt.engine, new_account_days=s.new_account_days, minute_days=s.rollup_minute_days),
            detectors=default_registry(entry_points=True),
            fdr=fdr_from_detectors(common_mode=common_mode(s.alert_common_mode)),
            metrics=metrics,
        )

    return start


def _log_service(rt: Runtime) -> LogService:
    """The verifiable log's sequencer and checkpointer (trust/log.py), with its gauges on /metrics."""
    s = rt.settings

    def state() -> tuple[float, int]:
        st = read_state(rt.engine)
        return merge_delay_s(rt.engine), st.size if st is not None else 0

    rt.metrics.bind_log(state)
    policy = IssuePolicy(
        every_s=s.checkpoint_interval_s, every_leaves=s.checkpoint_max_leaves, idle_s=s.checkpoint_idle_s
    )
    return LogService(
        rt.engine, s.log_key_path, policy=policy, batch=s.sequencer_batch, also_sign=((ACCESS_LOG, "access"),)
    )
