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

Nothing in a workflow is trusted: the file is read only if it is a regular file of at most
``MAX_WORKFLOW_BYTES``; its YAML nesting and alias expansion are bounded (``lne.limits``); the
run name and step names are plain names (``[A-Za-z0-9_][A-Za-z0-9._-]*``, at most 100
characters: they become folder names); errors show values escaped and cut short. ``load``'s
``allowed_packages`` limits which modules ``tool: package.module:Class`` may import (see
:func:`lne.pipeline.tool.get_tool`) and ``path_root`` confines every path parameter to one folder,
for workflows that come from elsewhere (the HTTP service).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lne import limits
from lne.errors import LNEError
from lne.limits import plain, show

from .params import ParamError, brief
from .tool import Tool, check_allowed_packages, get_tool

_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
MAX_NAME = 100                   # characters of a run or step name (both become folder names)
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,%d}" % (MAX_NAME - 1))
_STEP_NAME = _NAME
_PARAM_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,%d}" % (MAX_NAME - 1))
MAX_WORKFLOW_BYTES = 256 << 10   # a workflow file (the shipped ones are 2 KB)
MAX_STEPS = 10_000
MAX_OVERRIDE_BYTES = 64 << 10    # one -p NAME=VALUE value
# substituted parameter values (YAML nodes, or characters / 64 for text): ${big} used many
# times must not multiply a small file into gigabytes
_SUBSTITUTION_BUDGET = 4 * limits.MAX_YAML_NODES
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

    def construct_object(self, node, deep=False):
        try:
            return super().construct_object(node, deep)
        except (LNEError, yaml.YAMLError, RecursionError, MemoryError):
            raise
        except Exception as e:   # PyYAML's constructors fail in many ways: 2001-02-30, !!int 0x, !!timestamp x
            why = str(e) if isinstance(e, (ValueError, OverflowError)) else "not a valid value for its tag"
            raise yaml.constructor.ConstructorError(None, None, f"cannot read the value: {why}",
                                                    node.start_mark) from None


_Yaml12Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:bool"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
_Yaml12Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                                    list("tTfF"))
_Yaml12Loader.add_implicit_resolver("tag:yaml.org,2002:float",
                                    re.compile(r"^[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[eE][-+]?[0-9]+$"),
                                    list("-+0123456789."))


def _bounded_load(text: str, loader_cls, label: str):
    """Parse one YAML document with ``loader_cls``: syntax errors with their line, nesting and
    alias expansion bounded (lne.limits) before anything is constructed, messages short."""
    loader = loader_cls(text)
    try:
        try:
            node = loader.get_single_node()
        except RecursionError:
            raise LNEError(f"{label}: nested more than {limits.MAX_DEPTH} levels deep") from None
        if node is None:
            return None
        limits.check_yaml_nodes(node, label)
        try:
            return loader.construct_document(node)
        except RecursionError:
            raise LNEError(f"{label}: nested more than {limits.MAX_DEPTH} levels deep") from None
        except (ValueError, TypeError, OverflowError) as e:   # e.g. a timestamp 2001-02-30, !!int 0x
            raise LNEError(f"{label}: a value cannot be read: {plain(str(e), 200)}") from None
    finally:
        loader.dispose()


def _yaml_error(label: str, e: Exception) -> LNEError:
    mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
    where = f"{label}:{mark.line + 1}" if mark is not None else label
    problem = getattr(e, "problem", None) or str(e)
    return LNEError(f"{where}: invalid YAML: {plain(problem, 200)}")


def parse_value(text: str):
    """A -p NAME=VALUE value, read as YAML 1.2 (500 -> int, [yes, no] -> two strings)."""
    if not text:
        return ""
    if len(text) > MAX_OVERRIDE_BYTES:
        raise LNEError(f"-p value of {len(text)} characters; at most {MAX_OVERRIDE_BYTES}")
    try:
        return _bounded_load(text, _Yaml12Loader, "-p value")
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
                raise LNEError(f"{path}:{k_node.start_mark.line + 1}: duplicate key {show(key)}")
            m[key] = loader.construct_object(v_node, deep=True)
            m.key_lines[key] = k_node.start_mark.line + 1
        return m

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    return Loader


def check_name(name, what: str, where: str = "") -> str:
    """A run or step name: it becomes a folder name, so letters, digits, '_', '-', '.' only, not
    starting with '.' (no '..', no hidden folder), at most MAX_NAME characters."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise LNEError(f"{where + ': ' if where else ''}{what} {show(name)} must be 1 to {MAX_NAME} letters, digits, "
                       "'_', '-' or '.', not starting with '.' or '-' (it names a folder)")
    return name


def name_from_stem(stem: str) -> str:
    """A usable run name made from a workflow's file name (when it has no 'name:')."""
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", stem)[:MAX_NAME].lstrip(".-")
    return name or "workflow"


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
    label = plain(str(path), 200)
    return f"{label}:{line}" if line else label


def _size(value) -> int:
    """YAML nodes in ``value`` (iterative; strings count by length / 64)."""
    n, stack = 0, [value]
    while stack:
        v = stack.pop()
        n += 1 + (len(v) // 64 if isinstance(v, str) else 0)
        if isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return n


class _Budget:
    def __init__(self, units: int = _SUBSTITUTION_BUDGET):
        self.left = units
        self.sizes: dict[str, int] = {}

    def spend(self, params: dict, name: str, where: str, step: str) -> None:
        if name not in self.sizes:
            self.sizes[name] = _size(params[name])
        self.left -= self.sizes[name]
        if self.left < 0:
            raise LNEError(f"{where}: step {show(step)}: workflow parameters substituted into step parameters "
                           f"add up to more than {_SUBSTITUTION_BUDGET} YAML nodes")


def _substitute(value, params: dict, where: str, step: str, budget: _Budget):
    if isinstance(value, str):
        whole = _REF.fullmatch(value)
        names = _REF.findall(value)
        for name in names:
            if name not in params:
                declared = plain(", ".join(map(str, params)) or "none", 200)
                raise LNEError(f"{where}: step {show(step)}: ${{{name}}} is not a workflow parameter "
                               f"(declared: {declared})")
        for name in names:
            budget.spend(params, name, where, step)
        if whole:
            return params[whole.group(1)]
        if not names:
            return value
        total = len(value) + sum(len(str(params[n])) for n in names)
        if total > limits.MAX_STRING:
            raise LNEError(f"{where}: step {show(step)}: the value after substituting workflow parameters "
                           f"is over {limits.MAX_STRING} characters")
        return _REF.sub(lambda m: str(params[m.group(1)]), value)
    if isinstance(value, list):
        return [_substitute(v, params, where, step, budget) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, params, where, step, budget) for k, v in value.items()}
    return value


def _expect_map(value, what: str, where: str) -> _Map:
    if value is None:
        return _Map()
    if not isinstance(value, dict):
        raise LNEError(f"{where}: {what} must be a mapping, got {type(value).__name__} {brief(value)}")
    return value


def _text(value, what: str, where: str) -> str:
    if value is None:
        return ""
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value)
    raise LNEError(f"{where}: {what} must be text, got {type(value).__name__} {brief(value)}")


def load(path, overrides: dict | None = None, *, allowed_packages: tuple[str, ...] | None = None,
         path_root=None) -> Workflow:
    """Parse and check a workflow file; ``overrides`` set workflow parameters (-p NAME=VALUE).

    ``allowed_packages``: None (a trusted local file: ``tool: package.module:Class`` may import
    any module) or a tuple of packages outside which nothing is imported (only registered tools
    then; ``()`` allows registered tools only). ``path_root``: if given, every ``path``
    parameter must be a relative path inside that folder (no '..', no absolute path, no
    symbolic link out) and is resolved against it."""
    path = Path(path)
    label = plain(str(path), 200)
    packages = check_allowed_packages(allowed_packages)
    text = limits.read_text(path, "workflow", max_bytes=MAX_WORKFLOW_BYTES)
    try:
        doc = _bounded_load(text, _loader_for(label), label)
    except yaml.YAMLError as e:
        raise _yaml_error(label, e) from None
    if not isinstance(doc, dict):
        raise LNEError(f"{label}: a workflow is a mapping with keys {', '.join(_TOP_KEYS)}")
    for k in doc:
        if k not in _TOP_KEYS:
            raise LNEError(f"{_where(path, doc.key_lines[k])}: unknown key {show(k)}; expected one of "
                           f"{', '.join(_TOP_KEYS)}")
    if doc.get("name") not in (None, ""):
        name = check_name(doc["name"], "workflow name", _where(path, doc.key_lines["name"]))
    else:
        name = name_from_stem(path.stem)
    description = _text(doc.get("description"), "'description'", _where(path, doc.key_lines.get("description")))
    pmap = _expect_map(doc.get("parameters"), "'parameters'", _where(path, doc.key_lines.get("parameters")))
    for pname in pmap:
        if not isinstance(pname, str) or not _PARAM_NAME.fullmatch(pname):
            raise LNEError(f"{_where(path, pmap.key_lines.get(pname))}: workflow parameter {show(pname)}: a name "
                           f"is a letter or '_' then letters, digits or '_' (at most {MAX_NAME} characters)")
    wparams = dict(pmap)
    for pname, value in (overrides or {}).items():
        if pname not in wparams:
            declared = plain(", ".join(map(str, wparams)) or "none", 200)
            raise LNEError(f"-p {plain(str(pname), 100)}=...: {label} has no parameter {show(pname)} "
                           f"(declared: {declared})")
        wparams[pname] = value
    for pname, value in wparams.items():
        if value is None:
            raise LNEError(f"{_where(path, pmap.key_lines.get(pname))}: workflow parameter {show(pname)} has no "
                           f"value; give one with -p {pname}=VALUE")
    steps_raw = doc.get("steps")
    sline = _where(path, doc.key_lines.get("steps", doc.line))
    if not steps_raw:
        raise LNEError(f"{sline}: a workflow needs a non-empty 'steps' mapping")
    steps_raw = _expect_map(steps_raw, "'steps'", sline)
    if len(steps_raw) > MAX_STEPS:
        raise LNEError(f"{sline}: {len(steps_raw)} steps; a workflow has at most {MAX_STEPS}")

    budget = _Budget()
    steps: dict[str, Step] = {}
    for sname, body in steps_raw.items():
        line = steps_raw.key_lines[sname]
        where = _where(path, line)
        check_name(sname, "step name", where)
        body = _expect_map(body, f"step {show(sname)}", where)
        for k in body:
            if k not in _STEP_KEYS:
                raise LNEError(f"{_where(path, body.key_lines[k])}: step {show(sname)}: unknown key {show(k)}; "
                               f"expected one of {', '.join(_STEP_KEYS)}")
        ref = body.get("tool")
        if not isinstance(ref, str) or not ref:
            raise LNEError(f"{where}: step {show(sname)} needs 'tool: NAME' (a registered tool or "
                           f"package.module:ClassName), got {brief(ref)}")
        try:
            tool = get_tool(ref, packages)
        except LNEError as e:
            raise LNEError(f"{_where(path, body.key_lines['tool'])}: step {show(sname)}: {e}") from None
        params = _check_params(path, sname, line, tool, body, wparams, budget)
        if path_root is not None:
            _confine_paths(path, sname, line, tool, body, params, path_root)
        steps[sname] = Step(sname, tool, ref, params, _raw_inputs(path, sname, tool, body), line,
                            _text(body.get("description"), f"step {show(sname)} 'description'",
                                  _where(path, body.key_lines.get("description", line))))

    for s in steps.values():
        _check_wiring(path, s, steps, steps_raw[s.name])
    order = _toposort(path, steps)
    return Workflow(path, name, description, wparams, {n: steps[n] for n in order}, order)


def _confine_paths(path, sname, line, tool, body, params: dict, root) -> None:
    from lne.outputs import confine

    raw = body.get("params") or _Map()
    for pname, p in tool.params.items():
        if p.kind == "path" and params.get(pname) is not None:
            where = _where(path, getattr(raw, "key_lines", {}).get(pname, line))
            try:
                params[pname] = str(confine(root, params[pname], f"parameter {show(pname)}").resolve())
            except LNEError as e:
                raise LNEError(f"{where}: step {show(sname)}: {e}") from None


def _check_params(path, sname, line, tool, body, wparams, budget: _Budget) -> dict:
    raw = _expect_map(body.get("params"), f"step {show(sname)} params", _where(path, body.key_lines.get("params")))
    out = {}
    for pname, value in raw.items():
        where = _where(path, raw.key_lines[pname])
        if pname not in tool.params:
            raise LNEError(f"{where}: step {show(sname)}: tool {show(tool.name)} has no parameter {show(pname)}; "
                           f"its parameters are: {', '.join(tool.params) or 'none'}")
        value = _substitute(value, wparams, where, sname, budget)
        try:
            out[pname] = tool.params[pname].check(value)
        except ParamError as e:
            raise LNEError(f"{where}: step {show(sname)}: parameter {show(pname)}: {e}") from None
    for pname, p in tool.params.items():
        if pname not in out:
            if p.required:
                raise LNEError(f"{_where(path, line)}: step {show(sname)}: tool {show(tool.name)} needs "
                               f"parameter {show(pname)}" + (f" ({p.help})" if p.help else ""))
            out[pname] = p.default
    return out


def _raw_inputs(path, sname, tool, body) -> dict:
    raw = _expect_map(body.get("inputs"), f"step {show(sname)} inputs", _where(path, body.key_lines.get("inputs")))
    out = {}
    for slot, src in raw.items():
        where = _where(path, raw.key_lines[slot])
        if slot not in tool.inputs:
            raise LNEError(f"{where}: step {show(sname)}: tool {show(tool.name)} has no input {show(slot)}; "
                           f"its inputs are: {', '.join(tool.inputs) or 'none'}")
        if not isinstance(src, str):
            raise LNEError(f"{where}: step {show(sname)}: input {show(slot)} must name a step, got {brief(src)}")
        out[slot] = src
    return out


def _check_wiring(path, s: Step, steps: dict, body) -> None:
    raw = body.get("inputs") or _Map()
    lines = getattr(raw, "key_lines", {})
    for slot, spec in s.tool.inputs.items():
        if slot not in s.inputs:
            if not spec.optional:
                raise LNEError(f"{_where(path, s.line)}: step {show(s.name)}: input {show(slot)} "
                               f"({' or '.join(spec.accepts)}) is not wired to any step")
            continue
        src = s.inputs[slot]
        where = _where(path, lines.get(slot, s.line))
        if src not in steps:
            raise LNEError(f"{where}: step {show(s.name)}: input {show(slot)} names unknown step {show(src)}; "
                           f"steps are: {plain(', '.join(steps), 200)}")
        fmt = steps[src].tool.output
        if fmt not in spec.accepts:
            raise LNEError(f"{where}: type mismatch: step {show(src)} ({steps[src].tool.name}) outputs {show(fmt)}, "
                           f"but input {show(slot)} of step {show(s.name)} ({s.tool.name}) accepts "
                           f"{' or '.join(show(f) for f in spec.accepts)}")


def _toposort(path, steps: dict[str, Step]) -> list[str]:
    """Steps in dependency order (inputs first; otherwise file order); iterative, so a chain of
    thousands of steps does not exhaust the stack."""
    order, done, on_path = [], set(), set()
    for root in steps:
        if root in done:
            continue
        stack = [(root, iter(steps[root].inputs.values()))]
        on_path.add(root)
        while stack:
            name, it = stack[-1]
            src = next(it, None)
            if src is None:
                stack.pop()
                on_path.discard(name)
                done.add(name)
                order.append(name)
            elif src in on_path:
                names = [n for n, _ in stack]
                cycle = names[names.index(src):] + [src]
                raise LNEError(f"{_where(path, steps[src].line)}: cycle between steps: "
                               f"{plain(' -> '.join(cycle), 300)}")
            elif src not in done:
                on_path.add(src)
                stack.append((src, iter(steps[src].inputs.values())))
    return order
