"""Limits on untrusted input, checked before any work, and the safe ways to read it.

Models, prototxts, .npy files, plans, manifests, workflows and WAV folders come from users
(or from whoever sent them a file). Everything read from them goes through here:

- ``show(name)``: a name as it may be printed: control and escape characters escaped, cut to
  a sane length. Every error and listing prints names through it.
- ``open_regular(path)``: opens only regular files (a FIFO or a device would block or never
  end), without following the race between a check and the open.
- ``read_bytes / read_text``: a regular file, bounded in size.
- ``load_npy(path)``: a .npy array of plain numbers, its header checked before the data.
- ``load_json / parse_json / load_yaml``: bounded size, nesting depth and (YAML) alias expansion.
- ``check_depth(obj)``: bounded nesting of an already parsed document.

Each failure is an LNEError that names the file and what is wrong.
"""
from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from .errors import LNEError

MAX_ELEMENTS = 2**31 - 1      # per tensor (the C++ runtime indexes with int32 / size_t)
MAX_RANK = 8                  # dimensions per tensor
MAX_NODES = 1_000_000         # nodes (or Caffe layers) per graph
MAX_NAME = 4096               # characters in a node, tensor or graph name
MAX_DEPTH = 64                # nesting of JSON / YAML / prototxt messages
MAX_TEXT_BYTES = 64 << 20     # a prototxt, JSON or YAML file
MAX_STRING = 1 << 20          # one string value inside such a file
MAX_YAML_NODES = 100_000      # YAML nodes after alias expansion
SHOW = 80                     # characters of a name shown in a message

_NUMERIC_KINDS = "biuf"       # bool, signed, unsigned, float: what a tensor may hold


def show(name, limit: int = SHOW) -> str:
    """``name`` quoted for a message or a listing: non-printable characters (terminal escape
    codes, newlines, invalid text) escaped, at most ``limit`` characters kept."""
    text = name if isinstance(name, str) else str(name)
    cut = len(text) > limit
    quoted = repr(text[:limit])  # repr escapes every control character, ESC included
    return quoted + (f"... ({len(text)} characters)" if cut else "")


def plain(name, limit: int = SHOW) -> str:
    """Like ``show`` without the quotes (for tables: `lne inspect`, `--dump-ir`)."""
    s = show(name, limit)
    if s.startswith(("'", '"')):
        end = s.rfind(s[0])
        s = s[1:end] + s[end + 1:]
    return s


def _file_error(path, what: str, e: OSError) -> LNEError:
    reason = {errno.ENOENT: "no such file", errno.EACCES: "permission denied", errno.EISDIR: "is a folder",
              errno.ENAMETOOLONG: "the name is too long", errno.ELOOP: "too many symbolic links",
              errno.ENOTDIR: "a part of the path is not a folder"}.get(e.errno, e.strerror or str(e))
    return LNEError(f"{plain(str(path), 200)}: cannot read {what}: {reason}")


def open_regular(path, what: str = "the file"):
    """Open ``path`` for reading in binary mode, only if it is a regular file (not a FIFO, a
    device, a socket or a folder): checked on the open file, so nothing can be swapped in."""
    try:
        fd = os.open(os.fspath(path), os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise _file_error(path, what, e) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = ("a folder" if stat.S_ISDIR(st.st_mode) else "a FIFO (named pipe)" if stat.S_ISFIFO(st.st_mode)
                    else "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
                    else "a socket" if stat.S_ISSOCK(st.st_mode) else "not a regular file")
            raise LNEError(f"{plain(str(path), 200)}: cannot read {what}: it is {kind}, not a regular file")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def check_regular(path, what: str = "the file") -> Path:
    """``path`` if it is a regular file (opened once to be sure), else a clear LNEError."""
    open_regular(path, what).close()
    return Path(path)


def read_bytes(path, what: str = "the file", max_bytes: int = MAX_TEXT_BYTES) -> bytes:
    with open_regular(path, what) as f:
        size = os.fstat(f.fileno()).st_size
        if size > max_bytes:
            raise LNEError(f"{plain(str(path), 200)}: {what} is {size} bytes; LNE reads at most {max_bytes} "
                           "bytes here")
        data = f.read(size + 1)  # (read(n) allocates n up front)
    if len(data) > size:  # grew while reading
        raise LNEError(f"{plain(str(path), 200)}: {what} changed while it was read")
    return data


def read_text(path, what: str = "the file", max_bytes: int = MAX_TEXT_BYTES) -> str:
    data = read_bytes(path, what, max_bytes)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise LNEError(f"{plain(str(path), 200)}: {what} is not UTF-8 text (byte {e.start})") from None


def check_depth(obj, what: str, max_depth: int = MAX_DEPTH) -> None:
    """Refuse a parsed document nested deeper than ``max_depth`` (iterative: no recursion)."""
    stack = [(obj, 1)]
    seen = set()
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list, tuple)):
            if depth > max_depth:
                raise LNEError(f"{what}: nested more than {max_depth} levels deep")
            if id(item) in seen:
                continue
            seen.add(id(item))
            children = item.values() if isinstance(item, dict) else item
            stack.extend((c, depth + 1) for c in children)
        elif isinstance(item, str) and len(item) > MAX_STRING:
            raise LNEError(f"{what}: a string of {len(item)} characters (at most {MAX_STRING})")


def load_json(path, what: str = "the JSON file", max_bytes: int = MAX_TEXT_BYTES):
    """Parse the JSON file at ``path`` (a regular file, bounded in size); depth bounded."""
    return parse_json(read_bytes(path, what, max_bytes), plain(str(path), 200))


def parse_json(text, label: str):
    """Parse JSON text (str or bytes); nesting bounded; errors start with ``label``."""
    import json

    try:
        data = json.loads(text)
    except RecursionError:
        raise LNEError(f"{label}: nested more than {MAX_DEPTH} levels deep") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise LNEError(f"{label}: not JSON: {str(e)[:200]}") from None
    check_depth(data, label)
    return data


def load_yaml(text: str, what: str):
    """Parse YAML safely (no tags run), with nesting depth and alias expansion bounded: a
    'billion laughs' document of a kilobyte must not expand to gigabytes."""
    import yaml

    if len(text) > MAX_TEXT_BYTES:
        raise LNEError(f"{what}: {len(text)} bytes of YAML; at most {MAX_TEXT_BYTES}")
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except RecursionError:
        raise LNEError(f"{what}: nested more than {MAX_DEPTH} levels deep") from None
    except yaml.YAMLError as e:
        raise LNEError(f"{what}: not valid YAML: {str(e)[:300]}") from None
    if root is None:
        return None
    check_yaml_nodes(root, what)
    try:
        return yaml.safe_load(text)
    except RecursionError:
        raise LNEError(f"{what}: nested more than {MAX_DEPTH} levels deep") from None
    except yaml.YAMLError as e:
        raise LNEError(f"{what}: not valid YAML: {str(e)[:300]}") from None
    except (ValueError, TypeError, AttributeError, OverflowError) as e:  # PyYAML's constructors on bad scalars
        raise LNEError(f"{what}: not valid YAML: a value cannot be read ({type(e).__name__}: "
                       f"{plain(str(e), 200)})") from None


def check_yaml_nodes(root, what: str) -> None:
    """Count the nodes of the composed YAML graph as if every alias were expanded (memoized per
    node, so the count itself is linear), and bound the depth."""
    import yaml

    sizes: dict[int, int] = {}
    # iterative post-order walk: (node, depth, children_done)
    stack = [(root, 1, False)]
    while stack:
        node, depth, done = stack.pop()
        if id(node) in sizes and not done:
            continue
        if depth > MAX_DEPTH:
            raise LNEError(f"{what}: nested more than {MAX_DEPTH} levels deep")
        if isinstance(node, yaml.ScalarNode):
            if len(node.value) > MAX_STRING:
                raise LNEError(f"{what}: a string of {len(node.value)} characters (at most {MAX_STRING})")
            sizes[id(node)] = 1
            continue
        children = ([c for kv in node.value for c in kv] if isinstance(node, yaml.MappingNode) else list(node.value))
        if not done:
            stack.append((node, depth, True))
            stack.extend((c, depth + 1, False) for c in children if id(c) not in sizes)
            continue
        total = 1 + sum(sizes.get(id(c), 1) for c in children)
        if total > MAX_YAML_NODES:
            raise LNEError(f"{what}: expands to more than {MAX_YAML_NODES} YAML nodes (aliases included); "
                           "is it a 'billion laughs' document?")
        sizes[id(node)] = total


def load_npy(path, what: str | None = None):
    """A .npy array of plain numbers (bool, int, uint, float): the header is read and checked
    (dtype, element count against the file's size) before any data, and pickles never load."""
    import numpy as np
    from numpy.lib import format as npy

    label = plain(str(path), 200)
    what = what or "the .npy file"
    with open_regular(path, what) as f:
        size = os.fstat(f.fileno()).st_size
        try:
            version = npy.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = npy.read_array_header_1_0(f)
            elif version in ((2, 0), (3, 0)):
                shape, fortran, dtype = npy.read_array_header_2_0(f)
            else:
                raise ValueError(f"unknown .npy version {version}")
        except Exception as e:  # numpy parses the header with Python's tokenizer: any failure means "not .npy"
            raise LNEError(f"{label}: not a .npy file ({type(e).__name__}: {str(e)[:200]})") from None
        if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None \
                or dtype.kind not in _NUMERIC_KINDS:
            raise LNEError(f"{label}: {what} holds {dtype} values; LNE reads arrays of plain numbers "
                           "(bool, integers, floats) only")
        if len(shape) > MAX_RANK:
            raise LNEError(f"{label}: {what} has {len(shape)} dimensions; at most {MAX_RANK}")
        count = 1
        for d in shape:
            count *= int(d)
        if count > MAX_ELEMENTS:
            raise LNEError(f"{label}: {what} claims shape {list(shape)} ({count} elements); "
                           f"at most {MAX_ELEMENTS}")
        need = count * dtype.itemsize
        if size - f.tell() < need:
            raise LNEError(f"{label}: {what} is truncated: shape {list(shape)} of {dtype} needs {need} bytes "
                           f"of data, the file has {size - f.tell()}")
        f.seek(0)
        try:
            return np.load(f, allow_pickle=False)
        except (ValueError, OSError, EOFError) as e:
            raise LNEError(f"{label}: cannot read {what}: {str(e)[:200]}") from None
