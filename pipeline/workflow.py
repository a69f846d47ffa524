"""Workflows: a declarative YAML file of steps that wire artifacts into tools.

    name: kws-synthetic
    description: ...
    parameters:               # workflow parameters (null = must be given: -p NAME=VALUE)
      iterations: 3000
    steps:
      features:
        tool: mfcc            # registered tool name, or package.module:ClassName
        inputs:
          dataset: dataset    # input slot -> the step whose artifact feeds it
        params:
          n_mfcc: 40
      train:
        tool: train-kws
        inputs: {features: features}
        params:
          iterations: ${iterations}   # a whole-value reference keeps the parameter's type

Values are read as YAML 1.2: only ``true``/``false`` are booleans, so the keywords ``yes``, ``no``,
``on`` and ``off`` stay words. Loading checks everything that can be checked without running: YAML syntax, unknown keys,
tools, parameters (names, types, ranges, required), input wiring, formats (an output must be
one the input accepts) and cycles. Every error names the file and line.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lne.errors import LNEError

from .params import ParamError
from .tool import Tool, get_tool

_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_STEP_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_TOP_KEYS = ("name", "description", "parameters", "steps")
_STEP_KEYS = ("tool", "description", "inputs", "params")


class _Map(dict):
    """A YAML mapping that remembers its own line and each key's line (1-based)."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.line = 0
        self.key_lines: dict = {}


class _Yaml12Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans (only true/false: under YAML 1.1 the keywords yes, no,
    on and off would silently become booleans) and floats (1e-3 is a number, not a string)."""


_Yaml12Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:bool"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
_Yaml12Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                                    list("tTfF"))
_Yaml12Loader.add_implicit_resolver("tag:yaml.org,2002:float",
                                    re.compile(r"^[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[eE][-+]?[0-9]+$"),
                                    list("-+0123456789."))


def parse_value(text: str):
    """A -p NAME=VALUE value, read as YAML 1.2 (500 -> int, [yes, no] -> two strings)."""
    try:
        return yaml.load(text, Loader=_Yaml12Loader) if text else ""  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError:
        return text


def _loader_for(path: str):
    class Loader(_Yaml12Loader):
        pass

    def construct_mapping(loader, node, deep=False):
        loader.flatten_mapping(node)
        m = _Map()
        m.line = node.start_mark.line + 1
        for k_node, v_node in node.value:
            key = loader.construct_object(k_node, deep=True)
            if not isinstance(key, (str, int, float, bool)) or key is None:
                raise LNEError(f"{path}:{k_node.start_mark.line + 1}: mapping keys must be plain names")
            if key in m:
                raise LNEError(f"{path}:{k_node.start_mark.line + 1}: duplicate key {key!r}")
            m[key] = loader.construct_object(v_node, deep=True)
            m.key_lines[key] = k_node.start_mark.line + 1
        return m

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    return Loader


@dataclass
class Step:
    name: str
    tool: type[Tool]
    tool_ref: str
    params: dict[str, Any]
    inputs: dict[str, str]          # slot -> upstream step name
    line: int
    description: str = ""


@dataclass
class Workflow:
    path: Path
    name: str
    description: str
    parameters: dict[str, Any]
    steps: dict[str, Step]          # in a valid execution (topological) order
    order: list[str] = field(default_factory=list)

    def downstream(self, step: str) -> list[str]:
        out, frontier = [], {step}
        for name in self.order:
            s = self.steps[name]
            if name not in frontier and frontier & set(s.inputs.values()):
                frontier.add(name)
                out.append(name)
        return out


def _where(path, line) -> str:
    return f"{path}:{line}" if line else str(path)


def _substitute(value, params: dict, where: str, step: str):
    if isinstance(value, str):
        whole = _REF.fullmatch(value)
        for name in _REF.findall(value):
            if name not in params:
                raise LNEError(f"{where}: step {step!r}: ${{{name}}} is not a workflow parameter "
                               f"(declared: {', '.join(params) or 'none'})")
        if whole:
            return params[whole.group(1)]
        return _REF.sub(lambda m: str(params[m.group(1)]), value)
    if isinstance(value, list):
        return [_substitute(v, params, where, step) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, params, where, step) for k, v in value.items()}
    return value


def _expect_map(value, what: str, where: str) -> _Map:
    if value is None:
        return _Map()
    if not isinstance(value, dict):
        raise LNEError(f"{where}: {what} must be a mapping, got {type(value).__name__}")
    return value


def load(path, overrides: dict | None = None) -> Workflow:
    """Parse and check a workflow file; ``overrides`` set workflow parameters (-p NAME=VALUE)."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise LNEError(f"{path}: cannot read workflow: {e.strerror or e}") from None
    try:
        doc = yaml.load(text, Loader=_loader_for(str(path)))  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        raise LNEError(f"{_where(path, mark.line + 1 if mark else 0)}: invalid YAML: {e.problem or e}") from None
    except yaml.YAMLError as e:
        raise LNEError(f"{path}: invalid YAML: {e}") from None
    if not isinstance(doc, dict):
        raise LNEError(f"{path}: a workflow is a mapping with keys {', '.join(_TOP_KEYS)}")
    for k in doc:
        if k not in _TOP_KEYS:
            raise LNEError(f"{_where(path, doc.key_lines[k])}: unknown key {k!r}; expected one of "
                           f"{', '.join(_TOP_KEYS)}")
    wparams = dict(_expect_map(doc.get("parameters"), "'parameters'",
                               _where(path, doc.key_lines.get("parameters"))))
    pmap = doc.get("parameters") or _Map()
    for name, value in (overrides or {}).items():
        if name not in wparams:
            raise LNEError(f"-p {name}=...: {path} has no parameter {name!r} "
                           f"(declared: {', '.join(wparams) or 'none'})")
        wparams[name] = value
    for name, value in wparams.items():
        if value is None:
            raise LNEError(f"{_where(path, pmap.key_lines.get(name))}: workflow parameter {name!r} has no "
                           f"value; give one with -p {name}=VALUE")
    steps_raw = doc.get("steps")
    sline = _where(path, doc.key_lines.get("steps", doc.line))
    if not steps_raw:
        raise LNEError(f"{sline}: a workflow needs a non-empty 'steps' mapping")
    steps_raw = _expect_map(steps_raw, "'steps'", sline)

    steps: dict[str, Step] = {}
    for sname, body in steps_raw.items():
        line = steps_raw.key_lines[sname]
        where = _where(path, line)
        if not isinstance(sname, str) or not _STEP_NAME.match(sname):
            raise LNEError(f"{where}: step name {sname!r} must be letters, digits, '_', '-', '.'")
        body = _expect_map(body, f"step {sname!r}", where)
        for k in body:
            if k not in _STEP_KEYS:
                raise LNEError(f"{_where(path, body.key_lines[k])}: step {sname!r}: unknown key {k!r}; "
                               f"expected one of {', '.join(_STEP_KEYS)}")
        ref = body.get("tool")
        if not isinstance(ref, str):
            raise LNEError(f"{where}: step {sname!r} needs 'tool: NAME'")
        try:
            tool = get_tool(ref)
        except LNEError as e:
            raise LNEError(f"{_where(path, body.key_lines['tool'])}: step {sname!r}: {e}") from None
        steps[sname] = Step(sname, tool, ref, _check_params(path, sname, line, tool, body, wparams),
                            _raw_inputs(path, sname, tool, body), line, str(body.get("description") or ""))

    for s in steps.values():
        _check_wiring(path, s, steps, steps_raw[s.name])
    order = _toposort(path, steps)
    return Workflow(path, str(doc.get("name") or path.stem), str(doc.get("description") or ""),
                    wparams, {n: steps[n] for n in order}, order)


def _check_params(path, sname, line, tool, body, wparams) -> dict:
    raw = _expect_map(body.get("params"), f"step {sname!r} params", _where(path, body.key_lines.get("params")))
    out = {}
    for pname, value in raw.items():
        where = _where(path, raw.key_lines[pname])
        if pname not in tool.params:
            raise LNEError(f"{where}: step {sname!r}: tool {tool.name!r} has no parameter {pname!r}; "
                           f"its parameters are: {', '.join(tool.params) or 'none'}")
        value = _substitute(value, wparams, where, sname)
        try:
            out[pname] = tool.params[pname].check(value)
        except ParamError as e:
            raise LNEError(f"{where}: step {sname!r}: parameter {pname!r}: {e}") from None
    for pname, p in tool.params.items():
        if pname not in out:
            if p.required:
                raise LNEError(f"{_where(path, line)}: step {sname!r}: tool {tool.name!r} needs "
                               f"parameter {pname!r}" + (f" ({p.help})" if p.help else ""))
            out[pname] = p.default
    return out


def _raw_inputs(path, sname, tool, body) -> dict:
    raw = _expect_map(body.get("inputs"), f"step {sname!r} inputs", _where(path, body.key_lines.get("inputs")))
    out = {}
    for slot, src in raw.items():
        where = _where(path, raw.key_lines[slot])
        if slot not in tool.inputs:
            raise LNEError(f"{where}: step {sname!r}: tool {tool.name!r} has no input {slot!r}; "
                           f"its inputs are: {', '.join(tool.inputs) or 'none'}")
        if not isinstance(src, str):
            raise LNEError(f"{where}: step {sname!r}: input {slot!r} must name a step")
        out[slot] = src
    return out


def _check_wiring(path, s: Step, steps: dict, body) -> None:
    raw = body.get("inputs") or _Map()
    lines = getattr(raw, "key_lines", {})
    for slot, spec in s.tool.inputs.items():
        if slot not in s.inputs:
            if not spec.optional:
                raise LNEError(f"{_where(path, s.line)}: step {s.name!r}: input {slot!r} "
                               f"({' or '.join(spec.accepts)}) is not wired to any step")
            continue
        src = s.inputs[slot]
        where = _where(path, lines.get(slot, s.line))
        if src not in steps:
            raise LNEError(f"{where}: step {s.name!r}: input {slot!r} names unknown step {src!r}; "
                           f"steps are: {', '.join(steps)}")
        fmt = steps[src].tool.output
        if fmt not in spec.accepts:
            raise LNEError(f"{where}: type mismatch: step {src!r} ({steps[src].tool.name}) outputs {fmt!r}, "
                           f"but input {slot!r} of step {s.name!r} ({s.tool.name}) accepts "
                           f"{' or '.join(repr(f) for f in spec.accepts)}")


def _toposort(path, steps: dict[str, Step]) -> list[str]:
    order, done, visiting = [], set(), []

    def visit(name: str) -> None:
        if name in done:
            return
        if name in visiting:
            cycle = visiting[visiting.index(name):] + [name]
            raise LNEError(f"{_where(path, steps[name].line)}: cycle between steps: {' -> '.join(cycle)}")
        visiting.append(name)
        for src in steps[name].inputs.values():
            visit(src)
        visiting.pop()
        done.add(name)
        order.append(name)

    for name in steps:
        visit(name)
    return order
