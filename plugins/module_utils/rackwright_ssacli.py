# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Parse HPE Smart Array text output of ssacli / hpssacli / hpacucli.

Understands ``ctrl all show config [detail]``, ``ctrl all show status`` and ``ctrl slot=N ld all show``.
Verdicts follow check_raid's hpacucli plugin and netdata's hpssa collector: an ``array X (Failed)``
header fails every logical drive in it, logical drive Failed / Interim Recovery Mode is critical,
Rebuild/Recover is a warning, controller/cache/battery status other than OK (or Not Configured) warns.
"""

import re

from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_health import ParseError, Verdict

TOOL = "ssacli"

# "<model> in Slot N [(Embedded)] [(RAID Mode)] [(sn: ...)]", or an external array "MSA1500 CS in MY STORAGE".
_CONTROLLER_RE = re.compile(
    r"^(\S.*?) in (Slot \w+(?: \([^)]*\))*|[A-Z0-9][A-Z0-9 _-]*?)\s*(?:\(sn: [^)]*\))?\s*$"
)
_CONTROLLER_WORDS = re.compile(r"Smart ?Array|Smart HBA|SmartRAID|\bMSA\d|\bHPE? |\bMSCC\b|\bE\d{3}i\b")
_ARRAY_SHORT_RE = re.compile(r"^array (\S+)(?: \((.*)\))?$")
_ARRAY_DETAIL_RE = re.compile(r"^Array: (\S+)$")
_LD_SHORT_RE = re.compile(r"^logicaldrive (\d+) \((.*)\)$")
_LD_DETAIL_RE = re.compile(r"^Logical Drive: (\d+)$")
_PD_SHORT_RE = re.compile(r"^physicaldrive (\S+) \((.*)\)$")
_PD_DETAIL_RE = re.compile(r"^physicaldrive (\S+)$")
_PROGRESS_RE = re.compile(r"(\d+(?:\.\d+)?)% complete")

# logical drive status -> (array state, health)
LD_STATES = {
    "ok": ("optimal", "ok"),
    "disabled": ("inactive", "ok"),
    "failed": ("failed", "critical"),
    "interim recovery mode": ("degraded", "critical"),
    "ready for rebuild": ("degraded", "critical"),
    "rebuilding": ("rebuilding", "warning"),
    "recovering": ("rebuilding", "warning"),
    "expanding": ("reshaping", "warning"),
    "transforming": ("reshaping", "warning"),
}
_UNIT_OK = ("OK", "Not Configured")
_CONTROLLER_KEYS = (
    ("Controller Status", "controller status"),
    ("Cache Status", "cache status"),
    ("Battery/Capacitor Status", "battery/capacitor status"),
)


def parse_ssacli(text, source=None):
    """Parse ssacli text; returns ``{"controllers": [...], "arrays": [...], "drives": [...]}``."""
    controllers, arrays, drives = [], [], []
    ctl = array = ld = pd = None
    for lineno, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped:
            continue
        indent = len(line) - len(line.lstrip())
        if stripped.startswith("Error:"):
            if "No controllers detected" in stripped or "does not have any logical" in stripped:
                continue
            raise ParseError(TOOL, source, lineno, stripped)
        if indent == 0:
            match = _CONTROLLER_RE.match(stripped)
            if (
                match
                and ":" not in match.group(1)
                and (match.group(2).startswith("Slot ") or _CONTROLLER_WORDS.search(match.group(1)))
            ):
                ctl = {"name": "{} in {}".format(*match.groups()), "fields": {}}
                controllers.append(ctl)
                array = ld = pd = None
                continue
            if ctl is None:
                continue  # banners such as "FIRMWARE UPGRADE REQUIRED: ..." precede the data
            raise ParseError(TOOL, source, lineno, f"unrecognised line {stripped[:80]!r}")
        if ctl is None:
            continue  # banner continuation lines
        if indent <= 3:
            ld = pd = None
            array = None
            match = _ARRAY_SHORT_RE.match(stripped) or _ARRAY_DETAIL_RE.match(stripped)
            if match:
                status = match.group(2) if match.re is _ARRAY_SHORT_RE else None
                array = {"controller": ctl, "name": match.group(1), "status": status, "lds": [], "pds": []}
                arrays.append(array)
                continue
            key, sep, value = stripped.partition(":")
            if sep and indent == 3:
                ctl["fields"].setdefault(key.strip(), value.strip())
            continue
        match = _LD_SHORT_RE.match(stripped)
        if match and array is not None:
            info = [part.strip() for part in match.group(2).split(",")]
            raid = [i for i, part in enumerate(info) if part.startswith("RAID")]
            status = info[raid[0] + 1] if raid and raid[0] + 1 < len(info) else info[-1]
            progress = _PROGRESS_RE.search(match.group(2))
            ld = {
                "id": match.group(1),
                "level": info[raid[0]] if raid else None,
                "status": status,
                "percent": float(progress.group(1)) if progress else None,
            }
            array["lds"].append(ld)
            continue
        match = _LD_DETAIL_RE.match(stripped)
        if match and array is not None:
            ld = {"id": match.group(1), "level": None, "status": None, "percent": None}
            array["lds"].append(ld)
            pd = None
            continue
        match = _PD_SHORT_RE.match(stripped) or _PD_DETAIL_RE.match(stripped)
        if match:
            status = match.group(2).split(",")[-1].strip() if match.re is _PD_SHORT_RE else None
            pd = _find_drive(drives, ctl, match.group(1))
            if pd is None:
                pd = {"controller": ctl, "id": match.group(1), "status": status}
                drives.append(pd)
            elif status:
                pd["status"] = status
            if array is not None and pd not in array["pds"]:
                array["pds"].append(pd)
            if match.re is _PD_DETAIL_RE:
                ld = None
            continue
        key, sep, value = stripped.partition(":")
        if not sep:
            continue
        key, value = key.strip(), value.strip()
        if key == "Status":
            target = pd if pd is not None else ld if ld is not None else array
            if target is not None and target["status"] is None:
                target["status"] = value
        elif key == "Fault Tolerance" and ld is not None:
            ld["level"] = f"RAID {value}"
    if not controllers and "No controllers detected" not in text:
        raise ParseError(TOOL, source, None, "no Smart Array controller header ('<model> in Slot N') found")
    result = _judge(controllers, arrays, drives)
    for ctl, item in zip(controllers, result["controllers"], strict=True):
        if (
            not ctl["fields"]
            and not any(a["controller"] is ctl for a in arrays)
            and not any(d["controller"] is ctl for d in drives)
        ):
            item["health"] = "unknown"
            item["reasons"] = [
                "controller header without status, arrays or drives: output cut off? "
                "(expected ssacli ctrl all show config detail or ctrl all show status)"
            ]
    return result


def _find_drive(drives, ctl, drive_id):
    for drive in drives:
        if drive["controller"] is ctl and drive["id"] == drive_id:
            return drive
    return None


def _drive_health(status):
    if status is None or status == "OK":
        return "ok", None
    lowered = status.lower()
    if "predictive" in lowered or "rebuild" in lowered:
        return "warning", f"physical drive status {status}"
    return "critical", f"physical drive status {status}"


def _judge(controllers, arrays, drives):
    result = {"controllers": [], "arrays": [], "drives": []}
    for ctl in controllers:
        verdict = Verdict()
        for key, label in _CONTROLLER_KEYS:
            value = ctl["fields"].get(key)
            if value is not None and value not in _UNIT_OK:
                level = "critical" if key == "Controller Status" else "warning"
                verdict.add(level, f"{label} {value}")
        item = {
            "name": ctl["name"],
            "model": ctl["name"].split(" in ")[0],
            "status": ctl["fields"].get("Controller Status"),
        }
        item.update(verdict.as_dict())
        result["controllers"].append(item)
    drive_items = {}
    for drive in drives:
        verdict = Verdict()
        level, reason = _drive_health(drive["status"])
        if reason:
            verdict.add(level, reason)
        item = {
            "device": "{} / physicaldrive {}".format(drive["controller"]["name"], drive["id"]),
            "state": drive["status"],
        }
        item.update(verdict.as_dict())
        drive_items[id(drive)] = item
        result["drives"].append(item)
    for array in arrays:
        lds = array["lds"] or [
            {"id": None, "level": None, "status": array["status"] or "OK", "percent": None}
        ]
        for ld in lds:
            result["arrays"].append(_logical_drive(array, ld, drive_items))
    return result


def _logical_drive(array, ld, drive_items):
    verdict = Verdict()
    status = ld["status"] or "OK"
    if array["status"] and "Failed" in array["status"]:
        state, level = "failed", "critical"
        verdict.add(
            "critical", "array {} status Failed (logical drive reports {})".format(array["name"], status)
        )
    else:
        state, level = LD_STATES.get(status.lower(), ("degraded", "unknown"))
        if level == "unknown":
            verdict.add("unknown", f"logical drive status {status} not recognised")
        elif level != "ok":
            verdict.add(level, f"logical drive status {status}")
    members = []
    for pd in array["pds"]:
        item = drive_items[id(pd)]
        members.append({"device": "physicaldrive {}".format(pd["id"]), "state": pd["status"] or "unknown"})
        if item["health"] != "ok":
            verdict.add(
                item["health"], "member physicaldrive {}: {}".format(pd["id"], "; ".join(item["reasons"]))
            )
    name = "{} / array {}".format(array["controller"]["name"], array["name"])
    if ld["id"] is not None:
        name += " / logicaldrive {}".format(ld["id"])
    result = {
        "name": name,
        "level": ld["level"],
        "state": state,
        "rebuild_percent": ld["percent"] if state in ("rebuilding", "reshaping") else None,
        "members": members,
        "source": "ssacli",
    }
    result.update(verdict.as_dict())
    return result
