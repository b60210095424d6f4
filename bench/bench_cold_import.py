"""Cold import as deployed: ``import app`` from the packaged deployment.zip against
``import boto3`` from an ordinary installed (precompiled) copy, side by side.

The package is built with ``chalice package`` and precompiled (scripts/precompile_package.py),
extracted, and imported the way Lambda imports it: a fresh interpreter, the package
directory first on ``sys.path``, and nowhere to write bytecode (``-B``). Each figure is the
median of fresh processes, alternated pair by pair. Target: at most 1.3x.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNS = 9
TARGET = 1.3


def _time_import(statement: str, path: str | None) -> float:
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONDONTWRITEBYTECODE": "1", "AWS_DEFAULT_REGION": "eu-north-1"}
    if path:
        env["PYTHONPATH"] = path
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"

    # -S: no site-packages, so only the package (and the standard library) can be imported, as on Lambda.
    flags = ["-B", "-S"] if path else ["-B"]
    out = subprocess.run([sys.executable, *flags, "-c", code], env=env, capture_output=True, text=True,
                         cwd=path or tempfile.gettempdir(), check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main(argv: list[str]) -> int:
    with tempfile.TemporaryDirectory() as scratch:
        package = Path(scratch) / "package"
        started = time.monotonic()
        subprocess.run([str(Path(sys.executable).parent / "chalice"), "package", "--stage", "prod",
                        "--merge-template", "infra/template.json", str(package)], cwd=ROOT, check=True,
                       capture_output=True, env={**os.environ, "AWS_DEFAULT_REGION": "eu-north-1"})
        subprocess.run([sys.executable, "scripts/precompile_package.py", str(package / "deployment.zip")],
                       cwd=ROOT, check=True, capture_output=True)
        task = Path(scratch) / "task"
        with zipfile.ZipFile(package / "deployment.zip") as archive:
            archive.extractall(task)
            names = archive.namelist()
        size_mb = (package / "deployment.zip").stat().st_size / 1e6
        sources = sum(n.endswith(".py") for n in names)
        compiled = sum(n.endswith(".pyc") for n in names)
        print(f"package: {size_mb:.1f} MB zipped, {sources} .py and {compiled} .pyc "
              f"(built in {time.monotonic() - started:.0f} s)")
        app_times, boto_times = [], []
        for _ in range(RUNS):
            app_times.append(_time_import("import app", str(task)))
            boto_times.append(_time_import("import boto3", None))
    app_median, boto_median = statistics.median(app_times), statistics.median(boto_times)
    ratio = app_median / boto_median
    print(f"import app (deployment.zip, -B): median {app_median * 1000:.0f} ms of {RUNS} fresh processes")
    print(f"import boto3 (installed, precompiled): median {boto_median * 1000:.0f} ms of {RUNS}")
    print(f"ratio: {ratio:.2f}x (target <= {TARGET}x) {'OK' if ratio <= TARGET else 'ABOVE TARGET'}")
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
