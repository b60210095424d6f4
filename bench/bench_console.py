"""The console's overview with 1,000 registered jobs against the same page with 10, in Chromium.

Each size gets its own runtime (memory store, one in ten jobs run once so strips have
squares) behind the API on Chalice's local server, as ``make run`` serves it. Each load is
a fresh browser context signed in by a ``#token=`` link; it is timed from navigation start
to the moment the overview's last job row is in the page (a MutationObserver in the page
stamps it), and the API requests it makes
(the console's own files are not counted) are counted. Loads of the two sizes alternate,
and the medians are compared: the 10-job page is the baseline measured in the same run.

Targets (issue 18): at most 2 + ⌈jobs/page⌉ API requests, and the 1,000-job overview showing
its last job within 3x the 10-job time.

    .venv/bin/python -m bench.bench_console [--loads 5]
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import threading
import time
from typing import Any

CHROMIUM = "/usr/bin/chromium"
SECRET = "bench-console-secret-0123456789abcdef0123456789"
PAGE = 250
SIZES = (10, 1000)
MAX_RATIO = 3.0


class QuietMetrics:
    """Metrics that go nowhere: the page is measured, not EMF lines written to stdout."""

    def record(self, name: str, value: float, *, unit: str = "Count", job_name: str | None = None) -> None:
        pass

    def flush(self) -> None:
        pass


def build(jobs: int) -> Any:
    """A runtime with ``jobs`` registered jobs, the certification check among them."""
    from chalicelib import bootstrap
    from chalicelib.adapters.memory_store import MemoryStore
    from chalicelib.jobs.registry import JobRegistry
    from chalicelib.settings import Settings
    from tests.fakes import FakeNotifier

    settings = Settings.from_env({"SCHEDULER_JWT_SECRET": SECRET, "SCHEDULER_WORKER_MODE": "inline",
                                  "SCHEDULER_LOCAL_MODE": "true", "SUPABASE_URL": "http://127.0.0.1:9",
                                  "SUPABASE_SERVICE_KEY": "unused"})
    registry = JobRegistry()
    registry.add("report", lambda ctx: {"rows": 42}, "Builds a report")
    runtime = bootstrap.build_runtime(settings, store=MemoryStore(), notifier=FakeNotifier(),
                                      metrics=QuietMetrics(), registry=registry)
    bootstrap.set_runtime(runtime)
    runtime.ensure_code_jobs()
    for i in range(jobs - 1):
        name = f"job-{i:04d}"
        runtime.service.register_job(name, f"{i % 60} {i % 24} * * *", "report", timezone="Europe/Oslo")
        if i % 10 == 0:
            runtime.service.trigger_job(name)
    return runtime


def load(browser: Any, url: str, api_base: str, last_job: str) -> tuple[float, int]:
    """One fresh load of the overview: (ms from navigation start to the last job's row, API requests)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    # Stamped in the page when the row is inserted (not when Playwright, a process away, is told).
    row = json.dumps(f"tr[data-job='{last_job}']")
    context.add_init_script("(() => { window.__shown = null; new MutationObserver((changes, observer) => {"
                            f" if (document.querySelector({row})) {{ window.__shown = performance.now();"
                            " observer.disconnect(); } }).observe(document, { subtree: true, childList: true }); })();")
    try:
        page = context.new_page()
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url) if r.url.startswith(api_base) and "/console" not in r.url
                else None)
        page.goto(url)
        page.wait_for_selector(f"tr[data-job='{last_job}']", state="attached", timeout=120_000)
        shown_ms = float(page.evaluate("window.__shown"))
        page.wait_for_load_state("networkidle")
        return shown_ms, len(requests)
    finally:
        context.close()


def main(argv: list[str]) -> int:
    import os

    from playwright.sync_api import sync_playwright

    import app as chalice_app
    from chalicelib import bootstrap
    from chalicelib.api import auth
    from devstack.api_server import create_api_server
    from devstack.net import free_port

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loads", type=int, default=7)
    args = parser.parse_args(argv)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(name, "testing")

    runtimes = {size: build(size) for size in SIZES}
    port = free_port()
    server = create_api_server(chalice_app.app, "127.0.0.1", port)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    api_base = f"http://127.0.0.1:{port}/api/v1/scheduler"
    token = auth.issue_token(SECRET, subject="bench", now_epoch=int(time.time()), ttl_seconds=3600,
                             issuer=auth.issuer_for("http://127.0.0.1:9"))
    url = f"{api_base}/console#token={token}"
    last = {size: f"job-{size - 2:04d}" for size in SIZES}  # the last row: names sort after the certification check
    times: dict[int, list[float]] = {size: [] for size in SIZES}
    counts: dict[int, set[int]] = {size: set() for size in SIZES}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            for round_ in range(args.loads + 1):  # the first round warms both up and is not counted
                for size in SIZES:
                    bootstrap.set_runtime(runtimes[size])
                    shown_ms, requests = load(browser, url, api_base, last[size])
                    if round_:
                        times[size].append(shown_ms)
                        counts[size].add(requests)
            browser.close()
    finally:
        server.shutdown()
        bootstrap.set_runtime(None)

    base_ms = statistics.median(times[SIZES[0]])
    failed = False
    print(f"{'jobs':>6} {'API requests':>13} {'bound':>6} {'last job shown (median)':>24} {'vs 10 jobs':>11}")
    for size in SIZES:
        bound = 2 + math.ceil(size / PAGE)
        median = statistics.median(times[size])
        ratio = median / base_ms
        requests = max(counts[size])
        print(f"{size:>6} {requests:>13} {bound:>6} {median:>21.0f} ms {ratio:>10.2f}x"
              f"   (loads: {', '.join(f'{t:.0f}' for t in times[size])} ms)")
        failed |= requests > bound or (size != SIZES[0] and ratio > MAX_RATIO)
    print(f"targets: requests <= 2 + ceil(jobs/{PAGE}); 1,000 jobs within {MAX_RATIO:.0f}x the 10-job time: "
          + ("missed" if failed else "met"))
    return 1 if failed else 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
