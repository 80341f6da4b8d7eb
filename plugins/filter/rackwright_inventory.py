# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Inventory validation for rackwright: find malformed inventories before a play runs.

`inventory_problems(hostvars, groups, schema)` returns a list of sentences, one
per problem, each naming the host or group, the value and what was expected.
The schema lives in playbooks/vars/inventory_schema.yml.
"""

import difflib
import re

from ansible import context
from ansible.errors import AnsibleFilterError
from ansible.utils.display import Display

from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_acceptance import spec_problems
from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_migration import service_problems
from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_network import (
    duplicate_address_problems,
    interface_addresses,
    interface_problems,
    parse_address,
    parse_network,
)
from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_window import window_problems

try:
    import netaddr
except ImportError:  # pragma: no cover - netaddr is pinned in requirements.txt
    netaddr = None

DOCUMENTATION = """
name: inventory_problems
short_description: List what is wrong with a rackwright inventory
description:
  - Checks group names against the known function groups and the site_/rack_/vendor_ patterns, that every host
    sits in exactly one site and one rack, that required host variables are set, and that address and network
    variables are valid (netaddr); each host's C(network_interfaces) are sound (subnets, gateways, routes,
    bonds, VLANs, MTUs, addresses inside the site's networks), no address is claimed twice in the
    inventory, and declared maintenance windows (C(rackwright_maintenance_window)) are sound.
positional: groups, schema
options:
  _input:
    description: C(hostvars).
    type: dict
    required: true
  groups:
    description: C(groups).
    type: dict
    required: true
  schema:
    description: The inventory schema (see playbooks/vars/inventory_schema.yml).
    type: dict
    required: true
"""


def _ip_problem(value):
    if parse_address(value) is None:
        return "is not a valid IP address (expected for example 10.20.8.11)"
    return None


def _cidr_problem(value):
    if "/" not in str(value):
        return "is not a network in CIDR form (expected for example 10.20.0.0/22)"
    net = parse_network(value)
    if net is None:
        return "is not a valid network in CIDR form (expected for example 10.20.0.0/22)"
    if net.ip != net.network:
        return f"has host bits set (did you mean {net.cidr}?)"
    return None


def _group_problems(groups, schema):
    known = set(schema.get("function_groups", [])) | {"all", "ungrouped"}
    patterns = [re.compile(p) for p in schema.get("group_patterns", [])]
    problems = []
    for group in sorted(groups):
        if group in known or any(p.fullmatch(group) for p in patterns):
            continue
        hint = difflib.get_close_matches(group, sorted(known), n=1)
        suggestion = f"; did you mean '{hint[0]}'?" if hint else ""
        problems.append(
            f"group '{group}' is not a known group (expected one of {sorted(known - {'all', 'ungrouped'})} "
            f"or a name matching {schema.get('group_patterns', [])}){suggestion}"
        )
    return problems


def _membership_problems(host, groups, schema):
    problems = []
    for prefix in schema.get("exactly_one_group_with_prefix", []):
        member_of = sorted(g for g, hosts in groups.items() if g.startswith(prefix) and host in hosts)
        if len(member_of) != 1:
            problems.append(
                f"host {host}: must be in exactly one '{prefix}*' group, is in {member_of or 'none'}"
            )
    return problems


def _var_problems(host, hvars, schema, hosts=None):
    problems = []
    for name in schema.get("required_host_vars", []):
        if hvars.get(name) in (None, ""):
            problems.append(f"host {host}: required variable '{name}' is not set")
    for name in schema.get("spec_vars", []):
        if hvars.get(name) not in (None, ""):
            problems.extend(
                p.replace("rackwright_acceptance", name) for p in spec_problems(host, hvars[name], hosts)
            )
    for name in schema.get("window_vars", []):
        if hvars.get(name) is not None:
            problems.extend(f"host {host}: {p}" for p in window_problems(hvars[name], name))
    for name in schema.get("service_vars", []):
        if hvars.get(name) is not None:
            problems.extend(f"host {host}: {p}" for p in service_problems(hvars[name], name))
    for name in schema.get("ip_vars", []):
        if hvars.get(name) not in (None, ""):
            issue = _ip_problem(hvars[name])
            if issue:
                problems.append(f"host {host}: {name} '{hvars[name]}' {issue}")
    return problems


def _network_problems(hvars, schema):
    """Problems of the schema's network_vars, without the host: they usually come from group_vars/all."""
    problems = []
    for name in schema.get("network_vars", []):
        for site, nets in (hvars.get(name) or {}).items():
            for role, value in (nets or {}).items():
                if role not in schema.get("network_other_keys", ["gateway", "mtu"]):
                    issue = _cidr_problem(value)
                    if issue:
                        problems.append(f"{name}.{site}.{role} '{value}' {issue}")
    return problems


def _interface_problems(host, hvars, groups, schema):
    """One host's network_interfaces against its site's networks, and the addresses it claims."""
    problems, claimed = [], []
    sites = [g[len("site_") :] for g, hosts in groups.items() if g.startswith("site_") and host in hosts]
    site = sites[0] if len(sites) == 1 else None
    networks = hvars.get((schema.get("network_vars") or ["rackwright_networks"])[0])
    for name in schema.get("interface_vars", []):
        if hvars.get(name) is not None:
            problems.extend(
                p.replace("network_interfaces", name)
                for p in interface_problems(
                    host, hvars[name], site, networks, schema.get("network_other_keys", ["gateway", "mtu"])
                )
            )
            claimed.extend(
                (where.replace("network_interfaces", name), a)
                for where, a in interface_addresses(hvars[name])
            )
    for name in schema.get("ip_vars", []):
        if hvars.get(name) not in (
            None,
            "",
        ):  # invalid ones are _var_problems'; the duplicate check skips them
            claimed.append((name, hvars[name]))
    return problems, claimed


def inventory_problems(hostvars, groups, schema):
    """Return every problem found in the inventory, as sentences; [] when it is sound."""
    if netaddr is None:
        raise AnsibleFilterError(
            "inventory_problems needs the Python package netaddr (make setup installs it)"
        )
    if not isinstance(schema, dict):
        raise AnsibleFilterError(f"inventory_problems: schema must be a dict, got {type(schema).__name__}")
    problems = _group_problems(groups, schema)
    seen_network_problems = set()
    claimed = {}
    for host in sorted(groups.get("all", [])):
        hvars = hostvars[host]
        problems.extend(_membership_problems(host, groups, schema))
        problems.extend(_var_problems(host, hvars, schema, groups.get("all", [])))
        interface, claimed[host] = _interface_problems(host, hvars, groups, schema)
        problems.extend(interface)
        # Network variables usually come from group_vars/all: each problem once, for the first host.
        for problem in _network_problems(hvars, schema):
            if problem not in seen_network_problems:
                seen_network_problems.add(problem)
                problems.append(f"host {host}: {problem}")
    return problems + duplicate_address_problems(claimed)


_display = Display()
_GATE_RESULTS = {}
_LISTING = ("syntax", "listhosts", "listtasks", "listtags")


def inventory_gate(hostvars, groups, schema):
    """'all' when the inventory is sound; otherwise an error listing every problem.

    Called from the `hosts:` keyword of playbooks/boilerplate.yml: Ansible templates every play's hosts
    before the play starts, so neither --limit, --tags nor --start-at-task can skip it, and a broken
    inventory stops the run before any host is contacted. hostvars holds every host of the inventory,
    not only those --limit leaves. The first call of a run checks and prints the result; later calls in
    the same run (site.yml imports playbooks that each start with the gate) reuse it.
    """
    if hostvars is None:
        listing = [f"--{k.replace('list', 'list-')}" for k in _LISTING if context.CLIARGS.get(k)]
        if listing:  # Ansible runs no play in these modes, so it never builds hostvars, and contacts no host
            return "all"
        raise AnsibleFilterError(
            "hostvars is not defined yet: import playbooks/boilerplate.yml whole (its first play loads the "
            "inventory's variables) as the first play of the playbook"
        )
    key = id(getattr(hostvars, "_inventory", hostvars))  # one HostVars per play, one inventory per run
    if key not in _GATE_RESULTS:
        problems = inventory_problems(hostvars, groups, schema)
        hosts = len(groups.get("all", []))
        named = len([g for g in groups if g not in ("all", "ungrouped")])
        _GATE_RESULTS[key] = (problems, f"Inventory ok: {hosts} hosts in {named} groups")
        if not problems:
            _display.display(
                f"{_GATE_RESULTS[key][1]} (checked before any host is contacted, whatever --limit, --tags "
                "or --start-at-task say)"
            )
    problems, _unused = _GATE_RESULTS[key]
    if problems:
        listed = "\n".join(f"  - {p}" for p in problems)
        raise AnsibleFilterError(
            f"Inventory has {len(problems)} problem(s); nothing was run and no host was contacted:\n{listed}"
        )
    return "all"


class FilterModule:
    """Inventory validation filters."""

    def filters(self):
        return {"inventory_problems": inventory_problems, "inventory_gate": inventory_gate}
