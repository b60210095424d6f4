"""`make bench`: every benchmark, each as ratios against a baseline measured in the same run."""
from __future__ import annotations

import sys

from bench import bench_certification, bench_dispatcher


def main() -> int:
    print("== Dispatcher tick: 10 vs 10,000 registered jobs, 5 due (moto DynamoDB) ==", flush=True)
    bench_dispatcher.main([])
    print("\n== Certification check: through PostgREST vs direct SQL on the same database ==", flush=True)
    return bench_certification.main([])


if __name__ == "__main__":
    sys.exit(main())
