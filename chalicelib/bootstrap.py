"""Builds the object graph from one :class:`Settings`, once per process.

Nothing here runs at import time: ``app.py`` imports with no environment set, and the
first request, tick or run calls :func:`get_runtime`. Tests and the local stack call
:func:`build_runtime` with their own settings (and may pass their own store, clock,
notifier) and install it with :func:`set_runtime`.
"""
from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Callable

from chalicelib.core.definitions import timeout_cap
from chalicelib.core.model import JobDefinition
from chalicelib.core.ports import Clock, HandlerCatalog, Invoker, Metrics, Notifier, RandomSource, Store
from chalicelib.core.scheduler import ApiService, Engine
from chalicelib.jobs import builtin
from chalicelib.jobs import registry as default_registry
from chalicelib.jobs.registry import JobRegistry
from chalicelib.settings import Settings

if TYPE_CHECKING:
    from chalicelib.adapters.invoker import RunWorker
    from chalicelib.core.scheduler.channel_service import Channels
    from chalicelib.jobs.job_secrets import JobSecretResolver

log = logging.getLogger("chalicelib.bootstrap")


@dataclass
class Runtime:
    """Everything an entry point needs: the API service (routes), the engine (dispatch and
    worker), and what they were built on."""

    settings: Settings
    service: ApiService
    engine: Engine
    store: Store
    channels: Channels
    metrics: Any
    invoker: Any = None
    code_jobs: list[JobDefinition] = field(default_factory=list)
    resolve_secret: Callable[[str], str] | None = None
    _jobs_ensured: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _jwks: Any = None

    def jwks_keys(self) -> Any:
        """The project's JWKS keys (``chalicelib.api.jwks.JwksKeys``), or None when no JWKS
        URL is configured. Built on first use: only the authorizer imports the JWT crypto."""
        if not self.settings.jwks_url:
            return None
        with self._lock:
            if self._jwks is None:
                from chalicelib.api.jwks import JwksKeys

                self._jwks = JwksKeys(self.settings.jwks_url)
            return self._jwks

    def ensure_code_jobs(self) -> None:
        """Register the code-defined jobs once per process (idempotent across processes).
        Called by the entry points that need them (the tick, and the routes that list or
        read jobs), never as a side effect of getting a service."""
        if self._jobs_ensured:
            return
        with self._lock:
            if self._jobs_ensured:
                return
            ensured = True
            for definition in self.code_jobs:
                try:
                    self.service.jobs.ensure_job(definition)
                except Exception:
                    ensured = False  # tried again on the next request or tick
                    log.exception("code-defined job could not be registered", extra={"job_name": definition.job_name})
            self._jobs_ensured = ensured


def _boto3_client(settings: Settings, service_name: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        service_name,
        region_name=settings.aws_region,
        endpoint_url=settings.aws_endpoint_url,
        config=Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=30),
    )


def build_secret_resolver(settings: Settings) -> Callable[[str], str]:
    from chalicelib.adapters.secrets import SecretResolver

    return SecretResolver(
        secretsmanager_factory=lambda: _boto3_client(settings, "secretsmanager"),
        ssm_factory=lambda: _boto3_client(settings, "ssm"),
    ).get


def build_job_secret_resolver(settings: Settings) -> JobSecretResolver:
    """The resolver jobs get: its own reader and cache, confined to the jobs' namespace
    (``Settings.job_secrets_prefix``). It cannot name the scheduler's own secrets (the JWT
    secret, the Supabase service key), which only :func:`build_secret_resolver` reads."""
    from chalicelib.adapters.secrets import SecretResolver
    from chalicelib.jobs.job_secrets import JobSecretNamespace, JobSecretResolver

    reader = SecretResolver(
        secretsmanager_factory=lambda: _boto3_client(settings, "secretsmanager"),
        ssm_factory=lambda: _boto3_client(settings, "ssm"),
    )
    # ARNs only in the stack's region (AWS_REGION); the account is not known before a run.
    return JobSecretResolver(JobSecretNamespace(settings.job_secrets_prefix, region=settings.aws_region), reader.get)


def jwt_secret(settings: Settings, resolve_secret: Callable[[str], str] | None) -> str:
    """The API's signing secret: from Secrets Manager/SSM when deployed, else the variable."""
    if settings.jwt_secret_id:
        if resolve_secret is None:
            raise ValueError("SCHEDULER_JWT_SECRET_ID is set but no secret resolver was built")
        return resolve_secret(settings.jwt_secret_id)
    return settings.jwt_secret


def api_secret_keys(settings: Settings, resolve_secret: Callable[[str], str] | None) -> list[str]:
    """The ``sb_secret_…`` keys the API accepts as bearer credentials: the Supabase service
    key the scheduler holds, when it is a secret key, and those listed in the optional
    ``SCHEDULER_API_KEYS_SECRET_ID`` secret (:func:`_keys_in`). A key is ``sb_secret_`` and
    at least 16 more characters. A secret that cannot be read is logged and contributes no
    key (its callers get 401)."""
    values: list[str] = []
    sources = [("SUPABASE_SERVICE_KEY", settings.supabase_service_key)] if settings.supabase_service_key else [
        ("SUPABASE_SERVICE_KEY_ID", settings.supabase_service_key_id)]
    sources.append(("SCHEDULER_API_KEYS_SECRET_ID", settings.api_keys_secret_id))
    for setting, source in sources:
        if not source:
            continue
        try:
            value = source if setting == "SUPABASE_SERVICE_KEY" else _require(resolve_secret)(source)
        except Exception as exc:  # noqa: BLE001 - one unreadable secret refuses its keys, not the API
            log.error("a secret of API keys could not be read; its keys are refused until it is fixed",
                      extra={"setting": setting, "error": type(exc).__name__})
            continue
        values.extend(_keys_in(value, setting) if setting == "SCHEDULER_API_KEYS_SECRET_ID" else [value.strip()])
    return [v for v in values if _SECRET_API_KEY.fullmatch(v)]


def _require(resolve_secret: Callable[[str], str] | None) -> Callable[[str], str]:
    if resolve_secret is None:
        raise ValueError("no secret resolver was built")
    return resolve_secret


_SECRET_API_KEY = re.compile(r"sb_secret_[A-Za-z0-9_-]{16,}")  # fullmatch: what Supabase issues is far longer


def _keys_in(value: str, setting: str) -> list[str]:
    """The keys a secret lists: a JSON list of strings, a JSON string, or plain text; each
    string may hold several keys separated by commas, spaces or line breaks. A part that
    is not a key is logged (where it is and how long, never what) and left out."""
    import json

    try:
        parsed = json.loads(value)
    except ValueError:
        parsed = value
    items = parsed if isinstance(parsed, list) else [parsed]
    if not isinstance(parsed, (list, str)):
        log.warning("a secret of API keys is not understood: write a JSON list of strings or one key per line",
                    extra={"setting": setting, "found": type(parsed).__name__})
        return []
    keys: list[str] = []
    for index, item in enumerate(items):
        if not isinstance(item, str):
            log.warning("an entry of a secret of API keys is not a string; it is left out",
                        extra={"setting": setting, "entry": index, "found": type(item).__name__})
            continue
        for part in (p for p in re.split(r"[\s,]+", item) if p):
            if _SECRET_API_KEY.fullmatch(part):
                keys.append(part)
            else:
                log.warning("a part of a secret of API keys is not an sb_secret_ key with 16 or more characters "
                            "after the prefix; it is left out",
                            extra={"setting": setting, "entry": index, "length": len(part)})
    return keys


def install_handlers(registry: JobRegistry, settings: Settings, resolve_secret: Callable[[str], str],
                     job_secrets: JobSecretResolver | None = None) -> list[JobDefinition]:
    """Add the built-in handlers; return the code-defined jobs to register at startup.

    ``resolve_secret`` reads the scheduler's own secrets (for the certification job's
    Supabase key); a job's ``secretRef`` goes through ``job_secrets`` only (built from the
    settings when not given), which is confined to the jobs' namespace."""
    from chalicelib.jobs import http_request
    from chalicelib.jobs.certification import job as certification_expiry

    builtin.install(registry)
    job_secrets = job_secrets or build_job_secret_resolver(settings)  # one reader and cache for every job type
    if http_request.HANDLER_NAME not in registry:
        http_request.register_http_request_handler(
            registry,
            allowed_hosts=settings.http_allowed_hosts,
            local_mode=settings.local_mode,
            resolve_secret=job_secrets,
        )
    from chalicelib.jobs.supabase_functions import register_supabase_function_handlers

    # The service key is the scheduler's own secret: read with resolve_secret, never by a job's secretRef.
    register_supabase_function_handlers(registry, settings, resolve_job_secret=job_secrets,
                                        resolve_own_secret=resolve_secret)
    name = certification_expiry.CERTIFICATION_JOB_NAME
    if name not in registry:
        registry.add(
            name,
            certification_expiry.build_certification_handler_from_settings(settings, resolve_secret),
            "Pauses peer mentors whose certification expired; records notices for those about to expire.",
            certification_expiry.validate_certification_payload,
            run_options=certification_expiry.CERTIFICATION_RUN_OPTIONS,
        )
    if settings.certification_problems:
        # Not (re)registered: a stored definition from an earlier deploy keeps running.
        for problem in settings.certification_problems:
            log.error("setting refused; the certification job is not (re)registered until it is fixed",
                      extra={"setting": problem.field, "problem": problem.message})
        return []
    return [certification_expiry.certification_job_definition(settings)]


def build_store(settings: Settings, clock: Clock) -> Store:
    from chalicelib.adapters.dynamodb_store import DynamoDBStore

    return DynamoDBStore.from_settings(settings, clock=clock)


@dataclass(frozen=True)
class Scheduler:
    """The object graph :func:`build_scheduler` wires: the two services and what they share."""

    service: ApiService
    engine: Engine
    invoker: Invoker
    store: Store


def build_scheduler(
    *,
    store: Store,
    handlers: HandlerCatalog,
    make_invoker: Callable[[RunWorker], Invoker],
    notifier: Notifier,
    metrics: Metrics,
    clock: Clock,
    rand: RandomSource,
    log: logging.Logger | None = None,
    retention_days: int = 90,
    lease_margin_seconds: int = 60,
    dispatch_batch: int = 200,
    worker_timeout_seconds: int = 900,
    dispatch_concurrency: int = 16,
    trigger_budget_per_minute: int | None = None,
) -> Scheduler:
    """The engine, then the API service, each part given only the ports it uses.

    The engine comes first: ``make_invoker`` gets the engine's worker (a local stack's and
    a test's invoker run it in-process; Lambda's ignores it), and the hand-off to workers
    that the dispatcher and manual triggers share is built on that invoker."""
    from chalicelib.core.scheduler.dispatch import Dispatcher
    from chalicelib.core.scheduler.effects import AfterCommit, HandOff
    from chalicelib.core.scheduler.orphans import OrphanSweep
    from chalicelib.core.scheduler.outbox import Outbox
    from chalicelib.core.scheduler.queries import Queries
    from chalicelib.core.scheduler.registration import Registration
    from chalicelib.core.scheduler.replay_service import Replays
    from chalicelib.core.scheduler.transitions import Timing
    from chalicelib.core.scheduler.triggers import TriggerBudget, Triggers
    from chalicelib.core.scheduler.windows import MaintenanceWindows
    from chalicelib.core.scheduler.worker import Worker

    log = log or logging.getLogger("chalicelib.scheduler")
    timing = Timing(retention=timedelta(days=retention_days), lease_margin=timedelta(seconds=lease_margin_seconds))
    outbox = Outbox(store, notifier, clock, log)
    after_commit = AfterCommit(metrics, outbox)
    worker = Worker(store=store, handlers=handlers, clock=clock, rand=rand, timing=timing, log=log,
                    after_commit=after_commit)
    invoker = make_invoker(worker.run)
    hand_off = HandOff(invoker, log)
    dispatcher = Dispatcher(store=store, clock=clock, rand=rand, timing=timing, metrics=metrics, log=log, outbox=outbox,
                            after_commit=after_commit, hand_off=hand_off, orphans=OrphanSweep(store, log),
                            batch=dispatch_batch, concurrency=dispatch_concurrency)
    budget = TriggerBudget(store, trigger_budget_per_minute)
    service = ApiService(
        jobs=Registration(store=store, handlers=handlers, clock=clock, timing=timing, log=log,
                          max_timeout_seconds=timeout_cap(worker_timeout_seconds, lease_margin_seconds)),
        runs=Triggers(store=store, handlers=handlers, clock=clock, rand=rand, timing=timing, log=log, budget=budget,
                      after_commit=after_commit, hand_off=hand_off),
        reads=Queries(store, handlers, clock),
        replays=Replays(store=store, clock=clock, timing=timing, log=log, budget=budget),
        windows=MaintenanceWindows(store=store, clock=clock, rand=rand, log=log),
        clock=clock,
    )
    return Scheduler(service, Engine(dispatcher, worker, outbox), invoker, store)


def build_runtime(
    settings: Settings,
    *,
    store: Store | None = None,
    clock: Clock | None = None,
    rand: RandomSource | None = None,
    notifier: Notifier | None = None,
    metrics: Metrics | None = None,
    registry: JobRegistry | None = None,
    invoker: Any = None,
) -> Runtime:
    from chalicelib.adapters.channel_notifier import build_channel_notifier, destination_problem
    from chalicelib.adapters.clock import SystemClock, SystemRandom
    from chalicelib.adapters.invoker import InlineInvoker, LambdaInvoker, ThreadInvoker
    from chalicelib.adapters.metrics import EmfMetrics
    from chalicelib.adapters.sns import SnsNotifier
    from chalicelib.core.scheduler.channel_service import Channels
    from chalicelib.jobs.job_secrets import JobSecretNamespace

    for problem in settings.problems:
        log.error("setting refused; its default is used", extra={"setting": problem.field, "problem": problem.message})
    registry = registry if registry is not None else default_registry
    clock = clock or SystemClock()
    resolve_secret = build_secret_resolver(settings)
    job_secrets = build_job_secret_resolver(settings)
    code_jobs = install_handlers(registry, settings, resolve_secret, job_secrets)
    metrics = metrics or EmfMetrics(settings.metrics_namespace, settings.service_name)

    def make_invoker(run_worker: RunWorker) -> Invoker:
        if invoker is not None:
            return invoker
        if settings.worker_mode == "inline":
            return InlineInvoker(run_worker)
        if settings.worker_mode == "thread":
            return ThreadInvoker(run_worker, concurrency=settings.local_worker_concurrency)
        return LambdaInvoker(_boto3_client(settings, "lambda"), settings.worker_function_name)

    store = store or build_store(settings, clock)
    sns: list[Any] = []

    def sns_client() -> Any:  # built on first use, once
        if not sns:
            sns.append(_boto3_client(settings, "sns"))
        return sns[0]

    stack = notifier.publish if notifier is not None else SnsNotifier(sns_client(), settings.alert_topic_arn).publish
    scheduler = build_scheduler(
        store=store,
        handlers=registry,
        make_invoker=make_invoker,
        notifier=build_channel_notifier(settings, stack, clock, job_secrets, sns_client),
        metrics=metrics,
        clock=clock,
        rand=rand or SystemRandom(),
        log=logging.getLogger("chalicelib.scheduler"),
        retention_days=settings.execution_retention_days,
        lease_margin_seconds=settings.lease_margin_seconds,
        dispatch_batch=settings.dispatch_batch,
        worker_timeout_seconds=settings.worker_timeout_seconds,
        dispatch_concurrency=settings.dispatch_concurrency,
        trigger_budget_per_minute=settings.trigger_budget_per_minute,
    )
    channels = Channels(store, clock, secret_problem=JobSecretNamespace(settings.job_secrets_prefix).problem,
                        url_problem=destination_problem(settings))
    return Runtime(settings=settings, service=scheduler.service, engine=scheduler.engine, store=scheduler.store,
                   metrics=metrics, invoker=scheduler.invoker, code_jobs=code_jobs,
                   resolve_secret=resolve_secret, channels=channels)


_runtime: Runtime | None = None
_runtime_lock = threading.Lock()


def get_runtime() -> Runtime:
    """The process's runtime, built from the environment on first use."""
    global _runtime
    if _runtime is None:
        with _runtime_lock:
            if _runtime is None:
                _runtime = build_runtime(Settings.from_env())
    return _runtime


def set_runtime(runtime: Runtime | None) -> None:
    """Install (or with None, forget) the process's runtime: tests and the local stack."""
    global _runtime
    with _runtime_lock:
        _runtime = runtime


def current_runtime() -> Runtime | None:
    """The runtime if one was built, without building it."""
    return _runtime
