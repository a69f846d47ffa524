"""The LNE pipeline: tools, artifacts and declarative workflows (Bonseyes AI pipeline concepts).

* a **tool** (:class:`Tool`) does one job; it declares its name, version, typed parameters
  (:class:`Param`), input slots (:class:`Input`) and output artifact format;
* an **artifact** (:class:`Artifact`) is a folder: data, ``metadata.json``, metrics and log,
  written atomically;
* a **workflow** is a YAML file of steps wiring artifacts into tools; the executor runs them in
  dependency order, skips cached steps and resumes after a crash.

    lne pipeline run workflows/kws-synthetic.yml
    lne pipeline list-tools

The keyword-spotting chain (synthetic data, Speech Commands ingestion, MFCC, training,
accuracy, deployment with LNE) lives in :mod:`lne.pipeline.kws`. This package depends on
``lne``; ``lne`` never imports it except for the CLI group.
"""
from __future__ import annotations

from .artifact import Artifact
from .params import REQUIRED, Param
from .tool import Context, Input, Tool, all_tools, get_tool, register

__all__ = ["Artifact", "Param", "REQUIRED", "Tool", "Input", "Context", "register", "get_tool", "all_tools",
           "load_workflow", "Executor"]


def __getattr__(name):
    if name == "load_workflow":
        from .workflow import load
        return load
    if name == "Executor":
        from .executor import Executor
        return Executor
    raise AttributeError(name)
