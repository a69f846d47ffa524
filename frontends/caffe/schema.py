"""Message classes for LNE's Caffe schema, built at import time from caffe.proto.

caffe.proto is the one source of truth. The protobuf package cannot read .proto text by
itself, so `_parse` reads the proto2 subset that file uses (package, top-level and nested
messages and enums, optional/repeated/required scalar, enum and message fields with [default]
and [packed] options, // comments) into a FileDescriptorProto; `message_factory` then makes
the classes. No generated code is committed and protoc is not needed.
"""
from __future__ import annotations

import re
from pathlib import Path

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

PROTO = Path(__file__).with_name("caffe.proto")

_FD = descriptor_pb2.FieldDescriptorProto
_SCALARS = {
    "double": _FD.TYPE_DOUBLE, "float": _FD.TYPE_FLOAT, "int64": _FD.TYPE_INT64, "uint64": _FD.TYPE_UINT64,
    "int32": _FD.TYPE_INT32, "uint32": _FD.TYPE_UINT32, "bool": _FD.TYPE_BOOL, "string": _FD.TYPE_STRING,
    "bytes": _FD.TYPE_BYTES,
}
_LABELS = {"optional": _FD.LABEL_OPTIONAL, "repeated": _FD.LABEL_REPEATED, "required": _FD.LABEL_REQUIRED}
_TOKEN = re.compile(r'\s*(//[^\n]*|"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|[A-Za-z_][\w.]*|-?[\d.][\w.+-]*|\S)?')


class SchemaError(Exception):
    """caffe.proto uses something this small parser does not read (a bug in LNE, not user input)."""


def _tokens(text: str) -> list[str]:
    out, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m.end() == pos:
            break
        pos = m.end()
        tok = m.group(1)
        if tok and not tok.startswith("//"):
            out.append(tok)
    return out


class _Parser:
    def __init__(self, text: str):
        self.toks, self.i = _tokens(text), 0

    def peek(self) -> str | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, expected: str | None = None) -> str:
        tok = self.peek()
        if tok is None or (expected is not None and tok != expected):
            raise SchemaError(f"caffe.proto: expected {expected or 'a token'!r}, got {tok!r} (token {self.i})")
        self.i += 1
        return tok

    def file(self) -> descriptor_pb2.FileDescriptorProto:
        fdp = descriptor_pb2.FileDescriptorProto(name="lne_caffe.proto", syntax="proto2")
        while self.peek() is not None:
            tok = self.take()
            if tok == "syntax":
                self.take("=")
                self.take()
                self.take(";")
            elif tok == "package":
                fdp.package = self.take()
                self.take(";")
            elif tok == "message":
                self.message(fdp.message_type.add())
            elif tok == "enum":
                self.enum(fdp.enum_type.add())
            else:
                raise SchemaError(f"caffe.proto: unexpected {tok!r} at top level")
        return fdp

    def enum(self, ed) -> None:
        ed.name = self.take()
        self.take("{")
        while self.peek() != "}":
            name = self.take()
            self.take("=")
            ed.value.add(name=name, number=int(self.take()))
            self.take(";")
        self.take("}")

    def message(self, md) -> None:
        md.name = self.take()
        self.take("{")
        while self.peek() != "}":
            tok = self.take()
            if tok == "message":
                self.message(md.nested_type.add())
            elif tok == "enum":
                self.enum(md.enum_type.add())
            elif tok in _LABELS:
                self.field(md.field.add(), tok)
            else:
                raise SchemaError(f"caffe.proto: unexpected {tok!r} in message {md.name}")
        self.take("}")

    def field(self, fd, label: str) -> None:
        fd.label = _LABELS[label]
        type_name = self.take()
        fd.name = self.take()
        self.take("=")
        fd.number = int(self.take())
        if type_name in _SCALARS:
            fd.type = _SCALARS[type_name]
        else:
            fd.type_name = type_name  # resolved once every message and enum is known
        if self.peek() == "[":
            self.take("[")
            while True:
                key = self.take()
                self.take("=")
                value = self.take()
                if key == "default":
                    fd.default_value = value.strip("\"'")
                elif key == "packed":
                    fd.options.packed = value == "true"
                else:
                    raise SchemaError(f"caffe.proto: unsupported field option {key!r} on {fd.name}")
                if self.take() == "]":
                    break
        self.take(";")


def _resolve(fdp) -> None:
    """Give every message/enum-typed field its full type name and kind, innermost scope first."""
    kinds: dict[str, int] = {}

    def collect(prefix, messages, enums):
        for e in enums:
            kinds[f"{prefix}.{e.name}"] = _FD.TYPE_ENUM
        for m in messages:
            kinds[f"{prefix}.{m.name}"] = _FD.TYPE_MESSAGE
            collect(f"{prefix}.{m.name}", m.nested_type, m.enum_type)

    root = f".{fdp.package}"
    collect(root, fdp.message_type, fdp.enum_type)

    def fix(scope, messages):
        for m in messages:
            here = f"{scope}.{m.name}"
            for f in m.field:
                if not f.type_name:
                    continue
                for s in (here, scope, root):
                    full = f"{s}.{f.type_name}"
                    if full in kinds:
                        f.type_name, f.type = full, kinds[full]
                        break
                else:
                    raise SchemaError(f"caffe.proto: unknown type {f.type_name!r} of field {m.name}.{f.name}")
            fix(here, m.nested_type)

    fix(root, fdp.message_type)


def _build():
    fdp = _Parser(PROTO.read_text()).file()
    _resolve(fdp)
    pool = descriptor_pool.DescriptorPool()  # private: never clashes with another "caffe" package
    pool.Add(fdp)
    make = getattr(message_factory, "GetMessageClass", None) or message_factory.MessageFactory(pool).GetPrototype
    return {m.name: make(pool.FindMessageTypeByName(f"{fdp.package}.{m.name}")) for m in fdp.message_type}


MESSAGES = _build()
NetParameter = MESSAGES["NetParameter"]
LayerParameter = MESSAGES["LayerParameter"]
BlobProto = MESSAGES["BlobProto"]
BlobShape = MESSAGES["BlobShape"]
