"""The one error type LNE raises for bad input; the CLI turns it into a message and exit code 2."""


class LNEError(Exception):
    """A problem with the user's model, arguments or environment, stated so they can fix it."""


class UnsupportedOpsError(LNEError):
    def __init__(self, path, unsupported: dict[str, list[str]]):
        from .limits import plain, show

        self.unsupported = unsupported
        lines = [f"{plain(str(path), 200)}: {len(unsupported)} unsupported op type(s):"]
        for op, nodes in sorted(unsupported.items())[:50]:
            shown = ", ".join(show(n) for n in nodes[:5])
            more = f" and {len(nodes) - 5} more" if len(nodes) > 5 else ""
            lines.append(f"  {plain(op)}: nodes {shown}{more}")
        if len(unsupported) > 50:
            lines.append(f"  ... and {len(unsupported) - 50} more op types")
        lines.append("Run `lne supported-ops` for the list of supported ops.")
        super().__init__("\n".join(lines))
