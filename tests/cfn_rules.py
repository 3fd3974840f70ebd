"""CloudFormation's intrinsic-function rules that linters may miss, as a checker over a template.

Read from AWS's CloudFormation Template Reference (current pages under
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/, and the same "Supported
functions" sections in the archived awsdocs/aws-cloudformation-user-guide repository,
doc_source/intrinsic-function-reference-*.md and pseudo-parameter-reference.md):

- Fn::Join: "For the Fn::Join delimiter, you can't use any functions. You must specify a string
  value." Its list of values may use Fn::Base64, Fn::FindInMap, Fn::GetAtt, Fn::GetAZs, Fn::If,
  Fn::ImportValue, Fn::Join, Fn::Split, Fn::Select, Fn::Sub and Ref.
- Fn::Split: the delimiter likewise takes no function; the source string may use Fn::Base64,
  Fn::FindInMap, Fn::GetAtt, Fn::GetAZs, Fn::If, Fn::ImportValue, Fn::Join, Fn::Select, Fn::Sub
  and Ref.
- Fn::Sub: "For the String parameter, you can't use any functions"; VarName/VarValue may use
  Fn::Base64, Fn::FindInMap, Fn::GetAtt, Fn::GetAZs, Fn::If, Fn::ImportValue, Fn::Join,
  Fn::Select and Ref. A variable is a template parameter, a resource logical ID, a resource
  attribute (`${Res.Attr}`) or a key of the variable map; `${!Literal}` is written literally.
- Ref: "You can't use any functions in the Ref function"; its argument names a parameter, a
  resource, or a pseudo parameter (AWS::AccountId, AWS::NotificationARNs, AWS::NoValue,
  AWS::Partition, AWS::Region, AWS::StackId, AWS::StackName, AWS::URLSuffix).
- Fn::GetAtt names a resource's logical ID; Fn::If and a resource's Condition name a condition
  of the Conditions section.

cfn-lint 1.54 to 1.58 stopped reporting a function in the Fn::Join delimiter (E1018, which
1.51-1.53 report), and `sam validate --lint` bundles such a version, so this checker exists
whatever the linter says.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

PSEUDO_PARAMETERS = frozenset(
    {
        "AWS::AccountId",
        "AWS::NotificationARNs",
        "AWS::NoValue",
        "AWS::Partition",
        "AWS::Region",
        "AWS::StackId",
        "AWS::StackName",
        "AWS::URLSuffix",
    }
)
_COMMON = frozenset(
    {"Fn::Base64", "Fn::FindInMap", "Fn::GetAtt", "Fn::GetAZs", "Fn::If", "Fn::ImportValue"}
)
JOIN_VALUES = _COMMON | {"Fn::Join", "Fn::Split", "Fn::Select", "Fn::Sub", "Ref"}
SPLIT_SOURCE = _COMMON | {"Fn::Join", "Fn::Select", "Fn::Sub", "Ref"}
SUB_VALUES = _COMMON | {"Fn::Join", "Fn::Select", "Ref"}
_VARIABLE = re.compile(r"\$\{([^}]*)\}")


def _function(node: Any) -> str | None:
    """The intrinsic function a node is ("Ref", "Fn::Join", ...), or None."""
    if isinstance(node, Mapping) and len(node) == 1:
        [(key, value)] = node.items()
        if key == "Ref" or key.startswith("Fn::"):
            return str(key)
        if key == "Condition" and isinstance(value, str):
            return "Condition"  # a condition used inside another: !Condition Name
    return None


class _Checker:
    def __init__(self, template: Mapping[str, Any], extra_resources: frozenset[str]) -> None:
        self.parameters = set(template.get("Parameters") or {})
        self.resources = set(template.get("Resources") or {}) | extra_resources
        self.conditions = set(template.get("Conditions") or {})

    def walk(self, node: Any, path: str) -> Iterator[str]:
        function = _function(node)
        if function is not None:
            yield from self.check(function, node[function], path)
        if isinstance(node, Mapping):
            for key, value in node.items():
                yield from self.walk(value, f"{path}.{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                yield from self.walk(value, f"{path}[{index}]")

    def check(self, function: str, arg: Any, path: str) -> Iterator[str]:
        checks = {
            "Ref": self._ref,
            "Fn::Join": lambda arg, path: self._delimited("Fn::Join", arg, path),
            "Fn::Split": lambda arg, path: self._delimited("Fn::Split", arg, path),
            "Fn::Sub": self._sub,
            "Fn::GetAtt": self._get_att,
            "Fn::If": self._if,
            "Condition": self._condition,
        }
        if function in checks:
            yield from checks[function](arg, path)

    def _only(self, value: Any, allowed: frozenset[str], what: str, path: str) -> Iterator[str]:
        function = _function(value)
        if function is not None and function not in allowed:
            yield f"{path}: {function} is not allowed in {what}"

    def _ref(self, arg: Any, path: str) -> Iterator[str]:
        if not isinstance(arg, str):
            yield f"{path}: Ref takes a name, not a function"
        elif arg not in self.parameters | self.resources | PSEUDO_PARAMETERS:
            yield f"{path}: Ref to {arg}, which is no parameter, resource or pseudo parameter"

    def _delimited(self, function: str, arg: Any, path: str) -> Iterator[str]:
        """Fn::Join and Fn::Split: [a literal delimiter, the values]."""
        if not isinstance(arg, list) or len(arg) != 2:
            yield f"{path}: {function} takes [delimiter, values]"
            return
        delimiter, values = arg
        if not isinstance(delimiter, str):
            yield f"{path}: the {function} delimiter must be a literal string, not {delimiter!r}"
        allowed = JOIN_VALUES if function == "Fn::Join" else SPLIT_SOURCE
        yield from self._only(values, allowed, f"the {function} values", path)
        for value in values if function == "Fn::Join" and isinstance(values, list) else []:
            yield from self._only(value, allowed, "an Fn::Join value", path)

    def _sub(self, arg: Any, path: str) -> Iterator[str]:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
        if not isinstance(text, str):
            yield f"{path}: the Fn::Sub string must be a literal string, not {text!r}"
            return
        for name, value in variables.items():
            yield from self._only(value, SUB_VALUES, f"the Fn::Sub variable {name}", path)
        known = self.parameters | self.resources | PSEUDO_PARAMETERS | set(variables)
        for name in _VARIABLE.findall(text):
            if name.startswith("!"):
                continue  # ${!Literal}
            resource = name.split(".", 1)[0] if "." in name else None
            if name not in known and resource not in self.resources:
                yield f"{path}: Fn::Sub variable ${{{name}}} is not defined"

    def _get_att(self, arg: Any, path: str) -> Iterator[str]:
        name = arg.split(".", 1)[0] if isinstance(arg, str) else arg[0]
        if name not in self.resources:
            yield f"{path}: Fn::GetAtt of {name}, which is no resource"

    def _if(self, arg: Any, path: str) -> Iterator[str]:
        if not isinstance(arg, list) or len(arg) != 3:
            yield f"{path}: Fn::If takes [condition, value if true, value if false]"
        elif arg[0] not in self.conditions:
            yield f"{path}: Fn::If on {arg[0]!r}, which is no condition"

    def _condition(self, arg: Any, path: str) -> Iterator[str]:
        if arg not in self.conditions:
            yield f"{path}: Condition {arg!r} is no condition"


def problems(
    template: Mapping[str, Any], extra_resources: frozenset[str] = frozenset()
) -> list[str]:
    """Every use of an intrinsic function in `template` that CloudFormation's reference forbids.

    `extra_resources` are logical IDs a transform creates (SAM's `<Function>Role`, ...), which a
    template before the transform may already name.
    """
    checker = _Checker(template, extra_resources)
    found = list(checker.walk(template.get("Resources") or {}, "Resources"))
    found.extend(checker.walk(template.get("Outputs") or {}, "Outputs"))
    found.extend(checker.walk(template.get("Conditions") or {}, "Conditions"))
    for name, resource in (template.get("Resources") or {}).items():
        condition = resource.get("Condition") if isinstance(resource, Mapping) else None
        if condition is not None and condition not in checker.conditions:
            found.append(f"Resources.{name}.Condition: {condition!r} is no condition")
    return found
