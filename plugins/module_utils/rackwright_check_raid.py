# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The raid check of the raid_health module, also run by health_sweep (one module run per host)."""

import os
import re

from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_health import ParseError, Verdict
from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_mdstat import (
    parse_mdadm_detail,
    parse_mdstat,
)
from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_module import (
    FROM_FILES_SPEC,
    find_tool,
    finish,
    parse_file,
    parse_safely,
    parse_saved_files,
    run_tool,
    tool_failed,
)
from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_ssacli import parse_ssacli
from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_storcli import parse_storcli

MDSTAT = "/proc/mdstat"
EXPECTED = "/proc/mdstat, mdadm --detail, storcli/perccli JSON or text, or ssacli text output"
STORCLI_NAMES = ("storcli64", "storcli", "perccli64", "perccli")
SSACLI_NAMES = ("ssacli", "hpssacli", "hpacucli")


def detect_format(text, path):
    """Format of a saved output, from its content."""
    stripped = text.lstrip()
    if stripped.startswith("Personalities"):
        return "mdstat"
    if re.search(r"^\s*Raid Level : ", text, re.MULTILINE):
        return "mdadm"
    if stripped.startswith("{") or re.search(r"^(Controller|CLI Version) = ", text, re.MULTILINE):
        return "storcli"
    if re.search(
        r"(^\S.* in Slot \w+|^Error: No controllers detected|^\s+logicaldrive \d+ |^\s+physicaldrive \S+)",
        text,
        re.MULTILINE,
    ):
        return "ssacli"
    raise ParseError(
        "raid_health",
        path,
        None,
        f"cannot tell which RAID tool produced this file (expected {EXPECTED}); set format",
    )


def parse_text(fmt, text, source):
    """Parse one output; returns dict with arrays/controllers/drives."""
    if fmt == "mdstat":
        return {"arrays": parse_mdstat(text, source), "controllers": [], "drives": []}
    if fmt == "mdadm":
        return {"arrays": [parse_mdadm_detail(text, source)], "controllers": [], "drives": []}
    if fmt == "storcli":
        return parse_storcli(text, source)
    return parse_ssacli(text, source)


def parse_any(text, path, fmt):
    """Detect (unless forced) and parse one saved output; an output that names nothing fails."""
    file_format = fmt if fmt != "auto" else detect_format(text, path)
    parsed = parse_text(file_format, text, path)
    stated_empty = file_format == "mdstat" or "No controllers detected" in text
    if not any(parsed[key] for key in ("arrays", "controllers", "drives")) and not stated_empty:
        raise ParseError(
            file_format,
            path,
            None,
            "no controller, array or drive in the output: cut off or not {}".format(
                "storcli/perccli output" if file_format == "storcli" else f"{file_format} output"
            ),
        )
    return parsed


def merge_detail(array, detail):
    """Combine an mdstat array with its mdadm --detail view: detail members, worst health, both reasons."""
    verdict = Verdict(array["health"])
    verdict.reasons = list(array["reasons"])
    for reason in detail["reasons"]:
        if reason not in verdict.reasons:
            verdict.add(detail["health"], reason)
    merged = dict(array, members=detail["members"] or array["members"])
    if detail["state"] in ("failed", "inactive") or (
        array["state"] == "optimal" and detail["state"] != "optimal"
    ):
        merged["state"] = detail["state"]
    merged.update(verdict.as_dict())
    return merged


def read_md(module, result):
    """Live /proc/mdstat, enriched by mdadm --detail."""
    arrays, problem = parse_file(MDSTAT, "mdstat", "/proc/mdstat", parse_mdstat, MDSTAT)
    if problem:
        result["unknown"].append(problem)
        return
    result["sources"].append(MDSTAT)
    mdadm = find_tool(module, ["mdadm"]) if module.params["mdadm_detail"] else None
    for index, array in enumerate(arrays):
        if mdadm and array["level"] != "container":
            rc, out, err = run_tool(module, [mdadm, "--detail", "/dev/{}".format(array["name"])])
            source = "mdadm --detail /dev/{}".format(array["name"])
            if out.strip() and rc in (0, 1, 2):
                detail, problem = parse_safely(
                    "mdadm", source, "mdadm --detail output", parse_mdadm_detail, out, source
                )
                if problem:
                    result["unknown"].append(problem)
                    continue
                arrays[index] = merge_detail(array, detail)
                result["sources"].append(source)
    result["arrays"].extend(arrays)


def add_parsed(result, parsed):
    """Add one parsed output's arrays, controllers and drives to the module result."""
    for key in ("arrays", "controllers", "drives"):
        result[key].extend(parsed[key])


# Live queries per controller tool: what its output must be, its parser, and whether (exit status, output)
# is an answer to parse. storcli's JSON is read whatever the exit status (a failed command still reports);
# ssacli's text only after success, or when it says there are no controllers.
LIVE = {
    "storcli": ("storcli JSON output", parse_storcli, lambda rc, out: out.lstrip().startswith("{")),
    "ssacli": (
        "ssacli text output",
        parse_ssacli,
        lambda rc, out: rc == 0 or "No controllers detected" in out,
    ),
}


def query(module, result, tool, binary, args):
    """Run ``binary args`` and parse its output as TOOL's: the parsed dict, or None once the reason (the exit
    status and first line of an output that is no answer, or the parse problem) is in the result."""
    expected, parser, answered = LIVE[tool]
    rc, out, err = run_tool(module, [binary] + args)
    source = " ".join([os.path.basename(binary)] + args)
    if not answered(rc, out):
        result["unknown"].append(tool_failed(source, rc, out, err))
        return None
    parsed, problem = parse_safely(tool, source, expected, parser, out, source)
    if problem:
        result["unknown"].append(problem)
        return None
    result["sources"].append(source)
    return parsed


def read_storcli(module, result, binary):
    for args in (["/call", "show", "all", "J", "nolog"], ["/call/eall/sall", "show", "all", "J", "nolog"]):
        parsed = query(module, result, "storcli", binary, args)
        if parsed is None:
            continue
        if args[0] == "/call/eall/sall":  # per-drive error counters replace the PD LIST rows
            detailed = {d["device"]: d for d in parsed["drives"]}
            result["drives"] = [detailed.pop(d["device"], d) for d in result["drives"]] + list(
                detailed.values()
            )
            continue
        add_parsed(result, parsed)


def read_ssacli(module, result, binary):
    parsed = query(module, result, "ssacli", binary, ["ctrl", "all", "show", "config", "detail"])
    if parsed is not None:
        add_parsed(result, parsed)


BUSY = {"rebuilding": "rebuild", "resyncing": "resync", "reshaping": "reshape"}


# The module's options (hw_inventory, disk_health, ...: AnsibleModule(**SPEC)); health_sweep validates a
# check's options against the same SPEC.
SPEC = dict(
    argument_spec=dict(
        format=dict(type="str", default="auto", choices=["auto", "mdstat", "mdadm", "storcli", "ssacli"]),
        from_files=FROM_FILES_SPEC,
        mdadm_detail=dict(type="bool", default=True),
    ),
    supports_check_mode=True,
)


def run(module):
    """Run the check with MODULE's params and end MODULE with its result (finish)."""
    fmt = module.params["format"]
    result = {"arrays": [], "controllers": [], "drives": [], "sources": [], "unknown": []}
    saved = parse_saved_files(module, "raid_health", EXPECTED, parse_any, fmt)
    if saved is not None:
        for path, parsed, problem in saved:
            if problem is not None:
                result["unknown"].append(problem)
                continue
            result["sources"].append(path)
            add_parsed(result, parsed)
    else:
        storcli = find_tool(module, STORCLI_NAMES) if fmt in ("auto", "storcli") else None
        ssacli = find_tool(module, SSACLI_NAMES) if fmt in ("auto", "ssacli") else None
        if fmt in ("auto", "mdstat", "mdadm") and os.path.exists(MDSTAT):
            read_md(module, result)
        elif fmt in ("mdstat", "mdadm"):
            result["unknown"].append(f"{MDSTAT} not found: md driver not loaded")
        if storcli:
            read_storcli(module, result, storcli)
        elif fmt == "storcli":
            result["unknown"].append(
                "none of {} found in PATH: install Broadcom storcli".format(", ".join(STORCLI_NAMES))
            )
        if ssacli:
            read_ssacli(module, result, ssacli)
        elif fmt == "ssacli":
            result["unknown"].append(
                "none of {} found in PATH: install HPE ssacli".format(", ".join(SSACLI_NAMES))
            )
        if not result["sources"] and not result["unknown"]:
            result["unknown"].append(
                f"no RAID source found: no {MDSTAT} and no storcli/perccli/ssacli in PATH"
            )

    busy = [a for a in result["arrays"] if a.get("state") in BUSY and a.get("rebuild_percent") is not None]
    if busy:  # the progress a watcher (the progress callback) turns into an estimate of the end
        slowest = min(busy, key=lambda a: a["rebuild_percent"])
        result["rackwright_progress"] = {
            "percent": slowest["rebuild_percent"],
            "what": f"{slowest['name']} {BUSY[slowest['state']]}",
        }
    verdict = Verdict()
    for reason in result.pop("unknown"):
        verdict.add("unknown", reason)
    for key, name in (("controllers", "name"), ("arrays", "name"), ("drives", "device")):
        for item in result[key]:
            verdict.absorb(item, item[name])
    finish(module, verdict, **result)
