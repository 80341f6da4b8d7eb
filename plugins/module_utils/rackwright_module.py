# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Glue shared by the rackwright health modules: reading saved outputs safely, running tools, turning
a parse problem into a health ``unknown`` that names the input. The parsers themselves stay pure (no I/O).

Saved outputs (``from_files``) are read with guards: only regular files (a FIFO, a device such as
/dev/zero or /dev/null, a directory or a socket is refused without blocking), at most MAX_INPUT_BYTES
(8 MiB; the largest real output the parsers were measured on is under 1 MiB), UTF-8 (UTF-16 with a byte
order mark, as PowerShell redirects write, is decoded too; undecodable bytes become U+FFFD).
"""

import codecs
import os
import re
import stat

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.errors import UnsupportedError

from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_health import (
    ParseError,
    Verdict,
    coerce_thresholds,
)

C_LOCALE = {"LC_ALL": "C", "LANG": "C"}
MAX_INPUT_BYTES = 8 * 1024 * 1024
FROM_FILES_SPEC = dict(type="raw")
_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)
# Exceptions a parser can raise on input of a shape it did not expect; anything else is a bug.
STRUCTURE_ERRORS = (
    TypeError,
    ValueError,
    AttributeError,
    KeyError,
    IndexError,
    ArithmeticError,
    RecursionError,
)


def saved_paths(module, expected):
    """The validated ``from_files`` list, or None for live mode (option left out).

    ``from_files`` is declared ``type=raw`` so a wrong type is named as such instead of being turned into a
    path such as ``'5'`` or ``''``. An empty list is an error: it must never switch to live mode silently.
    """
    value = module.params.get("from_files")
    if value is None:
        return None
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",")] if value.strip() else []
    if not isinstance(value, list):
        module.fail_json(
            msg=f"from_files must be a list of paths to saved {expected} files, "
            f"got {type(value).__name__} {value!r}"
        )
    if not value:
        module.fail_json(
            msg=f"from_files is empty: give at least one saved {expected} file, or leave from_files out "
            "to query this host's own tools (live mode)"
        )
    paths = []
    for index, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            module.fail_json(
                msg=f"from_files[{index}] must be the path of a saved {expected} file, "
                f"got {type(item).__name__} {item!r}"
            )
        paths.append(os.path.expanduser(os.path.expandvars(item)))
    return paths


def read_input(path, limit=MAX_INPUT_BYTES):
    """``(text, None)`` for a readable saved output, ``(None, problem)`` otherwise.

    Opens with O_NONBLOCK so a FIFO without a writer cannot hang the module, then refuses anything that
    is not a regular file; reads at most ``limit`` bytes.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        return None, f"cannot read {path}: {exc.strerror or exc}"
    try:
        info = os.fstat(fd)
        for test, kind in _KINDS:
            if test(info.st_mode):
                return None, f"cannot read {path}: it is {kind}, expected a regular file holding saved output"
        if info.st_size > limit:
            return None, (
                f"cannot read {path}: {info.st_size} bytes is over the {limit} byte limit for a saved tool "
                "output (real outputs are far smaller: is it the right file?)"
            )
        chunks = []
        size = 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        return None, f"cannot read {path}: {exc.strerror or exc}"
    finally:
        os.close(fd)
    if size > limit:
        return None, f"cannot read {path}: more than the {limit} byte limit for a saved tool output"
    return decode(b"".join(chunks)), None


def decode(data):
    """Text of tool output bytes: UTF-16 with a BOM, else UTF-8 (BOM dropped, bad bytes replaced)."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", errors="replace")
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    return data.decode("utf-8", errors="replace")


def parse_safely(tool, source, expected, parser, *args, **kwargs):
    """``(result, None)`` or ``(None, reason)``: the reason names the tool, the input and what was expected.

    A ParseError keeps its own message (file and line); an exception from input of an unexpected shape
    (a string where an object belongs) becomes a reason too, so no input can end in a traceback.
    """
    try:
        return parser(*args, **kwargs), None
    except ParseError as exc:
        message = str(exc)
    except STRUCTURE_ERRORS as exc:
        message = "{} output in {}: not understood ({}: {})".format(
            tool, source or "<input>", type(exc).__name__, str(exc)[:200]
        )
    if not re.search(r"\bexpected\b", message):
        message += f" (expected {expected})"
    return None, message


def parse_file(path, tool, expected, parser, *args, **kwargs):
    """Read a saved output, parse it as ``parser(text, *args)``: ``(result, None)`` or ``(None, why)``."""
    text, problem = read_input(path)
    if problem is not None:
        return None, problem
    return parse_safely(tool, path, expected, parser, text, *args, **kwargs)


def parse_saved_files(module, tool, expected, parser, *args):
    """Each saved output of ``from_files`` parsed as ``parser(text, path, *args)``: a list of
    ``(path, result, None)`` or ``(path, None, reason)`` (see parse_file), or None for live mode."""
    paths = saved_paths(module, expected)
    if paths is None:
        return None
    return [(saved,) + parse_file(saved, tool, expected, parser, saved, *args) for saved in paths]


def thresholds_or_fail(module, defaults):
    """``thresholds`` merged over the defaults; numeric strings accepted, anything else fails clearly."""
    try:
        return coerce_thresholds(module.params.get("thresholds"), defaults)
    except ValueError as exc:
        module.fail_json(msg=str(exc))
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


def finish(module, verdict, **result):
    """End a health module (they all read, never change): RESULT plus the verdict's health and reasons."""
    module.exit_json(**dict(result, changed=False, **verdict.as_dict()))


def finish_unknown(module, reason, **empty):
    """End a health module whose data source is missing: health unknown with REASON, EMPTY as the result."""
    verdict = Verdict()
    verdict.add("unknown", reason)
    finish(module, verdict, **empty)


def tool_failed(source, rc, out, err):
    """The reason a tool run gave no answer: SOURCE failed, its exit status and the first line it wrote."""
    return f"{source} failed (exit status {rc}): {first_line(err or out)}"


def first_line(text):
    """First non-empty line of tool output, for error messages."""
    for line in (text or "").splitlines():
        if line.strip():
            return line.strip()
    return ""


class CheckEnded(Exception):
    """A check run inside another module ended: RESULT (its exit_json), or FAILURE (its fail_json message)."""

    def __init__(self, result=None, failure=None):
        super().__init__(failure or "ended")
        self.result = result
        self.failure = failure


class CheckModule:
    """A check written as a module (its ``run(module)``) run inside another module (health_sweep): its own
    validated params; its exit_json and fail_json end the check (CheckEnded), not the process. Everything
    else (run_command, get_bin_path, check_mode, warn) is the real module's."""

    def __init__(self, module, params):
        self._module = module
        self.params = params

    def exit_json(self, **result):
        raise CheckEnded(result=result)

    def fail_json(self, msg, **kwargs):
        raise CheckEnded(failure=msg)

    def __getattr__(self, name):
        return getattr(self._module, name)


def run_check(module, spec, run, params):
    """``(result, None)`` of the check ``run`` with PARAMS validated against its module SPEC, or
    ``(None, why)`` for params the check refuses (the message names them) or a check that ended without a
    result."""
    validator = ArgumentSpecValidator(
        spec["argument_spec"], mutually_exclusive=spec.get("mutually_exclusive")
    )
    checked = validator.validate(dict(params or {}))
    if checked.error_messages:
        return None, "; ".join(
            f"unsupported option {error.msg}" if isinstance(error, UnsupportedError) else error.msg
            for error in checked.errors.errors
        )
    try:
        run(CheckModule(module, checked.validated_parameters))
    except CheckEnded as ended:
        return ended.result, ended.failure
    return None, "the check ended without a result"
