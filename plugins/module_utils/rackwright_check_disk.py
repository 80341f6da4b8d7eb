# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The disk check of the disk_health module, also run by health_sweep (one module run per host)."""

from concurrent.futures import ThreadPoolExecutor

from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_health import (
    ParseError,
    load_json,
    rollup,
)
from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_module import (
    FROM_FILES_SPEC,
    finish,
    finish_unknown,
    first_line,
    parse_safely,
    parse_saved_files,
    run_tool,
    thresholds_or_fail,
    tool_failed,
)
from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_nvme import (
    is_smart_log,
    parse_smart_log,
)
from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_smartctl import (
    DEFAULT_THRESHOLDS,
    parse_scan,
    parse_smartctl_json,
    parse_smartctl_text,
)

EXPECTED = "smartctl --json -x JSON, smartctl -a/-x text or nvme smart-log -o json output"


def parse_saved(text, path, thresholds):
    """Parse one saved document: smartctl JSON, smartctl -a/-x text or nvme-cli smart-log JSON."""
    stripped = text.lstrip()
    if not stripped:
        raise ParseError("smartctl", path, None, f"the file is empty (expected {EXPECTED})")
    if stripped.startswith(("{", "[")):
        doc = load_json(text, "smartctl", path)
        if is_smart_log(doc):
            return parse_smart_log(text, path, thresholds)
        return parse_smartctl_json(text, path, thresholds)
    return parse_smartctl_text(text, path, thresholds)


def unknown_disk(name, reason, device_type=None):
    """A disk entry for a disk or file that gave no usable data: health unknown with the reason."""
    disk = dict.fromkeys(
        (
            "protocol",
            "model",
            "serial",
            "firmware",
            "capacity_bytes",
            "rotation_rate",
            "power_on_hours",
            "temperature_c",
            "smart_passed",
            "percentage_used",
            "exit_status",
        )
    )
    disk.update(
        device=name, type=device_type, exit_flags=[], attributes={}, health="unknown", reasons=[reason]
    )
    return disk


def discover(module, smartctl):
    """Devices from smartctl --scan-open; a failing scan gives (None, reason)."""
    rc, out, err = run_tool(module, [smartctl, "--scan-open", "--json"])
    if rc & 0b11 or not out.strip():
        return None, tool_failed("smartctl --scan-open", rc, out, err)
    source = "smartctl --scan-open --json"
    devices, problem = parse_safely(
        "smartctl", source, "smartctl --scan-open --json output", parse_scan, out, source
    )
    if problem is not None:
        return None, problem
    return [{"name": d["name"], "type": d["type"]} for d in devices if not d["open_error"]], None


def query(module, smartctl, device, thresholds, standby_skip):
    """Run smartctl on one device and judge it. Output that does not parse makes this disk unknown,
    never the whole module fail: the other disks' verdicts must still be reported."""
    args = [smartctl, "--json", "-x"]
    if device.get("type"):
        args += ["-d", device["type"]]
    if standby_skip:
        args += ["-n", "standby"]
    args.append(device["name"])
    source = " ".join(["smartctl"] + args[1:])
    # Pass-through disks share one node (/dev/sda with megaraid,0 and megaraid,1): name the slot too.
    passthrough = "," in (device.get("type") or "")
    name = "{} [{}]".format(device["name"], device["type"]) if passthrough else device["name"]
    try:
        rc, out, err = run_tool(module, args)
    except Exception as exc:  # noqa: BLE001 - one disk's failure must not hide the others
        return unknown_disk(name, f"{source} could not run: {exc}", device.get("type"))
    if not out.strip():
        return unknown_disk(
            name, f"smartctl produced no output (exit status {rc}): {first_line(err)}", device.get("type")
        )
    disk, problem = parse_safely(
        "smartctl", source, "smartctl --json output", parse_smartctl_json, out, source, thresholds, rc=rc
    )
    if problem is not None:
        return unknown_disk(name, problem, device.get("type"))
    disk["device"] = name
    return disk


# The module's options (hw_inventory, disk_health, ...: AnsibleModule(**SPEC)); health_sweep validates a
# check's options against the same SPEC.
SPEC = dict(
    argument_spec=dict(
        devices=dict(
            type="list",
            elements="dict",
            options=dict(name=dict(type="str", required=True), type=dict(type="str")),
        ),
        from_files=FROM_FILES_SPEC,
        parallel=dict(type="int", default=8),
        standby_skip=dict(type="bool", default=False),
        thresholds=dict(type="dict", default={}),
    ),
    mutually_exclusive=[("devices", "from_files")],
    supports_check_mode=True,
)


def run(module):
    """Run the check with MODULE's params and end MODULE with its result (finish)."""
    thresholds = thresholds_or_fail(module, DEFAULT_THRESHOLDS)
    saved = parse_saved_files(module, "smartctl", EXPECTED, parse_saved, thresholds)

    if saved is not None:
        disks = [disk if problem is None else unknown_disk(path, problem) for path, disk, problem in saved]
    else:
        smartctl = module.get_bin_path("smartctl")
        if not smartctl:
            finish_unknown(module, "smartctl not found in PATH: install smartmontools", disks=[])
        devices = module.params["devices"]
        if not devices:
            devices, failure = discover(module, smartctl)
            if failure:
                finish_unknown(module, failure, disks=[])
        workers = max(1, min(module.params["parallel"], len(devices) or 1))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            disks = list(
                pool.map(
                    lambda dev: query(module, smartctl, dev, thresholds, module.params["standby_skip"]),
                    devices,
                )
            )

    verdict = rollup(disks, "device", empty_health="unknown", empty_reason="no disks found")
    finish(module, verdict, disks=disks)
