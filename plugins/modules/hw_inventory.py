#!/usr/bin/python
# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module hw_inventory: hardware inventory from dmidecode, lsblk and lspci."""

# ruff: noqa: E402 - Ansible modules keep DOCUMENTATION/EXAMPLES/RETURN before the imports.

DOCUMENTATION = r"""
---
module: hw_inventory
short_description: Hardware inventory (system, BIOS, CPUs, DIMM slots, PSUs, disks, NICs) for spec sheets
description:
  - Runs C(dmidecode), C(lsblk -J -b -d -o NAME,SIZE,TYPE,MODEL,SERIAL,ROTA,TRAN) and C(lspci -mm), or parses
    saved outputs given in O(from_files) (dmidecode text, lsblk JSON, C(nvme list -o json), C(lspci -mm) text;
    detected from the content). A saved dmidecode dump with fewer structures than its header announces is
    refused as cut off.
  - The input to spec sheets and upgrade planning - populated and empty DIMM slots, maximum memory, free PCI
    slots.
  - "Health comes only from SMBIOS status fields, which the BIOS records at boot: type 39 PSU status
    (OK ok, Non-critical warning, Critical critical, Unknown/Other/out of spec or an empty bay unknown) and
    the
    chassis boot-up/power-supply/thermal states. Dell BIOSes report every PSU as C(Present, Unknown); use
    M(rackwright.infra.bmc_health) for live PSU state."
  - A missing dmidecode gives health C(unknown) with the reason; lsblk and lspci are optional. A saved file
    that is empty or none of the four formats gives C(unknown) naming the file and the formats expected.
version_added: "1.0.0"
author: rackwright contributors (!UNKNOWN)
extends_documentation_fragment:
  - rackwright.infra.from_files
notes:
  - dmidecode needs root.
  - Supports check mode; the module never changes anything.
"""

EXAMPLES = r"""
- name: Collect the inventory
  hw_inventory:
  register: inv

- name: Spec sheet line
  ansible.builtin.debug:
    msg: >-
      {{ inv.vendor }} {{ inv.model }} ({{ inv.serial }}), {{ inv.cpus | length }} CPU,
      {{ (inv.memory.total_mb / 1024) | int }} GiB in {{ inv.memory.populated }}/{{ inv.memory.slots }} slots

- name: Parse saved outputs
  hw_inventory:
    from_files: [/var/tmp/r640-dmidecode.txt, /var/tmp/r640-lsblk.json]
  delegate_to: localhost
"""

RETURN = r"""
vendor:
  description: System manufacturer (SMBIOS type 1).
  returned: when dmidecode output was read
  type: str
  sample: Dell Inc.
model:
  description: System product name.
  returned: when dmidecode output was read
  type: str
serial:
  description: System serial number (service tag).
  returned: when dmidecode output was read
  type: str
bios:
  description: BIOS C(vendor), C(version) and C(date).
  returned: when dmidecode output was read
  type: dict
cpus:
  description:
    - Populated sockets with C(socket), C(manufacturer), C(model), C(cores), C(threads), C(max_speed_mhz).
  returned: when dmidecode output was read
  type: list
  elements: dict
dimms:
  description:
    - Every memory slot with C(locator), C(populated), C(size_mb), C(type), C(speed_mts), C(part_number).
  returned: when dmidecode output was read
  type: list
  elements: dict
memory:
  description: C(slots), C(populated), C(empty), C(total_mb), C(max_capacity_mb), C(error_correction).
  returned: when dmidecode output was read
  type: dict
psus:
  description:
    - SMBIOS type 39 power supplies with C(name), C(model), C(max_power_w), C(status), C(health),
      C(reasons).
  returned: when dmidecode output was read
  type: list
  elements: dict
pci_slots:
  description: System slots with C(designation), C(type) and C(usage) (Available/In Use).
  returned: when dmidecode output was read
  type: list
  elements: dict
disks:
  description: Whole disks from lsblk or nvme list with C(name), C(size_bytes), C(model), C(serial).
  returned: always
  type: list
  elements: dict
nics:
  description:
    - Network controllers from lspci (or onboard NICs from SMBIOS type 41 when lspci is not available).
  returned: always
  type: list
  elements: dict
health:
  description: Worst PSU/chassis health (C(ok), C(unknown), C(warning), C(critical)).
  returned: always
  type: str
reasons:
  description: Reasons behind the health, prefixed with the PSU name.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_check_inventory import SPEC, run


def main():
    run(AnsibleModule(**SPEC))


if __name__ == "__main__":
    main()
