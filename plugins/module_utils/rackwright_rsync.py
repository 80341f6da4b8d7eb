# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""rsync for moving a service's data: the command of each phase, its exit code judged, its output parsed.

A server replacement copies in three kinds of pass (``../shared/notes/anchors-next.md``, c):

- ``bulk``: while the old server is live, repeated until the delta is small. Files that vanish while rsync
  reads the tree (exit 24) are expected there and counted, never an error;
- ``final``: after the freeze. Nothing may vanish now: exit 24 means something still writes, and fails;
- ``proof``: a checksum dry run (``-c -n``) after the final pass; any itemized line is a difference.

Every pass keeps owners (numeric ids), modes, ACLs, xattrs, hard links, sparse files and times
(``-aHAXS --numeric-ids``), and deletes on the destination what the source no longer has. Times are compared
to the nanosecond (``--modify-window=-1``): with the default whole-second comparison rsync leaves a directory,
symlink or FIFO it created in the same second as the source's mtime with the wrong nanoseconds, and the
verification's manifest then differs. Host to host the option goes to the receiving side only, as a long
option (``--remote-option``): that side decides which times to set, and rrsync, which restricts the new host's
copy key, refuses the short form ``-@-1`` rsync would send. Output is
``--itemize-changes`` (``YXcstpoguax path``; rsync escapes a newline in a name as ``\\#012``) and ``--stats``.
"""

import re

PHASES = ("bulk", "final", "proof")
BASE_OPTIONS = (
    "-aHAXS",
    "--numeric-ids",
    "--delete",
    "--itemize-changes",
    "--stats",
    "--no-human-readable",
)
# rsync's exit codes (rsync(1), EXIT VALUES) in a technician's words.
EXIT_CODES = {
    1: "syntax or usage error",
    2: "protocol incompatibility",
    3: "errors selecting input/output files or directories",
    5: "error starting the client-server protocol (is rsync installed on the destination?)",
    10: "error in socket I/O",
    11: "error in file I/O (is the destination full or read-only?)",
    12: "error in the rsync protocol data stream (the connection dropped?)",
    20: "interrupted (SIGUSR1 or SIGINT)",
    23: "partial transfer due to an error (some files could not be read or written)",
    24: "partial transfer: source files vanished while rsync read the tree",
    30: "timeout in data send/receive",
    35: "timeout waiting for the daemon connection",
    255: "the SSH connection failed (host key, key or address?)",
}
VANISHED = 24
_ITEM_RE = re.compile(r"^(?P<code>[<>ch.*][fdLDS][^ ]{9}|\*deleting) +(?P<path>.*)$")
_STAT_RE = re.compile(r"^(?P<name>[A-Z][A-Za-z ]+?): (?P<value>[\d,.]+)")
_VANISHED_RE = re.compile(r'^file has vanished: "(?P<path>.*)"')
STAT_KEYS = {
    "Number of files": "files",
    "Number of created files": "created",
    "Number of deleted files": "deleted",
    "Number of regular files transferred": "files_transferred",
    "Total file size": "total_bytes",
    "Total transferred file size": "bytes_transferred",
    "Literal data": "literal_bytes",
    "Total bytes sent": "bytes_sent",
    "Total bytes received": "bytes_received",
}


# --info=progress2: the whole pass's progress, rewritten in place after a carriage return, e.g.
# "    14680064  87%    1.02MB/s    0:00:13 (xfr#12, to-chk=3/20)" (--no-human-readable: the bytes whole).
_PROGRESS_RE = re.compile(
    r"^\s*(?P<bytes>[\d,]+)\s+(?P<percent>\d+)%\s+(?P<rate>\S+/s)\s+(?P<eta>\d+:\d\d:\d\d)(?:\s+\(.*\))?\s*$"
)


def command(phase, source, destination, rsh=None, excludes=(), bwlimit=None, rsync="rsync", progress=False):
    """argv of rsync for PHASE, copying the contents of directory SOURCE into DESTINATION (``host:path``
    with RSH, or a local path). PROGRESS adds the whole pass's progress to the output (``--info=progress2``,
    with the file list built first so that its percentage is of the whole pass)."""
    if phase not in PHASES:
        raise ValueError(f"phase must be one of {', '.join(PHASES)}, got {phase!r}")
    argv = [rsync, *BASE_OPTIONS]
    if progress:
        argv += ["--info=progress2", "--no-inc-recursive"]
    if phase == "proof":
        argv += ["--checksum", "--dry-run"]
    argv.append("--remote-option=--modify-window=-1" if rsh else "--modify-window=-1")
    if rsh:
        argv += ["--rsh", rsh]
    if bwlimit:
        argv.append(f"--bwlimit={bwlimit}")
    argv += [f"--exclude={pattern}" for pattern in excludes]
    return [*argv, source.rstrip("/") + "/", destination.rstrip("/") + "/"]


def _segments(stdout):
    return (segment for line in stdout.split("\n") for segment in line.split("\r"))


def progress(stdout):
    """The latest ``--info=progress2`` reading in STDOUT (or its tail): ``{bytes, percent, rate, eta}``, or
    None before the first."""
    latest = None
    for segment in _segments(stdout):
        found = _PROGRESS_RE.match(segment)
        if found:
            latest = found
    if latest is None:
        return None
    return {
        "bytes": int(latest["bytes"].replace(",", "")),
        "percent": int(latest["percent"]),
        "rate": latest["rate"],
        "eta": latest["eta"],
    }


def without_progress(stdout):
    """STDOUT less its ``--info=progress2`` readings (which rsync writes between the itemized lines)."""
    kept = [s for s in _segments(stdout) if s.strip() and not _PROGRESS_RE.match(s)]
    return "\n".join(kept) + ("\n" if kept else "")


def parse(stdout, stderr=""):
    """``{items: [{code, path}], stats: {...}, vanished: [paths]}`` from itemized output and --stats."""
    items, stats = [], {}
    for line in stdout.splitlines():
        found = _ITEM_RE.match(line)
        if found:
            items.append({"code": found["code"].strip(), "path": found["path"]})
            continue
        stat = _STAT_RE.match(line)
        if stat and stat["name"] in STAT_KEYS:
            stats[STAT_KEYS[stat["name"]]] = int(float(stat["value"].replace(",", "")))
    vanished = [m["path"] for m in map(_VANISHED_RE.match, stderr.splitlines()) if m]
    return {"items": items, "stats": stats, "vanished": vanished}


def judge(phase, returncode, parsed, stderr=""):
    """(ok, message) for a pass: what happened in one sentence, and whether the phase may go on."""
    items = parsed["items"]
    stats = parsed["stats"]
    if returncode == VANISHED and phase == "bulk":
        return True, (
            f"bulk pass: {len(items)} changes, {stats.get('bytes_transferred', 0)} bytes; "
            f"{len(parsed['vanished'])} files vanished while the service ran (expected while it is live)"
        )
    if returncode != 0:
        last = [line for line in stderr.splitlines() if line.strip()]
        why = EXIT_CODES.get(returncode, "unknown exit code")
        after = " after the freeze: something still writes to the data" if returncode == VANISHED else ""
        return False, f"{phase} pass failed: rsync exit {returncode} ({why}){after}" + (
            f": {last[-1]}" if last else ""
        )
    if phase == "proof":
        if items:
            shown = ", ".join(f"{i['code']} {i['path']}" for i in items[:10])
            return False, f"proof pass found {len(items)} differences after the final pass: {shown}"
        return True, "proof pass: a checksum comparison of every file found no difference"
    return True, f"{phase} pass: {len(items)} changes, {stats.get('bytes_transferred', 0)} bytes transferred"
