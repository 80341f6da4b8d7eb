#!/usr/bin/python
# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module migration_probe: what one side of a server replacement reports before anything moves."""

# ruff: noqa: E402 - Ansible modules keep DOCUMENTATION/EXAMPLES/RETURN before the imports.

DOCUMENTATION = r"""
---
module: migration_probe
short_description: Report what a server replacement needs to know about one of its two hosts (read-only)
description:
  - On the old host (O(side=old)) measures the size of each data path, the installed version of each
    package and whether the host holds the service address.
  - On the new host (O(side=new)) measures the free space where each data path will land (on the nearest
    directory that exists), the version of each package it has or would install, which of the service's units
    already run, whether it holds the service address, and which data paths already hold files that this
    migration did not copy (O(marker) marks a host a previous run of it filled).
  - On both reports every address the host holds (the service's DNS name must point at one of the old host's
    before the cutover, and will point at one of the new host's after it).
  - Changes nothing; the replacement's pre-flight judges what both sides reported
    (C(rackwright.infra.migration_preflight)).
version_added: "1.0.0"
author: rackwright contributors (!UNKNOWN)
options:
  side:
    description: Which host of the pair this is.
    type: str
    choices: [old, new]
    required: true
  paths:
    description: The service's data directories.
    type: list
    elements: path
    required: true
  units:
    description: The service's systemd units.
    type: list
    elements: str
    default: []
  packages:
    description: Debian packages whose versions must match on both hosts.
    type: list
    elements: str
    default: []
  address:
    description: The service address, C({address, interface}).
    type: dict
  marker:
    description: A file whose presence on the new host says a previous run of this migration filled its paths.
    type: path
notes:
  - Supports check mode; it never changes anything.
"""

EXAMPLES = r"""
- name: Measure the old host
  rackwright.infra.migration_probe:
    side: old
    paths: [/srv/data]
    packages: [postgresql-15]
    address: {address: 10.0.0.50/24, interface: eth0}
"""

RETURN = r"""
sizes:
  description: Bytes of regular files under each path (old side).
  returned: always
  type: dict
free:
  description: Bytes available where each path lands (new side).
  returned: always
  type: dict
packages:
  description: Package -> installed version (old), or installed else candidate version (new); null if neither.
  returned: always
  type: dict
active_units:
  description: The service's units that are active on this host.
  returned: always
  type: list
  elements: str
address_held:
  description: Whether this host holds the service address (null when no address is declared).
  returned: always
  type: bool
addresses:
  description: Every IPv4 and IPv6 address the host holds, without its prefix length.
  returned: always
  type: list
  elements: str
  sample: [127.0.0.1, 10.77.0.11, "::1"]
nonempty:
  description: Data paths on the new host that hold files this migration did not copy.
  returned: always
  type: list
  elements: str
"""

import os

from ansible.module_utils.basic import AnsibleModule


def tree_bytes(path):
    total = 0
    for root, dirs, files in os.walk(path):
        for name in files:
            try:
                st = os.lstat(os.path.join(root, name))
            except OSError:
                continue
            total += st.st_size
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(root, d))]
    return total


def free_bytes(path):
    while not os.path.exists(path):
        path = os.path.dirname(path) or "/"
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def package_version(module, name, offered):
    rc, out, dummy = module.run_command(["dpkg-query", "-W", "-f", "${db:Status-Status} ${Version}", name])
    status, dummy, version = out.partition(" ")
    if rc == 0 and status == "installed" and version:
        return version
    if not offered:
        return None
    rc, out, dummy = module.run_command(["apt-cache", "policy", name], environ_update={"LC_ALL": "C"})
    for line in out.splitlines():
        key, dummy, value = line.strip().partition(": ")
        if key == "Candidate" and value and value != "(none)":
            return value
    return None


def held_addresses(ip_output):
    """The addresses in `ip -o addr show` output ("2: lan0    inet 10.77.0.11/24 brd ... scope global")."""
    held = []
    for line in ip_output.splitlines():
        fields = line.split()
        for family in ("inet", "inet6"):
            if family in fields[:-1]:
                held.append(fields[fields.index(family) + 1].split("/")[0])
    return held


def main():
    module = AnsibleModule(
        argument_spec=dict(
            side=dict(type="str", required=True, choices=["old", "new"]),
            paths=dict(type="list", elements="path", required=True),
            units=dict(type="list", elements="str", default=[]),
            packages=dict(type="list", elements="str", default=[]),
            address=dict(type="dict"),
            marker=dict(type="path"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    old = params["side"] == "old"
    result = dict(
        changed=False, sizes={}, free={}, packages={}, active_units=[], address_held=None, nonempty=[]
    )
    rc, out, err = module.run_command(["ip", "-o", "addr", "show"])
    if rc != 0:
        module.fail_json(
            msg=f"migration_probe: cannot list the host's addresses (ip -o addr show): {err.strip()}"
        )
    result["addresses"] = held_addresses(out)
    for path in params["paths"]:
        if old:
            if not os.path.isdir(path):
                module.fail_json(
                    msg=f"migration_probe: the data path {path} is not a directory on the old host"
                )
            result["sizes"][path] = tree_bytes(path)
        else:
            result["free"][path] = free_bytes(path)
            filled = params["marker"] and os.path.exists(params["marker"])
            if os.path.isdir(path) and not filled and set(os.listdir(path)) - {"lost+found"}:
                result["nonempty"].append(path)
    result["packages"] = {name: package_version(module, name, not old) for name in params["packages"]}
    for unit in params["units"]:
        out = module.run_command(["systemctl", "is-active", unit])[1]
        if out.strip() in ("active", "activating", "reloading"):
            result["active_units"].append(unit)
    address = params["address"]
    if address:
        rc, out, err = module.run_command(["ip", "-o", "addr", "show", "dev", address["interface"]])
        if rc != 0 and old:
            module.fail_json(
                msg=f"migration_probe: interface {address['interface']} not found: {err.strip()}"
            )
        result["address_held"] = f" {address['address']} " in out
    module.exit_json(**result)


if __name__ == "__main__":
    main()
