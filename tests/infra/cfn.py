"""Just enough CloudFormation evaluation to read the template's own values in tests.

Resolves ``Ref`` to parameters and pseudo parameters, ``Fn::Sub``, ``Fn::If`` and the
condition functions. A ``Ref`` or ``${...}`` to a resource resolves to the value the
caller gives in ``resources`` (e.g. a table's name), or to ``<LogicalId>``.
"""
from __future__ import annotations

import re
from typing import Any, Mapping

PSEUDO = {
    "AWS::Region": "eu-north-1",
    "AWS::AccountId": "123456789012",
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": "nightly-scheduler-test",
}
_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


class Evaluator:
    def __init__(self, template: Mapping[str, Any], parameters: Mapping[str, Any],
                 resources: Mapping[str, str] | None = None) -> None:
        self.template = template
        self.values: dict[str, Any] = dict(PSEUDO)
        for name, spec in template.get("Parameters", {}).items():
            if name in parameters:
                self.values[name] = parameters[name]
            elif "Default" in spec:
                self.values[name] = spec["Default"]
        self.resources = dict(resources or {})

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.template["Conditions"][name]))

    def ref(self, name: str) -> Any:
        if name in self.values:
            return self.values[name]
        if name in self.template.get("Resources", {}):
            return self.resources.get(name, f"<{name}>")
        raise KeyError(f"Ref to unknown name {name!r}")

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, arg), = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::Sub":
                text, local = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))
                return _SUB_VARIABLE.sub(lambda m: str(local[m.group(1)] if m.group(1) in local
                                                       else self._sub_name(m.group(1))), text)
            if key == "Fn::If":
                name, yes, no = arg
                return self.resolve(yes if self.condition(name) else no)
            if key == "Fn::Equals":
                left, right = self.resolve(arg)
                return left == right
            if key == "Fn::Not":
                return not self.resolve(arg[0])
            if key == "Fn::GetAtt":
                return f"<{arg[0]}.{arg[1]}>"
            if key == "Condition":
                return self.condition(arg)
        return {k: self.resolve(v) for k, v in value.items()}

    def _sub_name(self, name: str) -> Any:
        if "." in name:
            return f"<{name}>"
        return self.ref(name)


def sub_variables(text: str) -> set[str]:
    """The ``${Name}`` / ``${Name.Attr}`` variables of an ``Fn::Sub`` string (``${!x}`` is a literal)."""
    return {m.group(1) for m in _SUB_VARIABLE.finditer(text)}
