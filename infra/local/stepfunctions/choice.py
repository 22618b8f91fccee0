"""A JSONPath Choice rule comparing with a variable: `{"Variable": "$.n", "NumericGreaterThanPath":
"$limit"}` (AWS's "Passing data between states with variables": a `...Path` comparison may name a
variable).

moto evaluates the variable's value after the rule's `Variable`, then hands its operator the two
in the wrong order: the variable's value is compared with the input's, not the input's with the
variable's, so `n = 9, limit = 5` took the rule as false. Here the two are swapped back before the
operator runs (tests/endpoint/test_teststate_requests.py::test_a_path_comparison_reads_a_variable).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moto.stepfunctions.parser.asl.component.state.choice.comparison.operator.factory import (
    OperatorFactory,
)


def in_order(original: Callable[[Any, Any], None]) -> Callable[[Any, Any], None]:
    """Replaces ComparisonFuncStringVariableSample._eval_body."""

    def eval_body(self: Any, env: Any) -> None:
        if not self.operator_type.name.endswith("Path"):
            original(self, env)
            return
        self.string_variable_sample.eval(env=env)
        sampled = env.stack.pop()
        variable = env.stack.pop()
        # A `...Path` operator pops the rule's value and reads the other side at "$" of what is
        # then on top: the variable's value, which goes away again once it has answered.
        env.stack.append(sampled)
        env.stack.append(variable)
        OperatorFactory.get(self.operator_type).eval(env=env, value="$")
        del env.stack[-2]

    return eval_body
