"""`make bench`: every benchmark, each as ratios against a baseline measured in the same run."""
from __future__ import annotations

import sys

from bench import bench_busy_minute, bench_certification, bench_cold_import, bench_console, bench_dispatcher, bench_drain


def main() -> int:
    print("== Dispatcher tick: 10 vs 10,000 registered jobs, 5 due (moto DynamoDB) ==", flush=True)
    bench_dispatcher.main([])
    print("\n== Certification check: through PostgREST vs direct SQL on the same database ==", flush=True)
    certification = bench_certification.main([])
    print("\n== A busy minute: 100 / 1,000 / 10,000 jobs due at once, one tick ==", flush=True)
    drain = bench_drain.main([])
    print("\n== Cold import as deployed: import app from deployment.zip vs import boto3 ==", flush=True)
    cold = bench_cold_import.main([])
    print("\n== A busy minute on make run: 1,000 every-minute jobs, two slots, started within 60 s? ==", flush=True)
    busy = bench_busy_minute.main([])
    print("\n== The console's overview in Chromium: 10 vs 1,000 registered jobs, API requests and time to the last job ==",
          flush=True)
    console = bench_console.main([])
    return certification or cold or drain or busy or console


if __name__ == "__main__":
    sys.exit(main())
