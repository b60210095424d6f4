"""Suite-wide hooks: figures that tests record are printed at the end of the run."""
from __future__ import annotations


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    lines = [value for report in terminalreporter.stats.get("passed", []) + terminalreporter.stats.get("failed", [])
             for name, value in getattr(report, "user_properties", []) if name == "summary"]
    if lines:
        terminalreporter.section("figures")
        for line in lines:
            terminalreporter.write_line(line)


# ---------------------------------------------------------------------- no silent skips
#
# A test that skips tests nothing, and pytest still exits 0. Every skip must carry a
# reason listed in tests/allowed-skips.txt (one substring per line; '#' starts a
# comment); any other skip fails the run. The list is empty on purpose: `make test`
# installs everything the tests need.

ALLOWED_SKIPS = __import__("pathlib").Path(__file__).with_name("allowed-skips.txt")
_unexplained: list[str] = []


def _allowed_reasons() -> list[str]:
    if not ALLOWED_SKIPS.is_file():
        return []
    lines = (line.split("#", 1)[0].strip() for line in ALLOWED_SKIPS.read_text().splitlines())
    return [line for line in lines if line]


def pytest_runtest_logreport(report):
    if not report.skipped or hasattr(report, "wasxfail"):
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    if not any(allowed in reason for allowed in _allowed_reasons()):
        _unexplained.append(f"{report.nodeid}: {reason}")


def pytest_sessionfinish(session, exitstatus):
    if hasattr(session.config, "workerinput"):  # xdist workers: the controller decides
        return
    if _unexplained:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.section("unexplained skips (see tests/allowed-skips.txt)", red=True)
            for line in _unexplained:
                reporter.write_line(line)
        session.exitstatus = 1
