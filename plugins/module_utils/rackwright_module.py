# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Glue shared by the rackwright health modules: reading saved outputs, running tools, turning
ParseError into fail_json. The parsers themselves stay pure (no I/O)."""

from ansible.module_utils.rackwright_health import ParseError

C_LOCALE = {"LC_ALL": "C", "LANG": "C"}


def read_text(module, path):
    """Contents of a saved tool output; fails the module with a clear message when unreadable."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError as exc:
        module.fail_json(msg=f"cannot read {path}: {exc.strerror or exc}", path=path)
    return None


def parse_or_fail(module, parser, *args, **kwargs):
    """Call a parser; a ParseError becomes fail_json naming the tool, the file and the line."""
    try:
        return parser(*args, **kwargs)
    except ParseError as exc:
        module.fail_json(msg=str(exc), tool=exc.tool, source=exc.source, line=exc.line)
    return None


def run_tool(module, args, environ=None):
    """Run a tool in the C locale; returns (rc, stdout, stderr)."""
    env = dict(C_LOCALE, **(environ or {}))
    return module.run_command(args, environ_update=env)


def find_tool(module, names):
    """First of several binary names found in PATH (plus sbin dirs), or None."""
    for name in names:
        path = module.get_bin_path(
            name, opt_dirs=["/usr/sbin", "/sbin", "/usr/local/sbin", "/opt/MegaRAID/storcli"]
        )
        if path:
            return path
    return None


def unknown_result(reason, **empty):
    """Result for a host where the data source is missing: health unknown with the reason."""
    result = {"changed": False, "health": "unknown", "reasons": [reason]}
    result.update(empty)
    return result


def first_line(text):
    """First non-empty line of tool output, for error messages."""
    for line in (text or "").splitlines():
        if line.strip():
            return line.strip()
    return ""
