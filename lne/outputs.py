"""The one rule for everything LNE writes (bundles, ONNX files, plans, reports, pipeline runs).

- Checked before any work: the destination is not the current folder or one above it, its
  parent is a folder (made if missing) that can be written, its name fits the file system,
  it is not a symbolic link.
- Written into a fresh temporary sibling (``.NAME.lne-tmp-XXXX``), then swapped in with one
  atomic rename: a crash or an error leaves the old output (or nothing), never half of one.
- An existing folder is replaced only if it carries LNE's marker file for that kind of output
  (``.lne-output``), or is empty; a user's folder is refused unless ``force=True`` (the CLI's
  ``--force``). An existing file is replaced only if ``is_ours(path)`` says LNE wrote it.
- Nothing is removed that LNE did not create: the old output goes to a uniquely named sibling
  made for the swap and is deleted from there.
- How a file says LNE wrote it: ONNX models carry ``producer_name`` "lne" (``onnx_is_ours``),
  JSON documents their own fields (``json_is_ours``), PNG charts a ``tEXt`` chunk
  ``lne-output`` (``mark_png`` / ``png_is_ours``). ``output_files`` writes several files all or
  nothing (a model and its report, a plan and its charts).
"""
from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Callable

from . import __version__
from .errors import LNEError
from .limits import plain

MARKER = ".lne-output"
_NAME_MAX = 255
_PATH_MAX = 4096


def _p(path) -> str:
    return plain(str(path), 200)


def marker_kind(folder: Path) -> str | None:
    """The kind recorded in ``folder``'s marker file, or None if it has none (or a bad one)."""
    f = Path(folder) / MARKER
    try:
        if f.is_symlink() or not f.is_file() or f.stat().st_size > 4096:
            return None
        data = json.loads(f.read_text())
    except (OSError, ValueError):
        return None
    return data.get("kind") if isinstance(data, dict) and isinstance(data.get("kind"), str) else None


def _write_marker(path: Path, kind: str) -> None:
    path.write_text(json.dumps({"kind": kind, "lne_version": __version__}) + "\n")


def mark(folder, kind: str) -> None:
    """Mark a folder that LNE uses in place (a pipeline work folder) as its own output of
    ``kind`` (written through a rename: never half a marker; never through a link)."""
    folder = Path(folder)
    if marker_kind(folder) == kind or (folder / MARKER).is_symlink():
        return
    tmp = folder / f".{MARKER}.{uuid.uuid4().hex[:8]}"
    _write_marker(tmp, kind)
    os.replace(tmp, folder / MARKER)


def _check_common(path: Path, what: str) -> Path:
    try:
        return _check_common_fs(path, what)
    except OSError as e:  # e.g. a path too long for the file system, a permission on the way
        reason = "the path is too long" if e.errno == errno.ENAMETOOLONG else (e.strerror or str(e))
        raise LNEError(f"{what} {_p(path)}: {reason}") from None


def _check_common_fs(path: Path, what: str) -> Path:
    text = str(path)
    if not text or "\0" in text:
        raise LNEError(f"{what} {_p(path)!s}: not a usable path")
    if len(path.name.encode("utf-8", "surrogateescape")) > _NAME_MAX - 24:  # room for the temporary prefix
        raise LNEError(f"{what} {_p(path)}: the name is too long ({len(path.name)} characters; "
                       f"at most {_NAME_MAX - 24})")
    try:
        full = Path(os.path.abspath(path))
        cwd = Path.cwd().resolve()
        real = full.resolve()
    except (OSError, RuntimeError) as e:
        raise LNEError(f"{what} {_p(path)}: cannot resolve the path ({e})") from None
    if len(os.fsencode(full)) > _PATH_MAX - 64:
        raise LNEError(f"{what} {_p(path)}: the path is too long ({len(os.fsencode(full))} bytes; "
                       f"at most {_PATH_MAX - 64})")
    if path.name in ("", ".", "..") or real == cwd or real in cwd.parents or real == Path(real.anchor):
        raise LNEError(f"{what} {_p(path)}: is the current folder or one above it; give a new folder name "
                       "(e.g. -o out/model)")
    if path.is_symlink():
        raise LNEError(f"{what} {_p(path)}: is a symbolic link; LNE does not write through links "
                       "(give the real path)")
    # the nearest existing ancestor must be a folder we can write into
    anc = full.parent
    while not anc.exists():
        if anc.is_symlink():  # a dangling link on the way
            raise LNEError(f"{what} {_p(path)}: {_p(anc)} is a broken symbolic link")
        anc = anc.parent
    if not anc.is_dir():
        raise LNEError(f"{what} {_p(path)}: {_p(anc)} is a file, not a folder")
    if not os.access(anc, os.W_OK | os.X_OK):
        raise LNEError(f"{what} {_p(path)}: cannot write into {_p(anc)} (read-only or permission denied)")
    return full


def check_folder(path, kind: str, force: bool = False, legacy: Callable[[Path], bool] | None = None,
                 what: str = "output folder") -> Path:
    """Check that ``path`` may become (or be replaced by) an output folder of ``kind``, before
    any work. ``legacy(path)`` may accept folders written by an LNE from before the marker."""
    path = Path(path)
    full = _check_common(path, what)
    try:
        if path.exists():
            if not path.is_dir():
                raise LNEError(f"{what} {_p(path)}: exists and is a file, not a folder; refusing to overwrite it")
            if not force and any(path.iterdir()):
                found = marker_kind(path)
                if found != kind and not (found is None and legacy is not None and _safe(legacy, path)):
                    other = f"it holds LNE's {found} output, not a {kind}" if found else "it was not written by LNE"
                    raise LNEError(f"{what} {_p(path)}: exists and {other}; refusing to overwrite it "
                                   "(choose another folder, empty it, or pass --force)")
    except OSError as e:
        raise LNEError(f"{what} {_p(path)}: cannot look into it: {e.strerror or e}") from None
    return full


def check_file(path, kind: str, force: bool = False, is_ours: Callable[[Path], bool] | None = None,
               what: str = "output file") -> Path:
    """Check that ``path`` may become (or replace) an output file of ``kind``."""
    path = Path(path)
    full = _check_common(path, what)
    try:
        if path.exists():
            if path.is_dir():
                raise LNEError(f"{what} {_p(path)}: is a folder")
            if not path.is_file():
                raise LNEError(f"{what} {_p(path)}: exists and is not a regular file")
            if not force and not (is_ours is not None and _safe(is_ours, path)):
                raise LNEError(f"{what} {_p(path)}: exists and is not {kind} written by LNE; refusing to overwrite "
                               "it (choose another name, or pass --force)")
    except OSError as e:
        raise LNEError(f"{what} {_p(path)}: cannot look at it: {e.strerror or e}") from None
    return full


def _safe(test: Callable[[Path], bool], path: Path) -> bool:
    """An ``is_ours`` / ``legacy`` test that fails (an unreadable or odd file) says "not ours"."""
    try:
        return bool(test(path))
    except Exception:  # noqa: BLE001 - any failure to recognise the file means: not ours
        return False


def same_file(a, b) -> bool:
    """Whether paths ``a`` and ``b`` name the same existing file (or folder)."""
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        return False


def _umask() -> int:
    """The process's umask, read without changing it where Linux tells (no window for threads)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o22)
    os.umask(mask)
    return mask


def _mkparent(full: Path, what: str) -> None:
    try:
        full.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise LNEError(f"{what} {_p(full)}: cannot create its folder: {e.strerror}") from None


def _rename_exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    AT_FDCWD, RENAME_EXCHANGE = -100, 2
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    return fn(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE) == 0


def swap_in(tmp: Path, final: Path) -> None:
    """Put the finished folder ``tmp`` at ``final`` (replacing what is there) atomically and
    delete the old one, which has by then been moved to a sibling LNE made."""
    if not final.exists():
        os.rename(tmp, final)
        return
    if _rename_exchange(tmp, final):
        shutil.rmtree(tmp, ignore_errors=True)  # tmp now holds the old output
        return
    old = final.with_name(f".{final.name}.lne-old-{uuid.uuid4().hex[:12]}")
    os.rename(final, old)
    os.rename(tmp, final)
    shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def output_folder(path, kind: str, force: bool = False, legacy: Callable[[Path], bool] | None = None,
                  what: str = "output folder", log: Callable[[str], None] | None = None):
    """Yield an empty temporary folder; on success mark it as ``kind`` and swap it in at ``path``.

        with output_folder(out, "bundle", force) as tmp:
            (tmp / "model.h").write_text(...)
    """
    final = check_folder(path, kind, force, legacy, what)
    _mkparent(final, what)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name[:200]}.lne-tmp-", dir=final.parent))
    except OSError as e:
        raise LNEError(f"{what} {_p(path)}: cannot write next to it: {e.strerror}") from None
    try:
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700 folders
        yield tmp
        _write_marker(tmp / MARKER, kind)
        replacing = final.exists() and any(final.iterdir())
        earlier = marker_kind(final) if replacing else None
        try:
            swap_in(tmp, final)
        except OSError as e:
            raise LNEError(f"{what} {_p(path)}: cannot put the new {kind} in place: {e.strerror or e}") from None
        if replacing and log:
            log(f"replaced the earlier {kind} in {_p(path)}" if earlier == kind or (earlier is None and not force)
                else f"replaced {_p(path)} (--force)")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


@contextlib.contextmanager
def output_file(path, kind: str, force: bool = False, is_ours: Callable[[Path], bool] | None = None,
                what: str = "output file"):
    """Yield a temporary sibling path to write; on success it replaces ``path`` atomically."""
    final = check_file(path, kind, force, is_ours, what)
    _mkparent(final, what)
    try:
        # the temporary file keeps the suffix: writers that pick the format by it (savefig) still can
        fd, tmp = tempfile.mkstemp(prefix=f".{final.name[:200]}.lne-tmp-", suffix=final.suffix[:16],
                                   dir=final.parent)
    except OSError as e:
        raise LNEError(f"{what} {_p(path)}: cannot write next to it: {e.strerror}") from None
    os.close(fd)
    tmp = Path(tmp)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files
        try:
            yield tmp
        except OSError as e:  # a full disk, a quota: said plainly
            raise LNEError(f"{what} {_p(path)}: cannot write it: {e.strerror or e}") from None
        try:
            os.replace(tmp, final)
        except OSError as e:
            raise LNEError(f"{what} {_p(path)}: cannot put the new file in place: {e.strerror or e}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def confine(root, rel, what: str) -> Path:
    """``root / rel`` for a path taken from a file (a run name, an archive member, a manifest
    entry): relative, no ``..``, no NUL, and not leaving ``root`` through a symbolic link."""
    text = os.fspath(rel)
    if not text or "\0" in text or os.path.isabs(text) or text.startswith("~"):
        raise LNEError(f"{what} {plain(text, 200)!r}: must be a relative name inside {_p(root)}")
    parts = Path(text).parts
    if any(p == ".." for p in parts):
        raise LNEError(f"{what} {plain(text, 200)!r}: must not contain '..'")
    root = Path(root)
    target = root / text
    try:
        real_root = root.resolve()
        real = target.resolve()
    except (OSError, RuntimeError) as e:
        raise LNEError(f"{what} {plain(text, 200)!r}: cannot resolve ({e})") from None
    if real != real_root and real_root not in real.parents:
        raise LNEError(f"{what} {plain(text, 200)!r}: leads outside {_p(root)} (through a symbolic link)")
    return target


# -- recognising LNE's own files -------------------------------------------------------------

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_PNG_KEY = b"lne-output"


def mark_png(path, kind: str) -> None:
    """Add a tEXt chunk ``lne-output: KIND`` right after the header of the PNG at ``path`` (a
    temporary file LNE just wrote), so that a later run knows it may replace it."""
    import struct
    import zlib

    path = Path(path)
    data = path.read_bytes()
    if not data.startswith(_PNG_MAGIC) or data[12:16] != b"IHDR":
        return
    end = 8 + 8 + struct.unpack(">I", data[8:12])[0] + 4  # magic, IHDR length + type, data, CRC
    body = b"tEXt" + _PNG_KEY + b"\0" + kind.encode("latin-1", "replace")[:200]
    chunk = struct.pack(">I", len(body) - 4) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)
    path.write_bytes(data[:end] + chunk + data[end:])


def png_is_ours(path) -> bool:
    """Whether the PNG at ``path`` carries the chunk mark_png adds (looked for before the image data)."""
    import struct

    from .limits import open_regular

    with open_regular(path, "the image") as f:
        head = f.read(1 << 16)
    if not head.startswith(_PNG_MAGIC):
        return False
    pos = 8
    while pos + 8 <= len(head):
        size, kind = struct.unpack(">I", head[pos:pos + 4])[0], head[pos + 4:pos + 8]
        if kind in (b"IDAT", b"IEND"):
            return False
        if kind == b"tEXt" and head[pos + 8:pos + 8 + size].split(b"\0", 1)[0] == _PNG_KEY:
            return True
        pos += 12 + size
    return False


def json_is_ours(path, test: Callable[[object], bool]) -> bool:
    """Whether the JSON file at ``path`` parses (bounded) to a document ``test`` recognises."""
    from .limits import load_json

    try:
        return bool(test(load_json(path, "the file")))
    except LNEError:
        return False


def onnx_is_ours(path) -> bool:
    """Whether the ONNX file at ``path`` was written by LNE (``producer_name`` "lne"); its
    external data, if any, is not read."""
    import onnx

    from .limits import open_regular

    try:
        with open_regular(path, "the model") as f:
            if os.fstat(f.fileno()).st_size > 2 << 30:  # past protobuf's limit: not a model LNE wrote
                return False
            data = f.read()  # the model only: its external data, if any, is not read
        model = onnx.load_model_from_string(data)
    except Exception:  # noqa: BLE001 - not readable as ONNX: not ours
        return False
    return model.producer_name == "lne"


@contextlib.contextmanager
def output_files(specs):
    """Several output files written all or nothing: ``specs`` is a list of
    ``(path, kind, force, is_ours[, what])``; yields the temporary paths in the same order.
    Every destination is checked before any is written."""
    specs = [tuple(s) + ("output file",) * (5 - len(s)) for s in specs]
    for path, kind, force, is_ours, what in specs:
        check_file(path, kind, force, is_ours, what)
    with contextlib.ExitStack() as stack:
        yield [stack.enter_context(output_file(path, kind, force, is_ours, what))
               for path, kind, force, is_ours, what in specs]
