"""Add bytecode to a Chalice deployment.zip, so no Lambda cold start compiles anything.

Lambda's /var/task is read-only: without bytecode in the package, every cold start
compiles botocore, PynamoDB, Powertools and the app from source. Each ``x.py`` gets
``__pycache__/x.cpython-3XX.pyc`` compiled by this interpreter, which must be the Lambda
runtime's version (``python3.11``), with ``unchecked-hash`` invalidation: the zip's file
times do not matter and the source is never re-read to check them.

    python scripts/precompile_package.py build/deployment.zip [--runtime python3.11]
"""
from __future__ import annotations

import argparse
import importlib.util
import io
import py_compile
import sys
import tempfile
import zipfile
from pathlib import Path


def precompile(archive: Path, runtime: str = "python3.11") -> tuple[int, int]:
    """Rewrite ``archive`` with bytecode beside each source; ``(sources, compiled)``."""
    expected = runtime.removeprefix("python")
    actual = f"{sys.version_info.major}.{sys.version_info.minor}"
    if actual != expected:
        raise SystemExit(f"bytecode must be compiled by Python {expected} (the Lambda runtime); this is {actual}")
    tag = sys.implementation.cache_tag
    sources = compiled = 0
    buffer = io.BytesIO()
    with zipfile.ZipFile(archive) as original, zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out, \
            tempfile.TemporaryDirectory() as scratch:
        names = set(original.namelist())
        for info in original.infolist():
            data = original.read(info)
            out.writestr(info, data)
            if not info.filename.endswith(".py"):
                continue
            sources += 1
            folder, _, leaf = info.filename.rpartition("/")
            target = f"{folder + '/' if folder else ''}__pycache__/{leaf[:-3]}.{tag}.pyc"
            if target in names:
                continue
            source = Path(scratch) / "src.py"
            source.write_bytes(data)
            pyc = Path(scratch) / "out.pyc"
            try:
                py_compile.compile(str(source), cfile=str(pyc), dfile=info.filename, doraise=True,
                                   invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
            except py_compile.PyCompileError:
                continue  # a file that is not Python 3.11 (templates, vendored tests): left as source
            out.writestr(zipfile.ZipInfo(target, date_time=info.date_time), pyc.read_bytes(),
                         compress_type=zipfile.ZIP_DEFLATED)
            compiled += 1
    archive.write_bytes(buffer.getvalue())
    return sources, compiled


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("archive", type=Path)
    parser.add_argument("--runtime", default="python3.11")
    args = parser.parse_args()
    sources, compiled = precompile(args.archive, args.runtime)
    print(f"{args.archive}: {compiled} of {sources} modules precompiled ({importlib.util.MAGIC_NUMBER.hex()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
