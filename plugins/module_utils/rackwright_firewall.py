# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The network role's host firewall as an nftables ruleset: default deny inbound, SSH always allowed from the
admin networks, one allow (or reject) rule per service from the inventory, counters on every drop.

A rule is a dict:

    name: postgres          # what the rule is for: [A-Za-z0-9_.-], shown in the ruleset's comments
    port: 5432              # 1..65535, or a range "6000-6010"
    proto: tcp              # tcp (default) or udp
    from: [10.20.0.0/22]    # source networks (IPv4 and/or IPv6); none: from anywhere
    action: accept          # accept (default) or reject (the peer sees "refused" at once, not a timeout)

Anything else inbound is dropped (a peer sees "filtered") and counted: ``nft list table inet rackwright``
shows the counters a diagnosis reads. The ruleset owns only the table ``inet rackwright``: Docker's, libvirt's
or anyone else's tables are left alone.
"""

import re

from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_network import parse_network

try:
    import netaddr
except ImportError:  # pragma: no cover - netaddr is pinned in requirements.txt; callers say so
    netaddr = None

TABLE = "rackwright"
RULE_KEYS = {"name", "port", "proto", "from", "action"}
PROTOS = ("tcp", "udp")
ACTIONS = ("accept", "reject")
NAME = re.compile(r"[A-Za-z0-9_.-]{1,40}")
PORT_RANGE = re.compile(r"([0-9]{1,5})-([0-9]{1,5})")


def _port(value):
    """(low, high) of a port or port range, or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return (value, value) if 1 <= value <= 65535 else None
    match = PORT_RANGE.fullmatch(str(value))
    if match:
        low, high = int(match.group(1)), int(match.group(2))
        return (low, high) if 1 <= low < high <= 65535 else None
    return None


def _networks_problems(where, value):
    if not isinstance(value, list):
        return [f"{where} must be a list of networks such as [10.20.0.0/22], got {value!r}"]
    return [
        f"{where}[{index}] '{net}' is not a network such as 10.20.0.0/22 or 2001:db8::/48"
        for index, net in enumerate(value)
        if parse_network(net, bare_ok=True) is None
    ]


def firewall_problems(rules, admin_networks, ssh_port=22):
    """Every problem of the firewall inputs, as sentences naming the variable, the rule and the value."""
    problems = []
    if not admin_networks:
        problems.append(
            "network_firewall_admin_networks is empty: SSH is allowed only from the admin networks, so an "
            "empty list would lock every administrator out; give the networks you manage servers from"
        )
    else:
        problems.extend(_networks_problems("network_firewall_admin_networks", admin_networks))
    if _port(ssh_port) is None or isinstance(ssh_port, str):
        problems.append(f"network_firewall_ssh_port '{ssh_port}' is not a port number 1..65535")
    if not isinstance(rules, list):
        return problems + [f"network_firewall_rules must be a list of rules, got {rules!r}"]
    seen = set()
    for index, rule in enumerate(rules):
        where = f"network_firewall_rules[{index}]"
        if not isinstance(rule, dict):
            problems.append(f"{where} must be a mapping such as {{name: http, port: 80}}, got {rule!r}")
            continue
        name = rule.get("name")
        if not isinstance(name, str) or not NAME.fullmatch(name):
            problems.append(f"{where}.name '{name}' must be 1 to 40 of [A-Za-z0-9_.-]")
        else:
            where = f"network_firewall_rules[{name}]"
            if name in seen:
                problems.append(f"{where}: the name is used by another rule")
            seen.add(name)
        for key in sorted(set(rule) - RULE_KEYS):
            problems.append(f"{where}: unknown key '{key}' (expected any of {sorted(RULE_KEYS)})")
        if _port(rule.get("port")) is None:
            problems.append(
                f"{where}.port '{rule.get('port')}' is not a port 1..65535 or a range like 6000-6010"
            )
        if rule.get("proto", "tcp") not in PROTOS:
            problems.append(f"{where}.proto '{rule.get('proto')}' is not one of {list(PROTOS)}")
        if rule.get("action", "accept") not in ACTIONS:
            problems.append(f"{where}.action '{rule.get('action')}' is not one of {list(ACTIONS)}")
        if "from" in rule:
            problems.extend(_networks_problems(f"{where}.from", rule["from"]))
    return problems


def _by_family(networks):
    """{'ip': [...], 'ip6': [...]} of NETWORKS, merged (netaddr.cidr_merge) and sorted."""
    merged = netaddr.cidr_merge([parse_network(n, bare_ok=True) for n in networks])
    return {
        "ip": [str(n) for n in merged if n.version == 4],
        "ip6": [str(n) for n in merged if n.version == 6],
    }


def _match(proto, port):
    low, high = _port(port)
    return f"{proto} dport {low}" if low == high else f"{proto} dport {low}-{high}"


def _lines(rule_name, proto, port, sources, verdict):
    """The nft rule lines of one service: one per address family it is open to (any: one line)."""
    if verdict == "reject":
        verdict = "counter reject with tcp reset" if proto == "tcp" else "counter reject"
    comment = f'comment "{rule_name}"'
    if sources is None:
        return [f"{_match(proto, port)} {verdict} {comment}"]
    families = _by_family(sources)
    return [
        f"{family} saddr {{ {', '.join(nets)} }} {_match(proto, port)} {verdict} {comment}"
        for family, nets in families.items()
        if nets
    ]


def nftables_ruleset(rules, admin_networks, ssh_port=22):
    """The /etc/nftables.conf text of checked firewall inputs (firewall_problems returned nothing)."""
    body = [
        "ct state established,related accept",
        'ct state invalid counter drop comment "invalid"',
        'iif "lo" accept',
        'meta l4proto { icmp, ipv6-icmp } accept comment "ping, path MTU discovery, IPv6 neighbours"',
        *_lines("ssh from the admin networks", "tcp", ssh_port, admin_networks, "accept"),
    ]
    for rule in rules:
        body += _lines(
            rule["name"],
            rule.get("proto", "tcp"),
            rule["port"],
            rule.get("from"),
            rule.get("action", "accept"),
        )
    body.append('counter drop comment "dropped: not allowed"')
    chain = "\n".join(f"\t\t{line}" for line in body)
    return (
        "#!/usr/sbin/nft -f\n"
        "# Managed by rackwright (network role); local edits are replaced. Only the table inet rackwright\n"
        "# is ours: the first two lines replace it whole (creating it on a first load); others stay.\n"
        f"table inet {TABLE}\n"
        f"delete table inet {TABLE}\n"
        f"table inet {TABLE} {{\n"
        "\tchain input {\n"
        "\t\ttype filter hook input priority filter; policy drop;\n"
        f"{chain}\n"
        "\t}\n"
        "}\n"
    )
