#!/usr/bin/python
# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module disk_health: SMART health of every disk, judged from smartctl JSON."""

# ruff: noqa: E402 - Ansible modules keep DOCUMENTATION/EXAMPLES/RETURN before the imports.

DOCUMENTATION = r"""
---
module: disk_health
short_description: Judge the SMART health of every disk (SATA, SAS, NVMe, RAID pass-through)
description:
  - Runs C(smartctl --json -x) on every disk found by C(smartctl --scan-open --json), or on the disks given in
    O(devices) (for example drives behind a MegaRAID or Smart Array controller), in parallel from one module
    run.
  - Alternatively parses saved C(smartctl --json -x) documents, C(smartctl -a)/C(-x) text of SATA, NVMe and
    SAS disks (the form most often saved; the self-test log, ATA error count and attribute table are read
    from it) or C(nvme smart-log -o json) output given in O(from_files). Text and JSON of the same disk are
    judged by the same rules.
  - The JSON is evaluated even when smartctl exits non-zero; only exit-status bits 0/1 (command line error,
    device open failed) mean "no data" and give health C(unknown). Bit 3 (disk failing) is critical, bit 7
    (self-test errors) a warning, bit 6 (error log entries) is ignored unless O(thresholds) sets
    C(error_log_warning).
  - "Verdict rules (after check_smart, scrutiny and smartctl_exporter): SMART overall-health failed or an
    attribute with C(when_failed=now) is critical, C(when_failed=past) a warning; raw reallocated (5),
    reallocation events (196), pending (197), offline uncorrectable (198) and reported uncorrectable (187)
    counts above their threshold warn (packed raw values of ids 1/7/188/190/194 are never read as counts);
    SAS grown defects and uncorrected read/write/verify errors warn; NVMe critical_warning != 0 and available
    spare below its threshold are critical, media errors warn; endurance used (NVMe percentage_used, SAS
    endurance indicator or SSD wear attributes 177/231/233/202) and temperature are checked against
    thresholds."
  - A missing smartctl gives health C(unknown) with the reason; the module never fails for it. A disk whose
    smartctl output cannot be parsed is reported as C(unknown) beside the other disks' verdicts, never
    hiding them.
  - A document that says PASSED but carries no model/serial or no attribute table / health log (a cut-down
    or hand-made file) gives C(unknown), as it cannot vouch for a disk.
  - O(thresholds) values may be numbers or numeric strings (as AWX surveys and C(-e key=value) give them);
    anything else fails the module naming the key.
  - Read-only; always returns RV(ignore:changed=false).
version_added: "1.0.0"
author: rackwright contributors (!UNKNOWN)
extends_documentation_fragment:
  - rackwright.infra.from_files
options:
  devices:
    description:
      - Disks to query instead of discovering them with C(smartctl --scan-open --json).
    type: list
    elements: dict
    suboptions:
      name:
        description: Device node, for example C(/dev/sda) or C(/dev/nvme0).
        type: str
        required: true
      type:
        description:
          - smartctl C(-d) device type, for example C(sat), C(nvme), C(megaraid,0), C(sat+megaraid,1),
            C(cciss,2).
          - Omitted means smartctl's auto-detection.
        type: str
  parallel:
    description: Number of smartctl processes run at the same time.
    type: int
    default: 8
  standby_skip:
    description:
      - Pass C(-n standby) so sleeping disks are not spun up. Such disks then report exit status bit 1 and
        health C(unknown).
    type: bool
    default: false
  thresholds:
    description:
      - Overrides for the verdict thresholds. Counters warn when the raw value is greater than the threshold.
      - "Keys and defaults: C(reallocated_warning=0), C(pending_warning=0),
        C(offline_uncorrectable_warning=0),
        C(reported_uncorrect_warning=0), C(reallocated_event_warning=0), C(load_cycle_warning=550000),
        C(load_cycle_critical=600000), C(grown_defects_warning=0), C(uncorrected_errors_warning=0),
        C(media_errors_warning=0), C(percentage_used_warning=80), C(percentage_used_critical=100),
        C(temperature_warning=55), C(temperature_critical=65), C(nvme_temperature_warning=70),
        C(nvme_temperature_critical=80), C(error_log_warning=false)."
    type: dict
    default: {}
notes:
  - Needs root to open the disks. Runs smartctl with C(LC_ALL=C).
  - Supports check mode; the module never changes anything.
seealso:
  - module: rackwright.infra.raid_health
"""

EXAMPLES = r"""
- name: Check every disk smartctl can find
  disk_health:
  register: disks

- name: Drives behind a MegaRAID controller, stricter reallocation limit
  disk_health:
    devices:
      - {name: /dev/sda, type: "megaraid,0"}
      - {name: /dev/sda, type: "megaraid,1"}
    thresholds:
      reallocated_warning: 10

- name: Judge saved reports collected earlier
  disk_health:
    from_files:
      - /var/tmp/smart/sda.json
      - /var/tmp/smart/nvme0.json
  delegate_to: localhost

- name: Fail the play on a critical disk
  ansible.builtin.assert:
    that: disks.health != 'critical'
    fail_msg: "{{ disks.reasons | join('; ') }}"
"""

RETURN = r"""
health:
  description:
    - Worst health of all disks (C(ok), C(unknown), C(warning), C(critical)); C(unknown) when no disk was
      found.
  returned: always
  type: str
  sample: warning
reasons:
  description: Every disk's reasons, prefixed with the device.
  returned: always
  type: list
  elements: str
  sample: ["/dev/sda: reallocated sectors 304 > 0"]
disks:
  description: One entry per disk.
  returned: always
  type: list
  elements: dict
  contains:
    device:
      description: Device node (the file path when parsing a file without device info).
      type: str
    type:
      description: smartctl device type (C(sat), C(nvme), C(sat+megaraid,0) ...).
      type: str
    protocol:
      description: C(ATA), C(SCSI) or C(NVMe).
      type: str
    model:
      description: Model name.
      type: str
    serial:
      description: Serial number.
      type: str
    firmware:
      description: Firmware version.
      type: str
    capacity_bytes:
      description: User capacity in bytes.
      type: int
    rotation_rate:
      description: Rotation rate in rpm, 0 for SSDs, null when not reported.
      type: int
    power_on_hours:
      description: Power-on hours.
      type: int
    temperature_c:
      description: Current temperature in Celsius.
      type: int
    smart_passed:
      description: smart_status.passed, null when the device reports no SMART status.
      type: bool
    percentage_used:
      description:
        - Endurance used in percent (NVMe percentage_used, SAS endurance indicator, SSD wear attributes).
      type: int
    exit_status:
      description: smartctl exit status.
      type: int
    exit_flags:
      description: Meaning of each bit set in the exit status.
      type: list
      elements: str
    attributes:
      description: The raw values that drove the verdict, keyed by smartctl attribute or log field name.
      type: dict
      sample: {"Reallocated_Sector_Ct": 304, "Current_Pending_Sector": 0}
    health:
      description: Health of this disk.
      type: str
    reasons:
      description: Why the disk is not ok; empty when ok.
      type: list
      elements: str
      sample: ["reallocated sectors 304 > 0"]
"""

from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.basic import AnsibleModule

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


def main():
    module = AnsibleModule(
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


if __name__ == "__main__":
    main()
