# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Parse Linux software RAID state: ``/proc/mdstat`` and ``mdadm --detail /dev/mdX``.

Verdicts follow check_raid's mdstat plugin and mdadm's own State vocabulary: a degraded array
is critical unless it is rebuilding (warning), resync/reshape are warnings, a scrub (check) is ok,
a faulty member on an otherwise full array is a warning, inactive IMSM/DDF containers are normal.
"""

import re

from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_health import (
    ParseError,
    Verdict,
    to_decimal,
    to_number,
)

TOOL_MDSTAT = "mdstat"
TOOL_MDADM = "mdadm"

_ARRAY_RE = re.compile(r"^(md[\w/-]+)\s*:\s*(active|inactive)(?:\s+\(([^)]*)\))?\s*(.*)$")
_MEMBER_RE = re.compile(r"^(\S+?)\[(\d+)\]((?:\([A-Z]\))*)$")
_STATUS_RE = re.compile(r"\[(\d+)/(\d+)\]\s+\[([U_]+)\]")
_COUNT_RE = re.compile(r"\[(\d+)/(\d+)\]")
_PROGRESS_RE = re.compile(r"\b(resync|recovery|reshape|check|repair)\s*=\s*(\d+(?:[.,]\d+)?)%")
# Levels that always print "[n/m] [UU]"; without it the status line was cut off.
_REDUNDANT = ("raid1", "raid4", "raid5", "raid6", "raid10", "multipath")
_WAITING_RE = re.compile(r"^(resync|recovery|reshape|check)\s*=\s*(DELAYED|PENDING)$")
_FLAGS = {"F": "faulty", "S": "spare", "W": "active", "R": "replacement", "J": "journal"}
_ACTIONS = {
    "recovery": "rebuilding",
    "resync": "resyncing",
    "reshape": "reshaping",
    "check": "checking",
    "repair": "checking",
}


def parse_mdstat(text, source=None):
    """Arrays from /proc/mdstat: list of {name, level, state, rebuild_percent, members, health, reasons}."""
    lines = text.splitlines()
    if not lines or not lines[0].startswith("Personalities"):
        raise ParseError(
            TOOL_MDSTAT,
            source,
            1,
            "expected 'Personalities :' header, got {!r}".format((lines[:1] or [""])[0][:60]),
        )
    arrays = []
    current = None
    for lineno, line in enumerate(lines[1:], 2):
        stripped = line.strip()
        if not stripped or stripped.startswith("unused devices"):
            continue
        match = _ARRAY_RE.match(line)
        if match:
            current = _new_array(match, source, lineno)
            arrays.append(current)
            continue
        if current is None or not line[:1].isspace():
            raise ParseError(TOOL_MDSTAT, source, lineno, f"unrecognised line {stripped[:80]!r}")
        if " blocks" in stripped or _COUNT_RE.search(stripped):
            status = _STATUS_RE.search(stripped)
            count = status or _COUNT_RE.search(stripped)
            if count:
                current["raid_disks"], current["active_disks"] = int(count.group(1)), int(count.group(2))
            if status:
                current["status"] = status.group(3)
            current["status_line"] = True
            current["external"] = "super external:" in stripped
        elif _PROGRESS_RE.search(stripped):
            action, percent = _PROGRESS_RE.search(stripped).groups()
            current["action"], current["rebuild_percent"] = action, float(percent.replace(",", "."))
        elif _WAITING_RE.match(stripped):
            action, when = _WAITING_RE.match(stripped).groups()
            current["action"], current["waiting"] = action, when
        elif not stripped.startswith("bitmap:"):
            raise ParseError(TOOL_MDSTAT, source, lineno, f"unrecognised line {stripped[:80]!r}")
    if not arrays and not any(line.startswith("unused devices") for line in lines):
        raise ParseError(
            TOOL_MDSTAT,
            source,
            None,
            "no arrays and no 'unused devices:' line: output cut off? (expected complete /proc/mdstat)",
        )
    scrub_running = any(a["action"] in ("check", "repair") and not a["waiting"] for a in arrays)
    return [_judge_mdstat(array, scrub_running) for array in arrays]


def _new_array(match, source, lineno):
    name, activity, mode, rest = match.groups()
    tokens = rest.split()
    level = None
    if tokens and not _MEMBER_RE.match(tokens[0]):
        level = tokens.pop(0)
    members = []
    for token in tokens:
        member = _MEMBER_RE.match(token)
        if not member:
            raise ParseError(TOOL_MDSTAT, source, lineno, f"unrecognised member {token!r} of {name}")
        flags = re.findall(r"\(([A-Z])\)", member.group(3))
        state = _FLAGS.get(flags[0], "active") if flags else "active"
        members.append({"device": member.group(1), "index": int(member.group(2)), "state": state})
    return {
        "name": name,
        "level": level,
        "active": activity == "active",
        "read_only": bool(mode and "read-only" in mode),
        "members": members,
        "raid_disks": None,
        "active_disks": None,
        "status": None,
        "status_line": False,
        "external": False,
        "action": None,
        "waiting": None,
        "rebuild_percent": None,
    }


def _judge_mdstat(array, scrub_running):
    verdict = Verdict()
    members = array["members"]
    faulty = [m["device"] for m in members if m["state"] == "faulty"]
    missing = (array["raid_disks"] or 0) - (array["active_disks"] or 0)
    action, waiting, percent = array["action"], array["waiting"], array["rebuild_percent"]
    if waiting == "DELAYED" and action == "resync" and scrub_running and not missing:
        action = "check"  # check_raid: during a scheduled check the other arrays wait as resync=DELAYED
    if action == "recovery" and not waiting:
        for member in members:
            if member["state"] == "active" and member["index"] >= (array["raid_disks"] or 0):
                member["state"] = "rebuilding"

    if not array["active"]:
        if array["level"] is None and (array["external"] or all(m["state"] == "spare" for m in members)):
            state = "inactive"  # IMSM/DDF container: normal
        else:
            state = "inactive"
            verdict.add("critical", "array is inactive (not started)")
    elif array["level"] in _REDUNDANT and array["status"] is None:
        # The "[n/m] [UU]" status was lost (output cut mid-line or after the first line): never "optimal".
        if array["raid_disks"] and (array["active_disks"] or 0) < array["raid_disks"]:
            state = "degraded"
            verdict.add(
                "critical",
                "degraded: {} of {} members missing [{}/{}] (status line cut off)".format(
                    missing, array["raid_disks"], array["raid_disks"], array["active_disks"]
                ),
            )
        else:
            state = "unknown"
            verdict.add(
                "unknown",
                "{} without its '[n/m] [UU]' status {}: output cut off? "
                "(expected complete /proc/mdstat)".format(
                    array["level"], "line" if not array["status_line"] else "(line incomplete)"
                ),
            )
    elif array["level"] in ("raid0", "linear") or array["status"] is None:
        state = "failed" if faulty else "optimal"
        for device in faulty:
            verdict.add("critical", f"member {device} faulty (no redundancy)")
        faulty = []
    elif action == "reshape":
        state = "reshaping"
        verdict.add("warning", f"reshape {_progress(percent, waiting)}")
    elif missing > 0:
        gap = f"{missing} of {array['raid_disks']} members missing [{array['status']}]"
        # Members that are neither faulty nor spare but beyond the active count: a replacement is in.
        replacement = sum(1 for m in members if m["state"] not in ("faulty", "spare")) > (
            array["active_disks"] or 0
        )
        if action == "recovery" and not waiting:
            state = "rebuilding"
            verdict.add("warning", f"rebuilding {_progress(percent, None)} ({gap})")
        elif waiting and action in ("recovery", "resync") and replacement:
            # check_raid: resync=DELAYED behind another array's rebuild is a resync state, not a failure.
            state = "rebuilding"
            verdict.add(
                "warning",
                f"{action} {waiting.lower()} behind another array's rebuild, "
                f"replacement already added ({gap})",
            )
        else:
            state = "degraded"
            why = f"; recovery {waiting.lower()}" if waiting else ""
            verdict.add("critical", f"degraded: {gap}{why}")
    elif action == "resync":
        state = "resyncing"
        verdict.add("warning", f"resync {_progress(percent, waiting)}")
    elif action == "check":
        state = "checking"
    else:
        state = "optimal"
    for device in faulty:
        verdict.add("critical" if state == "degraded" else "warning", f"member {device} faulty")
    result = {
        "name": array["name"],
        "level": array["level"] or ("container" if array["external"] or not array["active"] else None),
        "state": state,
        "rebuild_percent": percent if action in ("recovery", "resync", "reshape") and not waiting else None,
        "members": [{"device": m["device"], "state": m["state"]} for m in members],
        "raid_disks": array["raid_disks"],
        "active_disks": array["active_disks"],
        "read_only": array["read_only"],
        "source": "mdstat",
    }
    result.update(verdict.as_dict())
    return result


def _progress(percent, waiting):
    if waiting:
        return waiting.lower()
    return f"{percent:g}% in progress" if percent is not None else "in progress"


_MDADM_ROW_RE = re.compile(r"^\s*(\d+|-)\s+(\d+)\s+(\d+)\s+(\d+|-)\s+(.*?)\s*(/dev/\S+)?\s*$")
_MDADM_PROGRESS_RE = re.compile(r"^(Rebuild|Resync|Reshape|Check) Status$")


def parse_mdadm_detail(text, source=None):
    """One array dict (same shape as parse_mdstat items) from ``mdadm --detail /dev/mdX``."""
    lines = text.splitlines()
    name = None
    fields = {}
    members = []
    in_table = False
    progress = None
    for lineno, line in enumerate(lines, 1):
        stripped = line.strip()
        if not stripped:
            continue
        if name is None:
            if not stripped.startswith("/dev/") or not stripped.endswith(":"):
                raise ParseError(
                    TOOL_MDADM, source, lineno, f"expected '/dev/mdX:' header, got {stripped[:60]!r}"
                )
            name = stripped[5:-1]
            continue
        if stripped.startswith("Number") and "RaidDevice" in stripped:
            in_table = True
            continue
        if in_table:
            row = _MDADM_ROW_RE.match(line)
            if not row:
                raise ParseError(TOOL_MDADM, source, lineno, f"unrecognised device row {stripped[:80]!r}")
            words = row.group(5).split()
            members.append({"device": row.group(6) or f"slot {row.group(4)}", "state": _member_state(words)})
            continue
        key, sep, value = stripped.partition(" : ")
        if not sep:
            key, sep, value = stripped.partition(":")
        if not sep:
            raise ParseError(TOOL_MDADM, source, lineno, f"expected 'Key : value', got {stripped[:80]!r}")
        key, value = key.strip(), value.strip()
        fields[key] = value
        if _MDADM_PROGRESS_RE.match(key):
            progress = (key.split()[0].lower(), to_decimal(value.split("%")[0]))
    if name is None or "Raid Level" not in fields or "State" not in fields:
        raise ParseError(
            TOOL_MDADM, source, None, "no 'Raid Level'/'State' fields: not mdadm --detail output"
        )
    return _judge_mdadm(name, fields, members, progress)


def _member_state(words):
    if "faulty" in words:
        return "faulty"
    if "rebuilding" in words:
        return "rebuilding"
    if "removed" in words:
        return "removed"
    if "spare" in words:
        return "spare"
    if "active" in words or "sync" in words:
        return "active"
    return " ".join(words) or "unknown"


# mdadm --detail "State" words -> (array state, health, reason): the first row whose words are all there
# wins; none of them is a clean array (optimal). A running check (scrub) is ok.
_MDADM_STATES = (
    ({"failed"}, "failed", "critical", "array FAILED ({gap})"),
    ({"inactive"}, "inactive", "critical", "array is inactive (not started)"),
    ({"degraded", "recovering"}, "rebuilding", "warning", "rebuilding {progress} ({gap})"),
    ({"degraded"}, "degraded", "critical", "degraded: {gap}"),
    ({"reshaping"}, "reshaping", "warning", "reshape {progress}"),
    ({"resyncing"}, "resyncing", "warning", "resync {progress}"),
    ({"checking"}, "checking", None, None),
)


def _judge_mdadm(name, fields, members, progress):
    words = {w.strip().lower() for w in fields["State"].split(",")}
    verdict = Verdict()
    percent = progress[1] if progress else None
    failed_devices = to_number(fields.get("Failed Devices")) or 0
    gap = "{} of {} devices active".format(fields.get("Active Devices", "?"), fields.get("Raid Devices", "?"))
    state = "optimal"
    for needed, row_state, health, reason in _MDADM_STATES:
        if needed <= words:
            state = row_state
            if health:
                verdict.add(health, reason.format(gap=gap, progress=_progress(percent, None)))
            break
    for member in members:
        if member["state"] == "faulty":
            verdict.add(
                "critical" if state in ("degraded", "failed") else "warning",
                "member {} faulty".format(member["device"]),
            )
    if failed_devices and not any(m["state"] == "faulty" for m in members):
        verdict.add("warning", f"{failed_devices} failed device(s) reported")
    raid_disks = fields.get("Raid Devices")
    active = fields.get("Active Devices")
    result = {
        "name": name,
        "level": fields["Raid Level"],
        "state": state,
        "rebuild_percent": percent if state in ("rebuilding", "resyncing", "reshaping") else None,
        "members": members,
        "raid_disks": int(raid_disks) if raid_disks and raid_disks.isdigit() else None,
        "active_disks": int(active) if active and active.isdigit() else None,
        "read_only": "read-only" in fields["State"],
        "source": "mdadm",
    }
    result.update(verdict.as_dict())
    return result
