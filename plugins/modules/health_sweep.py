#!/usr/bin/python
# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module health_sweep: every hardware check a host needs, in one module run."""

# ruff: noqa: E402 - Ansible modules keep DOCUMENTATION/EXAMPLES/RETURN before the imports.

DOCUMENTATION = r"""
---
module: health_sweep
short_description: Every hardware check of a host (inventory, SMART, RAID, local BMC, GPU) in one module run
description:
  - Runs the checks of M(rackwright.infra.hw_inventory), M(rackwright.infra.disk_health),
    M(rackwright.infra.raid_health), M(rackwright.infra.bmc_health) (through the host's C(/dev/ipmi0)) and
    M(rackwright.infra.gpu_health) in one invocation, the first four side by side, and returns each check's
    result exactly as its own module would (the same code runs). One round trip per host instead of one per
    check, which is what a fleet sweep's time is made of.
  - Each check's options are that module's options, validated against the same specification; options a
    check refuses fail the task, every refusal named with its check.
  - A check that does not apply comes back as C({skipped, skip_reason}), as a skipped task would.
  - Read-only; never changes the host.
author: rackwright contributors (!UNKNOWN)
version_added: "1.0.0"
options:
  checks:
    description: The checks to run.
    type: list
    elements: str
    choices: [inventory, disk, raid, bmc, gpu]
    default: [inventory, disk, raid, bmc, gpu]
  inventory:
    description: Options of M(rackwright.infra.hw_inventory) (C(from_files)).
    type: dict
    default: {}
  disk:
    description: Options of M(rackwright.infra.disk_health) (C(devices), C(from_files), C(thresholds), ...).
    type: dict
    default: {}
  raid:
    description: Options of M(rackwright.infra.raid_health) (C(format), C(from_files), C(mdadm_detail)).
    type: dict
    default: {}
  bmc:
    description:
      - Options of M(rackwright.infra.bmc_health) for the host's own BMC (C(from_files),
        C(sel_affects_health), ...). A BMC reached over the network is checked from the controller instead.
    type: dict
    default: {}
  bmc_local:
    description:
      - When the local BMC check runs. C(auto) when the host has C(/dev/ipmi0); C(always) (saved output);
        C(never) (the controller checks the BMC over the network).
    type: str
    choices: [auto, always, never]
    default: auto
  gpu:
    description: Options of M(rackwright.infra.gpu_health) (C(from_files), C(thresholds), C(expect_gpus)).
    type: dict
    default: {}
  gpu_present:
    description:
      - When the GPU check runs. C(auto) when this run's inventory finds a GPU; C(always) (the host is a GPU
        server, or saved output is given); C(never).
    type: str
    choices: [auto, always, never]
    default: auto
  sample:
    description: Also take the host's use sample (memory, load, swap-out, filesystems) for its history.
    type: bool
    default: false
notes:
  - Supports check mode (it only reads).
  - Needs the tools of the checks it runs (dmidecode, lsblk, smartctl, mdadm, ipmitool, nvidia-smi); a missing
    tool makes that check unknown, as the check's own module does.
"""

EXAMPLES = r"""
- name: Every hardware check in one module run
  rackwright.infra.health_sweep:
    disk:
      thresholds:
        temperature_c: 60
    sample: true
  register: sweep

- name: Judge saved outputs only (no tool runs)
  rackwright.infra.health_sweep:
    checks: [disk, raid]
    disk:
      from_files: [/tmp/saved/smartctl-sda.json]
    raid:
      from_files: [/tmp/saved/mdstat]
"""

RETURN = r"""
checks:
  description:
    - Each check's result by name (C(inventory), C(disk), C(raid), C(bmc), C(gpu)), as its own module returns
      it (C(health), C(reasons) and the check's data), or C({skipped, skip_reason}) for one that did not run.
  returned: always
  type: dict
ipmi_device:
  description: Whether the host has C(/dev/ipmi0).
  returned: always
  type: bool
sample:
  description: The host's use sample (see M(rackwright.infra.evaluate_facts)); null unless I(sample).
  returned: always
  type: dict
"""

import os
from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.rackwright.infra.plugins.module_utils import (
    rackwright_check_bmc,
    rackwright_check_disk,
    rackwright_check_gpu,
    rackwright_check_inventory,
    rackwright_check_raid,
)
from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_host_sample import take_sample
from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_module import run_check

CHECKS = {
    "inventory": rackwright_check_inventory,
    "disk": rackwright_check_disk,
    "raid": rackwright_check_raid,
    "bmc": rackwright_check_bmc,
    "gpu": rackwright_check_gpu,
}
IPMI_DEVICE = "/dev/ipmi0"


def skipped(reason):
    """What a skipped task registers."""
    return {"skipped": True, "skip_reason": reason}


def run_one(module, name):
    """``(result, None)`` or ``(None, why)`` of check NAME with its options (a crash is a why, not a
    traceback)."""
    check = CHECKS[name]
    try:
        return run_check(module, check.SPEC, check.run, module.params[name])
    except Exception as exc:  # noqa: BLE001 - one check's bug must not hide the others' results
        return None, f"the check crashed ({type(exc).__name__}: {exc})"


def gpu_applies(mode, inventory):
    if mode != "auto":
        return mode == "always"
    return bool(isinstance(inventory, dict) and inventory.get("gpus"))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            checks=dict(type="list", elements="str", choices=list(CHECKS), default=list(CHECKS)),
            inventory=dict(type="dict", default={}),
            disk=dict(type="dict", default={}),
            raid=dict(type="dict", default={}),
            bmc=dict(type="dict", default={}, no_log=False),
            bmc_local=dict(type="str", choices=["auto", "always", "never"], default="auto"),
            gpu=dict(type="dict", default={}),
            gpu_present=dict(type="str", choices=["auto", "always", "never"], default="auto"),
            sample=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    wanted = module.params["checks"]
    ipmi_device = os.path.exists(IPMI_DEVICE)
    results = {name: skipped(f"{name} is not in checks") for name in CHECKS}
    first = [name for name in ("inventory", "disk", "raid") if name in wanted]
    if "bmc" in wanted:
        mode = module.params["bmc_local"]
        if mode == "always" or (mode == "auto" and ipmi_device):
            first.append("bmc")
        else:
            results["bmc"] = skipped(
                "the BMC is checked over the network" if mode == "never" else f"no {IPMI_DEVICE} on the host"
            )
    failures = []
    with ThreadPoolExecutor(max_workers=max(1, len(first))) as pool:
        ran = dict(zip(first, pool.map(lambda name: run_one(module, name), first), strict=True))
        sample = take_sample() if module.params["sample"] else None
    if "gpu" in wanted:
        if gpu_applies(module.params["gpu_present"], (ran.get("inventory") or (None,))[0]):
            ran["gpu"] = run_one(module, "gpu")
        else:
            results["gpu"] = skipped("no GPU found by the inventory and none expected")
    for name, (result, failure) in ran.items():
        if failure is not None:
            failures.append(f"{name}: {failure}")
        else:
            results[name] = result
    if failures:
        module.fail_json(msg="; ".join(failures), checks=results)
    module.exit_json(changed=False, checks=results, ipmi_device=ipmi_device, sample=sample)


if __name__ == "__main__":
    main()
