"""One table maps every domain error to its problem; an error it does not name is a 500."""
from __future__ import annotations

import importlib
import inspect
import pkgutil

import chalicelib
from chalicelib.api.problems import INTERNAL, PROBLEMS, problem_for
from chalicelib.core import errors
from chalicelib.core.errors import SchedulerError


def _every_module_of_chalicelib() -> None:
    for module in pkgutil.walk_packages(chalicelib.__path__, "chalicelib."):
        importlib.import_module(module.name)


def _subclasses(cls: type) -> set[type]:
    found = set(cls.__subclasses__())
    return found.union(*(_subclasses(c) for c in found)) if found else found


def domain_errors() -> set[type]:
    """Every exception class of chalicelib.core.errors, and every SchedulerError anywhere in
    chalicelib (the adapters', the jobs' and the core's other modules)."""
    _every_module_of_chalicelib()
    in_errors = {c for _, c in inspect.getmembers(errors, inspect.isclass)
                 if issubclass(c, BaseException) and c.__module__ == errors.__name__}
    return in_errors | {c for c in _subclasses(SchedulerError) if c.__module__.startswith("chalicelib.")}


def test_every_domain_error_is_in_the_table():
    found = domain_errors()
    assert {"SecretUnavailable", "NotifierUnavailable", "BlastRadiusExceeded", "PermanentFailure",
            "SecretRefRefused", "MaintenanceWindowNotFound"} <= {c.__name__ for c in found}
    missing = sorted(c.__qualname__ for c in found if c not in PROBLEMS)
    assert not missing, f"declare these in chalicelib.api.problems.PROBLEMS: {missing}"


def test_the_unavailable_dependencies_are_503_not_400():
    from chalicelib.core.errors import NotifierUnavailable, SecretUnavailable

    assert problem_for(SecretUnavailable("Secret 'x' is empty")).status == 503
    assert problem_for(NotifierUnavailable("SNS publish failed")).status == 503


def test_the_blast_radius_guard_reaching_a_route_is_the_schedulers_fault():
    from chalicelib.jobs.certification.rule import BlastRadiusExceeded

    assert PROBLEMS[BlastRadiusExceeded] is INTERNAL


def test_an_error_type_not_in_the_table_is_an_opaque_500():
    class Undeclared(SchedulerError):
        pass

    result = problem_for(Undeclared("secret detail"))
    assert result.status == 500
    assert result.body["type"].endswith("/internal-error")
    assert "secret detail" not in str(result.body)
