# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Jinja filters for network integration and address planning, on netaddr (module_utils/rackwright_network).

The inventory gate (rackwright_inventory) checks every host's network_interfaces with the same code before any
host is contacted; these filters render what it checked and plan addresses for new servers.
"""

# ruff: noqa: E402 - the plugin's DOCUMENTATION comes before the imports.

DOCUMENTATION = r"""
name: rackwright_network
short_description: Render network_interfaces as systemd-networkd files and plan addresses
description:
  - C(networkd_files(interfaces, dns, domains, ntp)) turns a host's checked C(network_interfaces) into
    C([{name, content}]) of C(NN-rackwright-<name>.netdev) and C(.network) files, in the order networkd
    reads them.
  - C(next_free_address(subnet, used, first=1)) is the lowest free host address of a subnet from its
    FIRST-th on (none when the subnet is full).
  - C(reverse_dns_name(address)) is the PTR name of an address (C(31.0.20.10.in-addr.arpa)).
  - C(summarize_networks(networks)) merges adjacent and nested networks into the fewest CIDR routes.
  - C(nftables_ruleset(rules, admin_networks, ssh_port=22)) is the network role's firewall as the text of
    C(/etc/nftables.conf) (module_utils/rackwright_firewall.py); bad rules fail naming each rule and value.
  - Bad input is an error naming the filter, the value and what was expected.
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.rackwright.infra.plugins.module_utils import rackwright_firewall as firewall
from ansible_collections.rackwright.infra.plugins.module_utils import rackwright_network as net


def _checked(name, call, *args):
    if net.netaddr is None:
        raise AnsibleFilterError(f"{name} needs the Python package netaddr on the controller (make setup)")
    try:
        return call(*args)
    except (net.netaddr.AddrFormatError, ValueError, TypeError, KeyError) as error:
        raise AnsibleFilterError(f"{name}: cannot use {args[0]!r} ({error})") from None


def networkd_files(interfaces, dns=None, domains=None, ntp=None):
    problems = net.interface_problems("this host", interfaces)
    if problems:
        raise AnsibleFilterError("networkd_files: " + "; ".join(problems))
    return _checked("networkd_files", net.networkd_files, interfaces, dns, domains, ntp)


def next_free_address(subnet, used=None, first=1):
    return _checked("next_free_address", net.next_free_address, subnet, used, first)


def reverse_dns_name(address):
    return _checked("reverse_dns_name", net.reverse_dns_name, address)


def summarize_networks(networks):
    return _checked("summarize_networks", net.summarize_networks, networks)


def nftables_ruleset(rules, admin_networks, ssh_port=22):
    if firewall.netaddr is None:
        raise AnsibleFilterError(
            "nftables_ruleset needs the Python package netaddr on the controller (make setup)"
        )
    problems = firewall.firewall_problems(rules, admin_networks, ssh_port)
    if problems:
        raise AnsibleFilterError("nftables_ruleset: " + "; ".join(problems))
    return firewall.nftables_ruleset(rules, admin_networks, ssh_port)


class FilterModule:
    def filters(self):
        return {
            "networkd_files": networkd_files,
            "next_free_address": next_free_address,
            "reverse_dns_name": reverse_dns_name,
            "summarize_networks": summarize_networks,
            "nftables_ruleset": nftables_ruleset,
        }
