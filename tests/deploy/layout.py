"""Which functions the Terraform configuration deploys for each ``api_layout``.

``local.functions`` is a for-expression over ``local.function_specs`` filtered by the
layout's function lists; the static evaluator does not run for-expressions, so this module
checks that the expression is that filter and evaluates the lists it filters by.
"""

from __future__ import annotations

from typing import Any

from tests.deploy.hcl import Config

LAYOUTS = ("split", "single_url")
DEFAULT_LAYOUT = "split"
FILTER_REFS = {
    "local.function_specs",
    "local.instructor_functions",
    "local.public_functions",
    "local.internal_functions",
}


def deployed_functions(tf: Config) -> dict[str, Any]:
    """The deployed functions (name -> spec) of ``tf``'s ``api_layout``."""
    expr = tf.local("functions")
    assert expr.refs() >= FILTER_REFS, expr.source
    assert "if contains(concat(local.instructor_functions, local.public_functions, " in (
        expr.source
    )
    names = [
        *tf.local("instructor_functions").value(),
        *tf.local("public_functions").value(),
        *tf.local("internal_functions").value(),
    ]
    specs = tf.local("function_specs").value()
    return {name: spec for name, spec in specs.items() if name in names}
