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

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_check_disk import SPEC, run


def main():
    run(AnsibleModule(**SPEC))


if __name__ == "__main__":
    main()
