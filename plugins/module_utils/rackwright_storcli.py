# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Parse Broadcom/LSI storcli and Dell perccli output (``/cALL show all J``, ``/cALL/eALL/sALL show all J``,
``show J``, ``/cX/fall show J``; plain-text ``/cX show all`` as a fallback).

Verdicts follow prometheus storcli.py, netdata's storcli collector and check_raid's megacli plugin:
controller not Optimal/OK, BBU/CacheVault not optimal, VD Dgrd/OfLn critical, Pdgd/Rec warning,
PD Offln/UBad/Failed/Msng critical, Rbld/Cpybck warning, media/other/predictive errors or SMART alert warning.
A failed storcli *command* is not an array failure: with data present it is only a note.
"""

import re

from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_health import (
    ParseError,
    Verdict,
    load_json,
    member,
    to_number,
)

TOOL = "storcli"

# virtual drive state -> (array state, health), written by health
VD_STATES = {
    vd_state: (state, health)
    for health, states in (
        ("ok", {"Optl": "optimal", "Cac": "optimal"}),
        ("warning", {"Pdgd": "degraded", "Rec": "rebuilding"}),
        ("critical", {"Dgrd": "degraded", "OfLn": "failed"}),
    )
    for vd_state, state in states.items()
}
# physical drive state -> health, written by health
PD_HEALTH = {
    pd_state: health
    for health, pd_states in (
        ("ok", "Onln GHS DHS UGood JBOD"),
        ("warning", "Rbld Cpybck UGUnsp Frgn"),
        ("critical", "Offln UBad Failed Msng"),
    )
    for pd_state in pd_states.split()
}
BBU_OK_CODES = (0, 8, 4096)
# storcli error codes that describe a condition of the controller rather than a failed query.
CONDITION_ERRORS = {59: "warning"}  # Incomplete foreign configuration
_DRIVE_KEY_RE = re.compile(r"^Drive (/c\d+/e\d*/s\d+)$")


def parse_storcli(text, source=None):
    """Parse storcli/perccli output (JSON, or plain text as fallback).

    Returns ``{"controllers": [...], "arrays": [...], "drives": [...]}``; every item has health and reasons.
    """
    doc = load_json(text, TOOL, source) if text.lstrip().startswith("{") else _text_to_doc(text, source)
    if not isinstance(doc, dict) or not isinstance(doc.get("Controllers"), list):
        raise ParseError(TOOL, source, None, "no 'Controllers' list: not storcli JSON output")
    if not doc["Controllers"]:
        raise ParseError(TOOL, source, None, "'Controllers' is an empty list: no controller reported")
    result = {"controllers": [], "arrays": [], "drives": []}
    for index, entry in enumerate(doc["Controllers"]):
        if not isinstance(entry, dict):
            raise ParseError(TOOL, source, None, f"'Controllers[{index}]' is not an object")
        _parse_controller(entry, index, result, source)
    return result


def _parse_controller(entry, index, result, source):
    where = f"Controllers[{index}]"
    status = member(entry, "Command Status", dict, TOOL, source, where)
    data = member(entry, "Response Data", dict, TOOL, source, where)
    for key in ("VD LIST", "PD LIST", "Drive Information", "BBU_Info", "Cachevault_Info", "System Overview"):
        rows = member(data, key, list, TOOL, source, where + ".Response Data")
        if any(not isinstance(row, dict) for row in rows):
            raise ParseError(TOOL, source, None, f"'{where}.Response Data.{key}' holds a non-object row")
    cid = status.get("Controller", index)
    prefix = f"/c{cid}"
    basics = data.get("Basics") or {}
    controller = {
        "name": prefix,
        "model": (basics.get("Model") or data.get("Product Name") or "").strip() or None,
        "status": None,
        "messages": [],
    }
    verdict = Verdict()
    if status.get("Status") == "Success" and not data:
        verdict.add(
            "unknown",
            "command succeeded but no controller data followed: output cut off? "
            "(expected storcli /call show all J output)",
        )
    if status.get("Status") != "Success":
        for detail in status.get("Detailed Status") or [{"ErrMsg": status.get("Description"), "ErrCd": None}]:
            code = detail.get("ErrCd")
            message = "storcli command failed: {} (ErrCd {})".format(detail.get("ErrMsg"), code)
            if not data:
                verdict.add("unknown", message + "; no data returned")
            elif code in CONDITION_ERRORS:
                verdict.add(
                    CONDITION_ERRORS[code],
                    "controller reports: {} (ErrCd {})".format(detail.get("ErrMsg"), code),
                )
            else:
                controller["messages"].append(message)
    ctl_status = data.get("Status") or {}
    if "Controller Status" in ctl_status:
        controller["status"] = ctl_status["Controller Status"]
        if controller["status"] not in ("Optimal", "OK"):
            level = "critical" if controller["status"] == "Failed" else "warning"
            verdict.add(level, "controller status {}".format(controller["status"]))
    bbu = ctl_status.get("BBU Status")
    if bbu is not None and bbu not in ("NA", "N/A") and to_number(bbu) not in BBU_OK_CODES:
        verdict.add("warning", f"BBU status code {bbu} (not 0/8/4096)")
    for key, label in (("BBU_Info", "BBU"), ("Cachevault_Info", "CacheVault")):
        for unit in data.get(key) or []:
            if unit.get("State") not in ("Optimal", None):
                verdict.add(
                    "warning", "{} {} state {}".format(label, unit.get("Model", ""), unit.get("State"))
                )
    for group in data.get("FOREIGN CONFIGURATION") or []:
        verdict.add(
            "warning",
            "foreign configuration DG {} {} ({}): import or clear it".format(
                group.get("DG"), group.get("Type"), group.get("State")
            ),
        )
    for overview in data.get("System Overview") or []:
        result["controllers"].append(_overview(overview))

    drives = _drives(prefix, data)
    result["drives"].extend(drives)
    for vd in data.get("VD LIST") or []:
        result["arrays"].append(_virtual_drive(prefix, vd, drives))
    if "System Overview" not in data or verdict.reasons:
        controller.update(verdict.as_dict())
        result["controllers"].append(controller)


def _overview(row):
    verdict = Verdict()
    if row.get("Hlth") != "Opt":
        verdict.add("warning", "controller health {}".format(row.get("Hlth")))
    if to_number(row.get("VNOpt")):
        verdict.add("critical", "{} virtual drive(s) not optimal".format(row["VNOpt"]))
    if to_number(row.get("DNOpt")):
        verdict.add("warning", "{} drive group(s) not optimal".format(row["DNOpt"]))
    controller = {
        "name": "/c{}".format(row.get("Ctl")),
        "model": row.get("Model"),
        "status": row.get("Hlth"),
        "messages": [],
    }
    controller.update(verdict.as_dict())
    return controller


def _slot_path(prefix, eid_slot):
    enclosure, _unused, slot = str(eid_slot).partition(":")
    return f"{prefix}/e{enclosure.strip()}/s{slot.strip()}"


def _drives(prefix, data):
    """Drives from PD LIST, 'Drive Information' and 'Drive /cX/eY/sZ' blocks (nested in HBA output)."""
    rows = {}
    details = {}
    sources = [data, data.get("Physical Device Information") or {}]
    for block in sources:
        for row in (block.get("PD LIST") or []) + (block.get("Drive Information") or []):
            rows[_slot_path(prefix, row.get("EID:Slt"))] = row
        for key, value in block.items():
            match = _DRIVE_KEY_RE.match(key)
            if match and isinstance(value, list) and value:
                rows[match.group(1)] = value[0]
            elif key.endswith(" - Detailed Information") and isinstance(value, dict):
                path = key[len("Drive ") : -len(" - Detailed Information")]
                details[path] = value.get(f"Drive {path} State") or {}
    return [_drive(path, row, details.get(path) or {}) for path, row in rows.items()]


def _drive(path, row, state):
    verdict = Verdict()
    pd_state = (row.get("State") or "").strip()
    level = PD_HEALTH.get(pd_state)
    if level is None and pd_state.endswith("Shld"):
        level = "warning"
    if level is None:
        verdict.add("unknown", f"drive state {pd_state} not recognised")
    elif level != "ok":
        verdict.add(level, f"drive state {pd_state}")
    counters = {}
    for key, label in (
        ("Media Error Count", "media errors"),
        ("Other Error Count", "other errors"),
        ("Predictive Failure Count", "predictive failures"),
    ):
        value = state.get(key)
        counters[label.replace(" ", "_")] = to_number(value) if value != "N/A" else None
        if to_number(value):
            verdict.add("warning", f"{label} {value} > 0")
    smart_alert = state.get("S.M.A.R.T alert flagged by drive")
    if smart_alert == "Yes":
        verdict.add("warning", "drive flagged a S.M.A.R.T alert")
    drive = {
        "device": path,
        "state": pd_state,
        "drive_group": row.get("DG"),
        "model": (row.get("Model") or "").strip() or None,
        "size": row.get("Size"),
        "interface": row.get("Intf"),
        "media": row.get("Med"),
        "smart_alert": smart_alert == "Yes" if smart_alert not in (None, "N/A") else None,
        "temperature_c": to_number(state.get("Drive Temperature")),
    }
    drive.update(counters)
    drive.update(verdict.as_dict())
    return drive


def _virtual_drive(prefix, vd, drives):
    group, _unused, vd_id = str(vd.get("DG/VD", "")).partition("/")
    vd_state = vd.get("State")
    state, level = VD_STATES.get(vd_state, (None, "unknown"))
    members = [d for d in drives if str(d["drive_group"]) == group]
    verdict = Verdict()
    if state is None:
        state = "degraded"
        verdict.add("unknown", f"virtual drive state {vd_state} not recognised")
    elif level != "ok":
        verdict.add(level, f"virtual drive state {vd_state} ({state})")
    if any(d["state"] == "Rbld" for d in members) and state == "degraded":
        state = "rebuilding"
    for drive in members:
        if drive["health"] != "ok":
            verdict.add(drive["health"], "member {}: {}".format(drive["device"], "; ".join(drive["reasons"])))
    array = {
        "name": f"{prefix}/v{vd_id}",
        "label": vd.get("Name") or None,
        "level": vd.get("TYPE"),
        "state": state,
        "rebuild_percent": None,
        "size": vd.get("Size"),
        "members": [{"device": d["device"], "state": d["state"]} for d in members],
        "source": "storcli",
    }
    array.update(verdict.as_dict())
    return array


def _text_to_doc(text, source):
    """Convert plain-text ``storcli /cX show all`` into the JSON document shape (first columns only)."""
    lines = text.splitlines()
    command, data = {}, {}
    section = None
    table = None
    dashes = 0
    header = None
    for lineno, line in enumerate(lines, 1):
        stripped = line.strip()
        following = lines[lineno].strip() if lineno < len(lines) else ""
        if stripped.endswith(":") and following and set(following) == {"="}:
            section, table, dashes, header = stripped[:-1].strip(), None, 0, None
            continue
        if not stripped or set(stripped) == {"="}:
            continue
        if set(stripped) == {"-"}:
            dashes += 1
            continue
        if section in ("Detailed Status", "VD LIST", "PD LIST"):
            if dashes == 1:
                header = stripped.split()
            elif dashes == 2 and header:
                table = (
                    data.setdefault(section, [])
                    if section != "Detailed Status"
                    else command.setdefault(section, [])
                )
                table.append(_text_row(section, stripped.split(), source, lineno))
            continue
        key, sep, value = stripped.partition(" = ")
        if not sep:
            continue
        if section is None:
            command[key.strip()] = to_number(value) if key.strip() == "Controller" else value.strip()
        else:
            data.setdefault(section, {})[key.strip()] = value.strip()
    if "Status" not in command and not data:
        raise ParseError(TOOL, source, 1, "neither JSON nor 'Key = value' text: not storcli output")
    if isinstance(data.get("Status"), dict) and "BBU Status" in data["Status"]:
        data["Status"]["BBU Status"] = to_number(data["Status"]["BBU Status"])
    return {"Controllers": [{"Command Status": command, "Response Data": data}]}


def _text_row(section, cells, source, lineno):
    if section == "Detailed Status":
        if len(cells) < 3:
            raise ParseError(TOOL, source, lineno, "short Detailed Status row")
        return {
            "Ctrl": cells[0],
            "Status": cells[1],
            "ErrCd": to_number(cells[2]),
            "ErrMsg": " ".join(cells[3:]),
        }
    if section == "VD LIST":
        if len(cells) < 3:
            raise ParseError(TOOL, source, lineno, "short VD LIST row")
        return {"DG/VD": cells[0], "TYPE": cells[1], "State": cells[2]}
    if len(cells) < 4:
        raise ParseError(TOOL, source, lineno, "short PD LIST row")
    return {
        "EID:Slt": cells[0],
        "DID": cells[1],
        "State": cells[2],
        "DG": to_number(cells[3]) if cells[3] != "-" else "-",
    }
