"""The one error type LNE raises for bad input; the CLI turns it into a message and exit code 2."""


class LNEError(Exception):
    """A problem with the user's model, arguments or environment, stated so they can fix it."""


class UnsupportedOpsError(LNEError):
    def __init__(self, path, unsupported: dict[str, list[str]]):
        self.unsupported = unsupported
        lines = [f"{path}: {len(unsupported)} unsupported op type(s):"]
        for op, nodes in sorted(unsupported.items()):
            shown = ", ".join(repr(n) for n in nodes[:5])
            more = f" and {len(nodes) - 5} more" if len(nodes) > 5 else ""
            lines.append(f"  {op}: nodes {shown}{more}")
        lines.append("Run `lne supported-ops` for the list of supported ops.")
        super().__init__("\n".join(lines))
