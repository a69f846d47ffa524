"""Fill the Jinja templates with plain data and write the bundle directory atomically.

Bundle: <name>.h, <name>.cpp, <name>.weights.bin, <name>.json (manifest), runtime/ (only the
headers used), CMakeLists.txt, <name>Config.cmake, example/main.cpp, README.md.
Names from the model never reach generated code: identifiers are derived from the bundle name
(sanitized), tensors are addressed by arena/weights offsets, comments carry sanitized names.
"""
from __future__ import annotations

import functools
import hashlib
import json
import re
import shutil
import struct
from pathlib import Path

import jinja2
import numpy as np

from .. import __version__, kernels, ops
from ..errors import LNEError
from ..kernels.registry import Emitter
from ..passes.select import kernel_inputs
from ..resources import runtime_dir, templates_dir

WEIGHTS_VERSION = 1
WEIGHTS_HEADER = 64
ALIGN = 64
# Names a bundle's identifier may not be: C / C++ keywords (and names of the language), the
# runtime's own (its namespace `lne`, and the `lne_` / `LNE_` prefix of its types, macros and
# header guards: a bundle called lne_status would hide lne/status.h), CMake's reserved target
# names and file stems Windows cannot create. Such a name gets the prefix m_.
_C_KEYWORDS = {"auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else", "enum",
               "extern", "float", "for", "goto", "if", "int", "long", "register", "return", "short", "signed",
               "sizeof", "static", "struct", "switch", "typedef", "union", "unsigned", "void", "volatile", "while",
               "class", "namespace", "template", "new", "delete", "this", "main", "lne",
               # the rest of C++ (and C11) reserved words
               "alignas", "alignof", "and", "and_eq", "asm", "bitand", "bitor", "bool", "catch", "char8_t",
               "char16_t", "char32_t", "compl", "concept", "consteval", "constexpr", "constinit", "const_cast",
               "co_await", "co_return", "co_yield", "decltype", "dynamic_cast", "explicit", "export", "false",
               "friend", "inline", "mutable", "noexcept", "not", "not_eq", "nullptr", "operator", "or", "or_eq",
               "private", "protected", "public", "reinterpret_cast", "requires", "restrict", "static_assert",
               "static_cast", "thread_local", "throw", "true", "try", "typeid", "typename", "using", "virtual",
               "wchar_t", "xor", "xor_eq", "std", "errno", "assert", "null",
               # CMake's reserved target names (policy CMP0037) and targets a generator makes
               "all", "clean", "help", "install", "test", "package", "package_source", "depend", "preinstall",
               "edit_cache", "rebuild_cache", "list_install_components", "all_build", "zero_check", "run_tests",
               # file stems Windows reserves
               "con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}
# <name>.h sits in an include folder of the bundle (and of every app using it): it must not hide
# a C, POSIX, glibc or compiler header that the runtime or the app includes as <stem.h>
_C_KEYWORDS |= {
    "assert", "complex", "ctype", "errno", "fenv", "float", "inttypes", "iso646", "limits", "locale", "math",
    "setjmp", "signal", "stdalign", "stdarg", "stdatomic", "stdbool", "stddef", "stdint", "stdio", "stdlib",
    "stdnoreturn", "string", "tgmath", "threads", "time", "uchar", "wchar", "wctype",
    "aio", "cpio", "dirent", "dlfcn", "fcntl", "fmtmsg", "fnmatch", "ftw", "glob", "grp", "iconv", "langinfo",
    "libgen", "monetary", "mqueue", "ndbm", "netdb", "nl_types", "poll", "pthread", "pwd", "regex", "sched",
    "search", "semaphore", "spawn", "strings", "stropts", "syslog", "tar", "termios", "trace", "ulimit", "unistd",
    "utime", "utmp", "utmpx", "wordexp", "features", "alloca", "malloc", "memory", "endian", "byteswap",
    "execinfo", "getopt", "link", "elf", "error", "err", "libintl", "sysexits", "paths", "values", "stdc_predef",
    "immintrin", "xmmintrin", "emmintrin", "pmmintrin", "tmmintrin", "smmintrin", "nmmintrin", "wmmintrin",
    "avxintrin", "avx2intrin", "fmaintrin", "x86intrin", "x86gprintrin", "ia32intrin", "mm_malloc", "cpuid",
    "arm_neon", "arm_acle", "arm_fp16", "arm_bf16", "arm_sve", "omp", "cblas", "openblas_config", "lapacke"}


def c_identifier(name: str) -> str:
    """A safe C identifier (and file stem) derived from a user-given name: letters, digits and
    single underscores (a double underscore is reserved in C++), starting with a letter, never a
    keyword or one of the runtime's names (header guards and symbols cannot collide)."""
    ident = re.sub(r"_+", "_", re.sub(r"[^A-Za-z0-9_]", "_", str(name)))[:48].strip("_") or "model"
    low = ident.lower()
    if not ident[0].isalpha() or low in _C_KEYWORDS or low.startswith("lne_"):
        ident = "m_" + ident
    return ident


def _comment(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.:/ \[\]-]", "_", text)[:100]


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


# integer constants only for the quantized kernels (KernelDef.dtype other than float32)
_BLOB_DTYPES = ("float32", "int8", "uint8", "int16", "uint16", "int32")


def _weights(g) -> tuple[bytes, dict[str, int], int]:
    """The weights blob (header + 64-byte aligned tensors, little-endian), offsets, fingerprint."""
    offsets, chunks, pos = {}, [], WEIGHTS_HEADER
    for node in g.nodes:
        if kernels.get(node.op, node.kernel).header is None:
            continue  # views and in-place concats read nothing at run time
        for name in kernel_inputs(node):
            t = g.tensors.get(name) if name else None
            if t is None or not t.is_const or name in offsets:
                continue
            kernel = kernels.get(node.op, node.kernel)
            if t.dtype != "float32" and (kernel.dtype == "float32" or t.dtype not in _BLOB_DTYPES):
                raise LNEError(f"node {node.name!r} needs constant {name!r} of dtype {t.dtype} at run time; "
                               f"its kernel {kernel.name} does not read {t.dtype} constants")
            data = np.ascontiguousarray(t.data, dtype=np.dtype(t.dtype).newbyteorder("<")).tobytes()
            offsets[name] = pos
            chunks.append(data + b"\0" * (_align(len(data)) - len(data)))
            pos += _align(len(data))
    payload = b"".join(chunks)
    fingerprint = int.from_bytes(hashlib.sha256(payload + struct.pack("<Q", len(payload))).digest()[:8], "little")
    header = b"LNEW" + struct.pack("<IQQ", WEIGHTS_VERSION, len(payload), fingerprint)
    return header + b"\0" * (WEIGHTS_HEADER - len(header)) + payload, offsets, fingerprint


def _io(g, names, plan) -> list[dict]:
    out = []
    for n in names:
        t = g.tensors[n]
        out.append({"name": n, "shape": list(t.shape), "dtype": t.dtype, "size": t.size, "nbytes": t.nbytes,
                    "offset": plan.offsets[n], "rank": len(t.shape), "dims": "x".join(map(str, t.shape)),
                    "shape_list": ", ".join(map(str, t.shape))})
    return out


def _steps(g, w_offsets):
    plan = g.plan
    steps, decls, headers = [], [], []

    def ptr(name):
        if not name:
            return "nullptr"
        if name in w_offsets:
            return f"W({w_offsets[name]})"
        return f"A({plan.offsets[name]})"

    for uid, node in enumerate(g.nodes):
        k = kernels.get(node.op, node.kernel)
        scratch = f"A({plan.scratch[node.name][0]})" if node.name in plan.scratch else "nullptr"
        e = Emitter(node, g, [ptr(i) for i in kernel_inputs(node)], [ptr(o) for o in node.outputs], scratch, uid)
        call = k.emit(e)
        decls += e.decls
        if k.header and k.header not in headers:
            headers.append(k.header)
        if call:
            steps.append({"comment": _comment(f"{uid}: {node.op} {node.name} [{k.name}]"), "call": call,
                          "node": node.name})
    return steps, decls, headers


def _copy_runtime(headers: list[str], dest: Path) -> list[str]:
    """Copy the headers used, and every header they include, into dest/runtime."""
    root = runtime_dir()
    todo = ["include/lne/common.h", "include/lne/status.h"] + list(headers)
    done = []
    while todo:
        rel = todo.pop()
        if rel in done:
            continue
        src = root / rel
        if not src.is_file():
            raise LNEError(f"LNE installation is incomplete: runtime header {rel} is missing")
        done.append(rel)
        target = dest / "runtime" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, target)
        for inc in re.findall(r'#include\s+"([^"]+)"', src.read_text()):
            for cand in (inc, f"include/{inc}"):
                if (root / cand).is_file():
                    todo.append(cand)
                    break
    return done


def manifest(g, name, target, weights_size, fingerprint, debug, steps=()) -> dict:
    plan = g.plan
    nodes = []
    for node in g.nodes:
        ins = [g.tensors[i] if i else None for i in node.inputs]
        outs = [g.tensors[o] for o in node.outputs if o]
        nodes.append({"name": node.name, "op": node.op, "kernel": node.kernel, "inputs": node.inputs,
                      "outputs": node.outputs, "macs": int(ops.get(node.op).macs(node, ins, outs)),
                      "shape": list(outs[0].shape)})
    return {
        "lne_version": __version__, "name": name, "target": target.name, "debug": debug,
        "inputs": [{k: v for k, v in t.items() if k in ("name", "shape", "dtype", "size", "nbytes")}
                   for t in _io(g, g.inputs, plan)],
        "outputs": [{k: v for k, v in t.items() if k in ("name", "shape", "dtype", "size", "nbytes")}
                    for t in _io(g, g.outputs, plan)],
        "arena_size": plan.arena_size, "weights_size": weights_size, "fingerprint": f"{fingerprint:#018x}",
        "memory": {"algorithm": plan.algorithm, "arena_size": plan.arena_size, "lower_bound": plan.lower_bound,
                   "naive_size": plan.naive_size,
                   "buffers": [{"name": b.name, "size": b.size, "first": b.first, "last": b.last, "offset": b.offset}
                               for b in plan.buffers]},
        "tensors": {t: {"offset": off, "shape": list(g.tensors[t].shape)} for t, off in plan.offsets.items()},
        "nodes": nodes,
        "parameters": _parameters(g),  # bytes per dtype, as stored (lne inspect)
        "steps": [s["node"] for s in steps],  # nodes that run code, in order (profiling index)
    }


def _parameters(g) -> dict:
    from ..inspect import weight_storage
    return weight_storage(g, by_dtype=True)


@functools.lru_cache(maxsize=None)
def _environment() -> jinja2.Environment:
    """One Jinja environment per process: it caches compiled templates (reloaded if edited)."""
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir())), undefined=jinja2.StrictUndefined,
                              trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


def is_legacy_bundle(folder: Path) -> bool:
    """A bundle written by an LNE from before the output marker: a manifest <name>.json with
    "lne_version" (and its own name) beside its <name>.weights.bin."""
    from ..limits import load_json

    folder = Path(folder)
    for f in sorted(folder.glob("*.json"))[:16]:
        if f.is_symlink() or not f.is_file() or not (folder / f"{f.stem}.weights.bin").is_file():
            continue
        try:
            data = load_json(f, "the manifest")
        except LNEError:
            continue
        if isinstance(data, dict) and "lne_version" in data and data.get("name") in (None, f.stem):
            return True
    return False


def write_bundle(g, out_dir, target, name: str, debug: bool = False, source=None, force: bool = False,
                 extra_files=None, log=None) -> Path:
    """Render the bundle into a fresh temporary sibling of out_dir, then swap it in at out_dir in
    one step (lne.outputs): an existing out_dir is replaced only if LNE wrote it (its marker, or
    a bundle from before the marker), or with force=True. extra_files: {name in the bundle:
    file to copy there}."""
    from ..outputs import check_folder, output_folder

    out_dir = Path(out_dir)
    check_folder(out_dir, "bundle", force, legacy=is_legacy_bundle, what="output folder")
    ident = c_identifier(name)
    blob, w_offsets, fingerprint = _weights(g)
    steps, decls, headers = _steps(g, w_offsets)
    used_plugins = sorted({kernels.get(n.op, n.kernel).plugin for n in g.nodes} - {None})
    from ..plugins import get as get_plugin
    plugin_cmake = [{"name": p, "cmake": get_plugin(p).cmake.replace("@TARGET@", ident).strip()} for p in used_plugins]
    ctx = {
        "name": ident, "P": ident.upper(), "version": __version__, "target": target.name,
        "cpu_flags": list(target.cpu_flags), "cross": target.cross, "arena_size": g.plan.arena_size, "weights_size": len(blob),
        "algorithm": g.plan.algorithm, "fingerprint": f"{fingerprint:#018x}", "weights_version": WEIGHTS_VERSION,
        "inputs": _io(g, g.inputs, g.plan), "outputs": _io(g, g.outputs, g.plan), "steps": steps,
        "decls": decls, "headers": headers, "pad": " " * (len(ident) + 10), "plugin_cmake": plugin_cmake,
    }
    env = _environment()
    try:
        with output_folder(out_dir, "bundle", force, legacy=is_legacy_bundle, what="output folder", log=log) as tmp:
            files = {f"{ident}.h": "model.h.j2", f"{ident}.cpp": "model.cpp.j2", "CMakeLists.txt": "CMakeLists.txt.j2",
                     f"{ident}Config.cmake": "Config.cmake.j2", "example/main.cpp": "example/main.cpp.j2",
                     "README.md": "README.md.j2"}
            for rel, tpl in files.items():
                (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
                (tmp / rel).write_text(env.get_template(tpl).render(**ctx))
            if target.cross:
                (tmp / "toolchain.cmake").write_text(env.get_template("toolchain.cmake.j2").render(
                    target=target.name, processor=target.processor, triple=target.triple,
                    emulator=";".join(target.qemu + ("-L", target.sysroot))))
            (tmp / f"{ident}.weights.bin").write_bytes(blob)
            _copy_runtime(headers, tmp)
            m = manifest(g, ident, target, len(blob), fingerprint, debug, steps)
            m["source"] = str(Path(source).resolve()) if source else None
            m["plugins"] = used_plugins
            from ..session import check_manifest
            check_manifest(m, f"bundle {ident}")  # what every reader will check: refused before the swap
            # (indented only while small: the indenting encoder is ~5x slower on a 100,000-node graph)
            (tmp / f"{ident}.json").write_text(json.dumps(m, indent=1 if len(m["nodes"]) < 5000 else None))
            for rel, src in (extra_files or {}).items():
                shutil.copyfile(src, tmp / Path(rel).name)
    except OSError as e:  # a full disk, a quota: said plainly; the temporary folder is gone
        from ..limits import plain
        raise LNEError(f"output folder {plain(str(out_dir), 200)}: cannot write the bundle: "
                       f"{e.strerror or e}") from None
    return out_dir
