#!/usr/bin/python
# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module evaluate_facts: what a host says about its upgrades, read-only, and one history sample."""

# ruff: noqa: E402 - Ansible modules keep DOCUMENTATION/EXAMPLES/RETURN before the imports.

DOCUMENTATION = r"""
---
module: evaluate_facts
short_description: Read what upgrade planning needs from a host, and one sample for its history (read-only)
description:
  - Reads the host's distro-info-data (C(/usr/share/distro-info/debian.csv)) and its package version, the
    updates C(apt-get -s dist-upgrade) would install (as of the host's last C(apt-get update) - it does not
    update the lists), C(needrestart -b) where needrestart is installed, the running kernel's build date, and
    one sample for the history (memory available, the 15-minute load, pages swapped out, and the size and use
    of each local filesystem).
  - With O(sample_only), only the sample (what the hardware_health role appends to the history too).
version_added: "1.0.0"
author: rackwright contributors (!UNKNOWN)
options:
  sample_only:
    description: Take only the history sample.
    type: bool
    default: false
notes:
  - Supports check mode; it changes nothing.
"""

EXAMPLES = r"""
- name: Read what the host says
  rackwright.infra.evaluate_facts:
  register: facts
"""

RETURN = r"""
sample:
  description: C({memory_available_mb, load15, swap_out_pages, filesystems {mount {size, used}}}).
  returned: always
  type: dict
distro_csv:
  description: The host's debian.csv, or null without distro-info-data.
  returned: unless sample_only
  type: str
distro_info_version:
  description: The distro-info-data package version, or null.
  returned: unless sample_only
  type: str
os_version:
  description: The Debian version (C(/etc/debian_version)).
  returned: unless sample_only
  type: str
updates:
  description: C({pending, security}) package names, and C(lists_updated) (the newest apt list's mtime).
  returned: unless sample_only
  type: dict
needrestart:
  description: C(needrestart -b)'s output, or null where needrestart is not installed.
  returned: unless sample_only
  type: str
cpus:
  description: How many CPUs the host has.
  returned: unless sample_only
  type: int
kernel:
  description: C({release, built}) of the running kernel.
  returned: unless sample_only
  type: dict
"""

import datetime
import glob
import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.rackwright.infra.plugins.module_utils import rackwright_evaluate as evaluate
from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_host_sample import (
    read_text,
    take_sample,
)


def _mtime(path):
    """PATH's modification time, or None for a list that is gone (an apt update replacing it) or dangling (a
    file: source's symlink to a repository removed since)."""
    try:
        return os.path.getmtime(path)
    except OSError:
        return None


def main():
    module = AnsibleModule(
        argument_spec=dict(sample_only=dict(type="bool", default=False)), supports_check_mode=True
    )
    taken = take_sample()
    if module.params["sample_only"]:
        module.exit_json(changed=False, sample=taken)
    result = dict(changed=False, sample=taken)
    result["distro_csv"] = read_text("/usr/share/distro-info/debian.csv")
    query = ["dpkg-query", "--showformat=${Version}", "--show", "distro-info-data"]
    rc, out, _err = module.run_command(query)
    result["distro_info_version"] = out.strip() if rc == 0 and out.strip() else None
    result["os_version"] = (read_text("/etc/debian_version") or "").strip() or None
    rc, out, err = module.run_command(["apt-get", "-s", "-o", "Debug::NoLocking=1", "dist-upgrade"])
    if rc != 0:
        module.fail_json(
            msg=f"evaluate_facts: apt-get -s dist-upgrade failed (rc {rc}): {err.strip()[-500:]}"
        )
    lists = [_mtime(p) for p in glob.glob("/var/lib/apt/lists/*_Packages*")]
    lists = [m for m in lists if m is not None]
    result["updates"] = dict(
        evaluate.apt_simulation(out),
        lists_updated=datetime.datetime.fromtimestamp(max(lists), datetime.UTC).isoformat(timespec="seconds")
        if lists
        else None,
    )
    needrestart = module.get_bin_path("needrestart")
    result["needrestart"] = module.run_command([needrestart, "-b"])[1] if needrestart else None
    version = read_text("/proc/version") or ""
    result["cpus"] = os.cpu_count()
    result["kernel"] = {"release": os.uname().release, "built": evaluate.kernel_build_date(version)}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
