"""Run a packaged handler the way Lambda runs it: its own process, the real runtime
interface client (``awslambdaric``), and a Runtime API on loopback that hands it events.

The Runtime API is AWS's documented protocol (``/2018-06-01/runtime/...``): the client
polls ``invocation/next``, which answers one event with its request id, deadline, function
ARN and trace header, and posts the handler's answer to ``invocation/<id>/response`` or
``invocation/<id>/error`` (``init/error`` when the handler cannot even be loaded). Here
``next`` blocks until the test queues an event, as on Lambda between invocations, so one
process serves several events warm.

The process is started like Lambda's Python runtime starts it: ``python -S`` (no site
directory), the task (the unzipped package) first on the path, the runtime's own
directory (``awslambdaric`` and its two dependencies) last, the reserved variables set.
Its stand-in for ``/var/runtime/bootstrap.py`` writes, at exit, every module it imported
with the file each came from, so a test can say nothing was imported from elsewhere.

AWS itself is a moto server in a process of its own (:func:`start_moto`), and Lambda's
``Invoke`` a recorder (:class:`InvokeRecorder`), both on 127.0.0.1.
"""
from __future__ import annotations

import importlib.metadata
import json
import queue
import shutil
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote

RUNTIME_DISTRIBUTIONS = ("awslambdaric", "simplejson", "snapshot-restore-py")
_BOOTSTRAP = '''"""Lambda's /var/runtime/bootstrap.py, as far as a test needs it."""
import atexit
import json
import os
import sys

_RUNTIME = sys.path.pop(0)
sys.path.append(_RUNTIME)  # as on Lambda: the task first, the runtime after it


def _report():
    modules = {name: getattr(module, "__file__", None) for name, module in list(sys.modules.items())}
    with open(os.environ["TEST_IMPORT_REPORT"], "w") as out:
        json.dump({"modules": modules, "path": sys.path, "no_site": sys.flags.no_site,
                   "dont_write_bytecode": sys.dont_write_bytecode}, out)


atexit.register(_report)
from awslambdaric.__main__ import main  # noqa: E402

try:
    main([sys.argv[0], os.environ["_HANDLER"]])
except RuntimeError as exc:
    # invocation/next refused: the Runtime API ends this environment (here: the test is done)
    if str(exc) != "Failed to get next":
        raise
'''
_SHUTDOWN = object()


def build_runtime_dir(target: Path) -> Path:
    """The runtime's directory: the installed ``awslambdaric`` and what it imports, copied."""
    target.mkdir(parents=True, exist_ok=True)
    for name in RUNTIME_DISTRIBUTIONS:
        distribution = importlib.metadata.distribution(name)
        for file in distribution.files or ():
            if ".dist-info" in str(file) or "__pycache__" in str(file) or str(file).startswith(".."):
                continue
            destination = target / file
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(str(distribution.locate_file(file)), destination)
    (target / "bootstrap.py").write_text(_BOOTSTRAP)
    return target


@dataclass(frozen=True)
class Answer:
    """What the function posted for one invocation: ``kind`` is ``response`` or ``error``."""
    kind: str
    body: Any


class RuntimeApi:
    """The Lambda Runtime API for one function's process, on 127.0.0.1."""

    def __init__(self, function_arn: str) -> None:
        self.function_arn = function_arn
        self._events: queue.Queue[Any] = queue.Queue()
        self._answers: dict[str, queue.Queue[Answer]] = {}
        self.init_errors: list[Any] = []
        self.polls = 0
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                if self.path != "/2018-06-01/runtime/invocation/next":
                    return self._send(404, b'{"errorType":"NotFound"}')
                api.polls += 1
                item = api._events.get()
                if item is _SHUTDOWN:
                    return self._send(500, b'{"errorMessage":"SHUTDOWN"}')
                request_id, event, deadline_ms = item
                self._send(200, event if isinstance(event, bytes) else json.dumps(event).encode(), {
                    "Lambda-Runtime-Aws-Request-Id": request_id,
                    "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
                    "Lambda-Runtime-Invoked-Function-Arn": api.function_arn,
                    "Lambda-Runtime-Trace-Id": f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};"
                                               f"Parent={uuid.uuid4().hex[:16]};Sampled=1",
                })

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                parts = self.path.split("/")  # /2018-06-01/runtime/invocation/<id>/<kind>
                if self.path == "/2018-06-01/runtime/init/error":
                    api.init_errors.append(json.loads(body or b"null"))
                elif len(parts) == 6 and parts[3] == "invocation" and parts[5] in ("response", "error") \
                        and parts[4] in api._answers:
                    api._answers[parts[4]].put(Answer(parts[5], json.loads(body) if body else None))
                else:
                    return self._send(404, b'{"errorType":"NotFound"}')
                self._send(202, b'{"status":"OK"}')

            def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                for key, value in {"Content-Type": "application/json", **(headers or {})}.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self._server.server_address[1]}"

    def invoke(self, event: Any, timeout_s: float, process: subprocess.Popen[bytes] | None = None) -> Answer:
        """Hand ``event`` (JSON, or bytes sent as they are) to the next ``invocation/next`` and
        wait for the function's answer."""
        request_id = str(uuid.uuid4())
        answers: queue.Queue[Answer] = queue.Queue()
        self._answers[request_id] = answers
        self._events.put((request_id, event, int((time.time() + timeout_s) * 1000)))
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                return answers.get(timeout=0.2)
            except queue.Empty:
                if self.init_errors:
                    raise AssertionError(f"the function failed to initialise: {self.init_errors}") from None
                if process is not None and process.poll() is not None:
                    raise AssertionError(f"the function's process exited ({process.returncode}) mid-invocation") from None
        raise AssertionError(f"no answer within {timeout_s} s")

    def shutdown(self) -> None:
        self._events.put(_SHUTDOWN)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class LambdaProcess:
    """One function's execution environment: its process under ``awslambdaric``."""

    def __init__(self, name: str, *, python: str, task: Path, runtime: Path, handler: str,
                 environment: dict[str, str], memory_mb: int, region: str, account: str, scratch: Path) -> None:
        self.name = name
        self.api = RuntimeApi(f"arn:aws:lambda:{region}:{account}:function:{name}")
        self.report_path = scratch / f"{name}.imports.json"
        self.log_path = scratch / f"{name}.log"
        env = {
            # what Lambda's Python runtime sets (the reserved and the unreserved variables)
            **environment,
            "_HANDLER": handler,
            "AWS_LAMBDA_RUNTIME_API": self.api.address,
            "LAMBDA_TASK_ROOT": str(task),
            "LAMBDA_RUNTIME_DIR": str(runtime),
            "AWS_EXECUTION_ENV": f"AWS_Lambda_python{python_version(python)}",
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": "2026/12/02/[$LATEST]test",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "PYTHONPATH": str(task),
            "TEST_IMPORT_REPORT": str(self.report_path),
        }
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen([python, "-S", str(runtime / "bootstrap.py")], cwd=task, env=env,
                                        stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT)

    def invoke(self, event: Any, timeout_s: float = 30.0) -> Answer:
        try:
            return self.api.invoke(event, timeout_s, self.process)
        except AssertionError as exc:
            self._log.flush()
            raise AssertionError(f"{self.name}: {exc}\n{self.log_path.read_text(errors='replace')[-4000:]}") from None

    def stop(self, timeout_s: float = 10.0) -> tuple[int, dict[str, Any], str]:
        """End the process as the Runtime API would; ``(exit code, import report, output)``."""
        self.api.shutdown()
        try:
            code = self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        self._log.close()
        self.api.close()
        report = json.loads(self.report_path.read_text()) if self.report_path.exists() else {}
        return code, report, self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._log.close()
        self.api.close()


def python_version(python: str) -> str:
    out = subprocess.run([python, "-S", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


def files_under(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


# ---------------------------------------------------------------------- AWS on loopback


class InvokeRecorder:
    """Lambda's ``Invoke`` (``POST /2015-03-31/functions/<name>/invocations``): records, answers 202."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                parts = self.path.split("?")[0].split("/")
                recorder.calls.append({"path": self.path, "function": unquote(parts[3]) if len(parts) > 4 else None,
                                       "invocationType": self.headers.get("X-Amz-Invocation-Type"),
                                       "payload": body})
                self.send_response(202)
                self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def start_moto() -> tuple[subprocess.Popen[str], str]:
    """moto's ThreadedMotoServer in a process of its own, on a free loopback port."""
    code = ("from moto.moto_server.threaded_moto_server import ThreadedMotoServer\n"
            "import sys, threading\n"
            "server = ThreadedMotoServer('127.0.0.1', 0, verbose=False)\nserver.start()\n"
            "print(server.get_host_and_port()[1], flush=True)\nsys.stdin.read()\n")
    process = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    assert process.stdout is not None
    port = int(process.stdout.readline())
    return process, f"http://127.0.0.1:{port}"
