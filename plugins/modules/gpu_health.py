#!/usr/bin/python
# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module gpu_health: NVIDIA GPU health from nvidia-smi -q -x."""

# ruff: noqa: E402 - Ansible modules keep DOCUMENTATION/EXAMPLES/RETURN before the imports.

DOCUMENTATION = r"""
---
module: gpu_health
short_description: Judge NVIDIA GPU health from C(nvidia-smi -q -x)
description:
  - Runs C(nvidia-smi -q -x) when nvidia-smi is installed, or parses saved XML given in O(from_files) (UTF-8,
    or UTF-16 with a byte order mark as a PowerShell redirect writes it).
  - A C(<gpu>) entry without product name/UUID, or without temperature, ECC and clock data (a cut-down
    document), gives C(unknown) rather than C(ok). Threshold values may be numeric strings.
  - Handles the old schema (driver 418, no DOCTYPE, C(clocks_throttle_reasons)) and the new ones
    (schema v11-v13, C(clocks_event_reasons), C(gpu_power_readings), Ampere+ SRAM/DRAM ECC counters, MIG).
  - "Verdicts (after dcgm-exporter and NVIDIA field diagnostics): uncorrectable ECC errors (volatile or
    aggregate), SRAM threshold exceeded, row-remapping failure, retired pages at the RMA threshold, hardware
    thermal slowdown or power brake, temperature at the shutdown threshold are critical; correctable ECC
    errors
    above the threshold, pending page retirement or row remapping (reset needed), pages retired for double-bit
    errors, hardware slowdown, software thermal slowdown and temperature at the slowdown threshold warn.
    Idle, software power cap and application-clock throttling are normal."
  - The XML is parsed with the standard library; documents declaring entities or an internal DTD subset are
    rejected before parsing.
  - A missing nvidia-smi, "No devices were found" or a driver that cannot be reached give health C(unknown)
    (C(critical) with O(expect_gpus)).
version_added: "1.0.0"
author: rackwright contributors (!UNKNOWN)
extends_documentation_fragment:
  - rackwright.infra.from_files
options:
  expect_gpus:
    description: The host must have working NVIDIA GPUs; a missing tool, driver or GPU is then critical.
    type: bool
    default: false
  thresholds:
    description:
      - "Overrides: C(ecc_correctable_warning) (default 0: warn when correctable ECC errors are above it),
        C(retired_pages_critical) (default 60: NVIDIA's RMA threshold for retired pages)."
    type: dict
    default: {}
notes:
  - Supports check mode; the module never changes anything.
"""

EXAMPLES = r"""
- name: Check the GPUs of a compute node
  gpu_health:
    expect_gpus: true
  register: gpus

- name: Judge saved XML
  gpu_health:
    from_files: [/var/tmp/node17-nvidia-smi.xml]
  delegate_to: localhost
"""

RETURN = r"""
health:
  description: Worst health of all GPUs (C(ok), C(unknown), C(warning), C(critical)).
  returned: always
  type: str
  sample: warning
reasons:
  description: Every GPU's reasons, prefixed with C(GPU <index> <name>).
  returned: always
  type: list
  elements: str
  sample: ["GPU 0 Tesla P100-PCIE-16GB: correctable ECC errors 3 > 0 (volatile 0, aggregate 3)"]
driver_version:
  description: NVIDIA driver version.
  returned: when nvidia-smi output was parsed
  type: str
gpus:
  description: One entry per GPU.
  returned: always
  type: list
  elements: dict
  contains:
    index:
      description: GPU minor number.
      type: int
    name:
      description: Product name.
      type: str
    uuid:
      description: GPU UUID.
      type: str
    pci_bus_id:
      description: PCI bus id.
      type: str
    temperature_c:
      description: GPU temperature.
      type: int
    temperature_slowdown_c:
      description: Slowdown threshold.
      type: int
    temperature_shutdown_c:
      description: Shutdown threshold.
      type: int
    power_draw_w:
      description: Power draw in watts.
      type: float
    power_limit_w:
      description: Enforced power limit in watts.
      type: float
    mig_mode:
      description: Current MIG mode (C(Enabled)/C(Disabled)), null when not supported.
      type: str
    ecc:
      description: Correctable/uncorrectable ECC totals (volatile and aggregate).
      type: dict
    retired_pages:
      description: Retired page counts and pending flag (pre-Ampere).
      type: dict
    remapped_rows:
      description: Row remapping counts, pending and failure flags (Ampere+).
      type: dict
    throttle_reasons_active:
      description: Active clock throttle/event reasons.
      type: list
      elements: str
    health:
      description: Health of this GPU.
      type: str
    reasons:
      description: Why the GPU is not ok; empty when ok.
      type: list
      elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_check_gpu import SPEC, run


def main():
    run(AnsibleModule(**SPEC))


if __name__ == "__main__":
    main()
