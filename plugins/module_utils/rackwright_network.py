# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A host's network interfaces as rackwright's inventory declares them (``network_interfaces``): checked with
netaddr before anything changes, and rendered as systemd-networkd files.

One interface is a dict:

    name: bond0              # the kernel name, 1 to 15 of [A-Za-z0-9_.-]
    kind: bond               # ethernet (default), bond, vlan or bridge
    members: [eno1, eno2]    # bond and bridge: listed interfaces without addresses of their own
    bond_mode: 802.3ad       # bond: active-backup (default) or 802.3ad
    vlan_id: 20              # vlan: 1 to 4094, on...
    parent: bond0            # ...a listed ethernet or bond interface
    addresses: [10.20.0.31/22]
    gateway: 10.20.0.1       # inside one of this interface's subnets; one per address family per host
    routes: [{to: 10.30.0.0/16, via: 10.20.0.254}]
    dhcp: false
    mtu: 9000                # 68 to 9216, not above its parent's nor its site network's
    network: mgmt            # the key of rackwright_networks[<site>] its addresses must fall in

``interface_problems`` and ``duplicate_address_problems`` return sentences naming host, interface, key and
value (the inventory gate prints them all and stops the run before any host is contacted).
"""

import difflib
import re

try:
    import netaddr
except ImportError:  # pragma: no cover - netaddr is pinned in requirements.txt; callers say so
    netaddr = None

KINDS = ("ethernet", "bond", "vlan", "bridge")
BOND_MODES = ("active-backup", "802.3ad")
KEYS = {
    "name", "kind", "members", "bond_mode", "vlan_id", "parent", "addresses", "gateway", "routes", "dhcp",
    "mtu", "network",
}  # fmt: skip
NAME = re.compile(r"[A-Za-z0-9_.-]{1,15}")
MTU_RANGE = (68, 9216)
DEFAULT_MTU = 1500
# systemd-networkd applies files in name order: links before the netdevs stacked on them.
ORDER = {"ethernet": 10, "bond": 20, "vlan": 30, "bridge": 40}


def _where(host, iface, key=None):
    name = iface.get("name", "?") if isinstance(iface, dict) else "?"
    return f"host {host}: network_interfaces[{name}]" + (f".{key}" if key else "")


def _netaddr(parse, text):
    try:
        return parse(text)
    except (netaddr.AddrFormatError, ValueError, TypeError):
        return None


def parse_network(value, bare_ok=False):
    """netaddr.IPNetwork of an address or network in CIDR form (10.20.0.31/22, 10.20.0.0/22), or None. With
    BARE_OK a bare address (10.20.0.31) counts too, as a single-address network."""
    text = str(value)
    return _netaddr(netaddr.IPNetwork, text) if bare_ok or "/" in text else None


def parse_address(value):
    """netaddr.IPAddress of an address (10.20.0.1), or None."""
    return _netaddr(netaddr.IPAddress, str(value))


def _shape_problems(host, interfaces):
    """Problems that make an interface unreadable; the other checks skip such interfaces."""
    if not isinstance(interfaces, list):
        return [
            f"host {host}: network_interfaces must be a list of interfaces, got {type(interfaces).__name__}"
        ]
    problems, seen = [], set()
    for index, iface in enumerate(interfaces):
        if not isinstance(iface, dict):
            problems.append(f"host {host}: network_interfaces[{index}] must be a mapping, got {iface!r}")
            continue
        name = iface.get("name")
        if not isinstance(name, str) or not NAME.fullmatch(name):
            problems.append(
                f"host {host}: network_interfaces[{index}].name {name!r} is not an interface name "
                "(expected 1 to 15 letters, digits, '_', '.' or '-', such as eno1 or bond0.20)"
            )
            continue
        if name in seen:
            problems.append(f"{_where(host, iface)}: declared twice")
        seen.add(name)
        for key in sorted(set(iface) - KEYS):
            hint = difflib.get_close_matches(key, sorted(KEYS), n=1)
            problems.append(
                f"{_where(host, iface)}: unknown key '{key}'"
                + (f" (did you mean '{hint[0]}'?)" if hint else "")
            )
        if iface.get("kind", "ethernet") not in KINDS:
            problems.append(f"{_where(host, iface, 'kind')} '{iface['kind']}' is not one of {list(KINDS)}")
    return problems


def _subnets(iface):
    return [net for net in (parse_network(a) for a in iface.get("addresses") or []) if net is not None]


def _address_problems(host, iface):
    problems = []
    addresses = iface.get("addresses") or []
    if not isinstance(addresses, list):
        return [
            f"{_where(host, iface, 'addresses')} must be a list such as ['10.20.0.31/22'], got {addresses!r}"
        ]
    for value in addresses:
        net = parse_network(value)
        if net is None:
            problems.append(
                f"{_where(host, iface, 'addresses')} '{value}' is not an address in CIDR form "
                "(expected for example 10.20.0.31/22)"
            )
        elif net.version == 4 and net.prefixlen <= 30 and net.ip in (net.network, net.broadcast):
            which = "network" if net.ip == net.network else "broadcast"
            problems.append(
                f"{_where(host, iface, 'addresses')} '{value}' is the {which} address of {net.cidr}, "
                "not a host's"
            )
    subnets = _subnets(iface)
    if "gateway" in iface:
        gateway = parse_address(iface["gateway"])
        if gateway is None:
            problems.append(
                f"{_where(host, iface, 'gateway')} '{iface['gateway']}' is not a valid IP address"
            )
        elif subnets and not any(gateway in net for net in subnets):
            problems.append(
                f"{_where(host, iface, 'gateway')} '{iface['gateway']}' is outside its subnets "
                f"{[str(net.cidr) for net in subnets]}"
            )
        elif not subnets and not iface.get("dhcp"):
            problems.append(
                f"{_where(host, iface, 'gateway')} '{iface['gateway']}' has no address to reach it from"
            )
    for route in iface.get("routes") or []:
        to = route.get("to") if isinstance(route, dict) else None
        net = parse_network(to)
        if net is None or net.ip != net.network:
            why = f"has host bits set (did you mean {net.cidr}?)" if net else "is not a network in CIDR form"
            problems.append(f"{_where(host, iface, 'routes')} to '{to}' {why}")
        via_text = route.get("via") if isinstance(route, dict) else route
        via = parse_address(via_text) if isinstance(route, dict) else None
        if via is None or (subnets and not any(via in s for s in subnets)):
            problems.append(
                f"{_where(host, iface, 'routes')} via '{via_text}' "
                f"is not an address inside {[str(s.cidr) for s in subnets]}"
            )
    return problems


def _mtu(iface):
    return iface.get("mtu", DEFAULT_MTU)


def _stack_problems(host, by_name):
    """Bonds, bridges and VLANs: their members and parents exist, are free, and carry their MTU."""
    problems, owner = [], {}
    for iface in by_name.values():
        kind = iface.get("kind", "ethernet")
        mtu = _mtu(iface)
        if not isinstance(mtu, int) or isinstance(mtu, bool) or not MTU_RANGE[0] <= mtu <= MTU_RANGE[1]:
            problems.append(
                f"{_where(host, iface, 'mtu')} '{mtu}' is not an MTU from {MTU_RANGE[0]} to {MTU_RANGE[1]}"
            )
            continue
        if kind in ("bond", "bridge"):
            members = iface.get("members")
            if not isinstance(members, list) or not members:
                problems.append(f"{_where(host, iface, 'members')} must list the interfaces the {kind} joins")
                continue
            for member in members:
                found = by_name.get(member)
                if found is None:
                    problems.append(f"{_where(host, iface, 'members')} '{member}' is not a listed interface")
                elif found.get("addresses") or found.get("dhcp") or found.get("gateway"):
                    problems.append(
                        f"{_where(host, iface, 'members')} '{member}' has addresses of its own; "
                        f"a {kind} member carries none (put them on {iface['name']})"
                    )
                elif member in owner:
                    problems.append(
                        f"{_where(host, iface, 'members')} '{member}' already belongs to {owner[member]}"
                    )
                elif kind == "bond" and found.get("kind", "ethernet") != "ethernet":
                    problems.append(
                        f"{_where(host, iface, 'members')} '{member}' is a {found['kind']}, not ethernet"
                    )
                owner.setdefault(member, iface["name"])
            if kind == "bond" and iface.get("bond_mode", BOND_MODES[0]) not in BOND_MODES:
                problems.append(
                    f"{_where(host, iface, 'bond_mode')} '{iface['bond_mode']}' "
                    f"is not one of {list(BOND_MODES)}"
                )
        if kind == "vlan":
            vid = iface.get("vlan_id")
            if not isinstance(vid, int) or isinstance(vid, bool) or not 1 <= vid <= 4094:
                problems.append(f"{_where(host, iface, 'vlan_id')} '{vid}' is not a VLAN ID from 1 to 4094")
            parent = by_name.get(iface.get("parent"))
            if parent is None:
                problems.append(
                    f"{_where(host, iface, 'parent')} '{iface.get('parent')}' is not a listed interface"
                )
            elif parent.get("kind", "ethernet") not in ("ethernet", "bond"):
                problems.append(f"{_where(host, iface, 'parent')} '{parent['name']}' is a {parent['kind']}")
            elif isinstance(_mtu(parent), int) and mtu > _mtu(parent):
                problems.append(
                    f"{_where(host, iface, 'mtu')} {mtu} is larger than its parent {parent['name']}'s MTU "
                    f"{_mtu(parent)}"
                )
    pairs = [
        (i.get("parent"), i.get("vlan_id"), i["name"]) for i in by_name.values() if i.get("kind") == "vlan"
    ]
    for parent, vid, name in pairs:
        twin = [n for p, v, n in pairs if (p, v) == (parent, vid) and n < name]
        if twin:
            problems.append(
                f"host {host}: network_interfaces[{name}] repeats VLAN {vid} on {parent} ({twin[0]})"
            )
    return problems


def _overlap_problems(host, by_name):
    problems, subnets = [], [(name, net) for name, iface in by_name.items() for net in _subnets(iface)]
    for i, (name_a, net_a) in enumerate(subnets):
        for name_b, net_b in subnets[i + 1 :]:
            if (
                name_a != name_b
                and net_a.version == net_b.version
                and (net_a.cidr in net_b.cidr or net_b.cidr in net_a.cidr)
            ):
                problems.append(
                    f"host {host}: network_interfaces[{name_b}] subnet {net_b.cidr} overlaps "
                    f"network_interfaces[{name_a}] subnet {net_a.cidr}"
                )
    gateways = {}
    for name, iface in by_name.items():
        gateway = parse_address(iface.get("gateway"))
        if gateway is not None:
            if gateway.version in gateways:
                problems.append(
                    f"host {host}: network_interfaces[{name}].gateway {gateway} is a second "
                    f"IPv{gateway.version} default route (network_interfaces[{gateways[gateway.version]}] "
                    "has one); give one a route"
                )
            gateways.setdefault(gateway.version, name)
    return problems


def _site_problems(host, by_name, site, networks, other_keys):
    """Each address inside its site's networks (the one `network` names, else any); MTU within the site's."""
    problems = []
    addressed = [i for i in by_name.values() if _subnets(i)]
    if not addressed or site is None:
        return problems
    nets = (networks or {}).get(site)
    if not isinstance(nets, dict):
        return [
            f"host {host}: site '{site}' has no entry in rackwright_networks to check its addresses against"
        ]
    site_nets = {
        k: parse_network(v) for k, v in nets.items() if k not in other_keys and parse_network(v) is not None
    }
    for iface in addressed:
        wanted = iface.get("network")
        if wanted is not None and wanted not in site_nets:
            problems.append(
                f"{_where(host, iface, 'network')} '{wanted}' is not a network of site {site} "
                f"(expected one of {sorted(site_nets)})"
            )
            continue
        allowed = {wanted: site_nets[wanted]} if wanted else site_nets
        for net in _subnets(iface):
            if not any(net.ip in s and net.prefixlen >= s.prefixlen for s in allowed.values()):
                problems.append(
                    f"{_where(host, iface, 'addresses')} '{net}' is outside site {site}'s "
                    + (
                        f"{wanted} network {site_nets[wanted].cidr}"
                        if wanted
                        else f"networks {[str(s.cidr) for s in allowed.values()]}"
                    )
                )
        limit = nets.get("mtu")
        if isinstance(limit, int) and isinstance(_mtu(iface), int) and _mtu(iface) > limit:
            problems.append(
                f"{_where(host, iface, 'mtu')} {_mtu(iface)} is larger than site {site}'s MTU {limit}"
            )
    return problems


def interface_problems(host, interfaces, site=None, networks=None, other_keys=("gateway", "mtu")):
    """Every problem of one host's network_interfaces, as sentences; [] when they are sound. A site's entry
    in NETWORKS names its networks (mgmt: 10.20.0.0/22, ...); OTHER_KEYS are its settings that are not."""
    problems = _shape_problems(host, interfaces)
    if not isinstance(interfaces, list):
        return problems
    by_name = {}
    for iface in interfaces:
        if isinstance(iface, dict) and isinstance(iface.get("name"), str) and NAME.fullmatch(iface["name"]):
            by_name.setdefault(iface["name"], iface)
    for iface in by_name.values():
        problems.extend(_address_problems(host, iface))
    problems.extend(_stack_problems(host, by_name))
    problems.extend(_overlap_problems(host, by_name))
    problems.extend(_site_problems(host, by_name, site, networks, other_keys))
    return problems


def duplicate_address_problems(addresses_by_host):
    """{host: [(where, address)]} -> a sentence for every address claimed twice, anywhere in the inventory."""
    claims, problems = {}, []
    for host in sorted(addresses_by_host):
        for where, value in addresses_by_host[host]:
            ip = parse_address(str(value).split("/", 1)[0])
            if ip is None or ip.is_loopback():
                continue
            if ip in claims:
                problems.append(f"host {host}: {where} {ip} is already {claims[ip]}")
            else:
                claims[ip] = f"host {host}'s {where}"
    return problems


def interface_addresses(interfaces):
    """[(where, address)] of the static addresses in a host's network_interfaces (for the duplicate check)."""
    if not isinstance(interfaces, list):
        return []
    return [
        (f"network_interfaces[{iface['name']}]", address)
        for iface in interfaces
        if isinstance(iface, dict) and isinstance(iface.get("name"), str)
        for address in (iface.get("addresses") if isinstance(iface.get("addresses"), list) else [])
    ]


def _section(name, pairs):
    lines = [f"[{name}]"] + [f"{key}={value}" for key, value in pairs if value not in (None, "", [])]
    return "\n".join(lines) if len(lines) > 1 else ""


def _file(name, sections):
    body = "\n\n".join(s for s in sections if s)
    return {
        "name": name,
        "content": f"# Managed by rackwright (network role); local edits are replaced.\n{body}\n",
    }


def networkd_files(interfaces, dns=None, domains=None, ntp=None):
    """The systemd-networkd files of a host's (checked) network_interfaces, as [{name, content}] in the order
    networkd reads them: NN-rackwright-<name>.netdev for each bond, VLAN and bridge, and .network for every
    interface. DNS servers, search domains and time servers go on the interfaces that carry a gateway."""
    by_name = {iface["name"]: iface for iface in interfaces}
    owner = {
        m: i["name"] for i in interfaces if i.get("kind") in ("bond", "bridge") for m in i.get("members", [])
    }
    vlans = {}
    for iface in interfaces:
        if iface.get("kind") == "vlan":
            vlans.setdefault(iface["parent"], []).append(iface["name"])
    files = []
    for iface in sorted(interfaces, key=lambda i: (ORDER[i.get("kind", "ethernet")], i["name"])):
        kind, name = iface.get("kind", "ethernet"), iface["name"]
        stem = f"{ORDER[kind]}-rackwright-{name}"
        mtu = iface.get("mtu")
        if kind == "bond":
            lacp = [("LACPTransmitRate", "fast"), ("TransmitHashPolicy", "layer3+4")]
            mode = iface.get("bond_mode", BOND_MODES[0])
            specific = _section(
                "Bond", [("Mode", mode), ("MIIMonitorSec", "100ms")] + (lacp if mode == "802.3ad" else [])
            )
        elif kind == "vlan":
            specific = _section("VLAN", [("Id", iface["vlan_id"])])
        elif kind == "bridge":
            specific = _section("Bridge", [("STP", "no")])
        if kind != "ethernet":
            netdev = _section("NetDev", [("Name", name), ("Kind", kind), ("MTUBytes", mtu)])
            files.append(_file(f"{stem}.netdev", [netdev, specific]))
        gateway = iface.get("gateway")
        dhcp = iface.get("dhcp")
        network = [
            *[("Address", a) for a in iface.get("addresses") or []],
            ("Gateway", gateway),
            ("DHCP", "ipv4" if dhcp is True else dhcp or None),
            *[("DNS", d) for d in (dns or []) if gateway or dhcp],
            ("Domains", " ".join(domains or []) if gateway or dhcp else None),
            *[("NTP", t) for t in (ntp or []) if gateway or dhcp],
            *[("VLAN", v) for v in sorted(vlans.get(name, []))],
        ]
        if name in owner:
            network.append(("Bond" if by_name[owner[name]].get("kind") == "bond" else "Bridge", owner[name]))
        elif not iface.get("addresses") and not dhcp and kind != "vlan" and name not in vlans:
            network.append(("LinkLocalAddressing", "no"))
        if name in vlans and not iface.get("addresses") and not dhcp:
            network.append(("ConfigureWithoutCarrier", "yes"))
        routes = [
            _section("Route", [("Destination", r["to"]), ("Gateway", r["via"]), ("Metric", r.get("metric"))])
            for r in iface.get("routes") or []
        ]
        link = _section("Link", [("MTUBytes", mtu if kind == "ethernet" else None)])
        files.append(
            _file(
                f"{stem}.network",
                [_section("Match", [("Name", name)]), link, _section("Network", network), *routes],
            )
        )
    return files


def next_free_address(subnet, used, first=1):
    """The lowest host address of SUBNET (CIDR) from its FIRST-th on that no entry of USED claims (addresses
    with or without a prefix); None when the subnet is full."""
    net = netaddr.IPNetwork(str(subnet))
    taken = {netaddr.IPAddress(str(u).split("/", 1)[0]) for u in used or []}
    hosts = net.iter_hosts() if net.version == 4 else iter(net)
    for index, ip in enumerate(hosts, start=1):
        if index >= first and ip not in taken:
            return str(ip)
    return None


def reverse_dns_name(address):
    """The PTR name of an address: 10.20.0.31 -> 31.0.20.10.in-addr.arpa (no trailing dot)."""
    return netaddr.IPAddress(str(address).split("/", 1)[0]).reverse_dns.rstrip(".")


def summarize_networks(networks):
    """The fewest CIDR networks that cover exactly NETWORKS (adjacent and nested ones merged)."""
    return [str(net) for net in netaddr.cidr_merge([netaddr.IPNetwork(str(n)) for n in networks or []])]
