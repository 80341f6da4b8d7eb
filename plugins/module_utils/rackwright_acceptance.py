# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Acceptance of a server against its specification (``rackwright_acceptance`` in the inventory).

``spec_problems`` checks the specification itself (the inventory gate runs it before any host is contacted).
``evaluate`` compares it with what was measured on the host and returns one row per item, in goss's shape:
``{item, expected, measured, status, reason}`` with status ``pass``, ``fail`` or ``unknown`` (not measured:
never a pass). ``junit_xml`` and ``markdown`` render the rows for CI and for people.

What was measured is a dict the acceptance playbook builds from facts and hardware inventory:

    cpus: 2                    # populated sockets
    cores: 40                  # physical cores, all sockets
    gpus: 4                    # GPUs the driver sees
    memory_mb: 393216          # installed (DIMMs), else what the OS reports
    disks: [{name: nvme0n1, kind: nvme, size_bytes: 3840755982336, serial: S4...}]
    nics: {eno1: {link: true, speed_mbps: 25000, mtu: 9000}}
    addresses: {eno1: [10.20.0.11/22, fe80::1/64]}   # configured on each interface
    gateway: 10.20.0.1         # the default IPv4 gateway ('' when the host has none)
    ping: [...]; dns: [...]; ntp: [...]              # net_probe's results, run on the host
    ports: [{from: fra1-app01, address, port, state, errno}]  # net_probe's tcp results, run on each peer
    bmc: {address, answered, reason}                 # net_probe's rmcp result, run on the controller
    records: {restore_test: {...} or None, health: {...} or None}  # the host's published result records

A key left out of the measured dict (not probed) makes its rows unknown.

The keys of the specification, all optional:

    cpus, cores, gpus: 2                       # at least
    memory_gb: 384                             # installed, at least (5 % below allowed for OS reservations)
    disks: [{kind: nvme, count: 4, min_gb: 3200}, {serial: BTWA0001}]
    nics: [{name: eno1, link: true, speed_mbps: 25000, mtu: 9000}]
    addresses: [{interface: eno1, address: 10.20.0.11/22}]   # configured on that interface (CIDR form)
    gateway_reachable: true                    # the default IPv4 gateway answers ping from the host
    peers: [{address: 10.20.0.12, mtu: 9000}]  # answer ping from the host; with mtu, that path MTU holds
    dns: [{name: fra1-db01.example.net, address: 10.20.0.11, server: 10.20.0.2}]
                                               # the resolver (server, else the host's first nameserver)
                                               # answers NAME with ADDRESS (A) and ADDRESS with NAME (PTR)
    time: {server: 10.20.0.2, max_offset_ms: 100}  # SNTP offset of the host's clock against SERVER
    ports: [{port: 22, state: open, from: fra1-app01, address: 10.20.0.11}]
                                               # a TCP connect from inventory host FROM to this host
                                               # (address, else its ansible_host): open (connected),
                                               # closed (refused: RST) or filtered (timeout, unreachable)
    bmc_reachable: true                        # bmc_address answers an RMCP presence ping from the controller
    backup_restore_tested: true                # the host's restore_test record has status ok
    health: ok                                 # the host's health record is this or better
                                               # (severity order ok < unknown < warning < critical)
"""

import difflib
import ipaddress
import xml.etree.ElementTree as ET

from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_health import HEALTH_STATES

DISK_KINDS = ("hdd", "ssd", "nvme")
KEYS = {"cpus", "cores", "memory_gb", "gpus", "disks", "nics", "addresses", "gateway_reachable", "peers",
        "dns", "time", "ports", "bmc_reachable", "backup_restore_tested", "health"}  # fmt: skip
LIST_KEYS = ("disks", "nics", "addresses", "peers", "dns", "ports")
FLAG_KEYS = ("gateway_reachable", "bmc_reachable", "backup_restore_tested")
ADDRESS_KEYS = {"interface", "address"}
PEER_KEYS = {"address", "mtu"}
DNS_KEYS = {"name", "address", "server"}
TIME_KEYS = {"server", "max_offset_ms"}
PORT_KEYS = {"port", "state", "from", "address"}
PORT_STATES = ("open", "closed", "filtered")
DISK_KEYS = {"kind", "count", "min_gb", "serial"}
NIC_KEYS = {"name", "speed_mbps", "mtu", "link"}
# The OS reports less memory than the DIMMs hold (firmware and kernel reservations): allowed below the spec.
MEMORY_SLACK = 0.05


def _number(value, minimum=0, integer=False):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return value > minimum if not integer else isinstance(value, int) and value > minimum


def _unknown_keys(where, item, known):
    problems = []
    for key in sorted(set(item) - known):
        hint = difflib.get_close_matches(key, sorted(known), n=1)
        problems.append(
            f"{where}: unknown key '{key}'"
            + (f" (did you mean '{hint[0]}'?)" if hint else f" (expected any of {sorted(known)})")
        )
    return problems


def _ip(value, cidr=False):
    """The address (or with CIDR, the interface address with its prefix) of VALUE, or None if it is none."""
    if not isinstance(value, str) or (cidr and "/" not in value):
        return None
    try:
        return ipaddress.ip_interface(value) if cidr else ipaddress.ip_address(value)
    except ValueError:
        return None


def _entries(problems, where, spec, key, known, example):
    """(at, entry) of each entry of the list SPEC[KEY] that is a mapping; a problem for each that is not."""
    for index, entry in enumerate(spec.get(key) or [] if isinstance(spec.get(key), list) else []):
        at = f"{where}.{key}[{index}]"
        if not isinstance(entry, dict):
            problems.append(f"{at} must be a mapping such as {example}, got {entry!r}")
            continue
        problems.extend(_unknown_keys(at, entry, known))
        yield at, entry


def _network_problems(where, spec, host, hosts):
    """Problems of the keys a probe measures: addresses, flags, peers, dns, time, ports, health."""
    problems = []
    for key in FLAG_KEYS:
        if key in spec and not isinstance(spec[key], bool):
            problems.append(f"{where}.{key} '{spec[key]}' is not true or false")
    example = "{interface: eno1, address: 10.20.0.11/22}"
    for at, entry in _entries(problems, where, spec, "addresses", ADDRESS_KEYS, example):
        if not isinstance(entry.get("interface"), str) or not entry["interface"]:
            problems.append(
                f"{at}.interface '{entry.get('interface')}' is not an interface name such as eno1"
            )
        if _ip(entry.get("address"), cidr=True) is None:
            problems.append(
                f"{at}.address '{entry.get('address')}' is not an address in CIDR form such as 10.20.0.11/22"
            )
    for at, entry in _entries(problems, where, spec, "peers", PEER_KEYS, "{address: 10.20.0.12, mtu: 9000}"):
        if _ip(entry.get("address")) is None:
            problems.append(f"{at}.address '{entry.get('address')}' is not an IP address such as 10.20.0.12")
        mtu = entry.get("mtu")
        if "mtu" in entry and not (_number(mtu, integer=True) and 68 <= mtu <= 65535):
            problems.append(f"{at}.mtu '{mtu}' is not an MTU (a whole number from 68 to 65535)")
    example = "{name: fra1-db01.example.net, address: 10.20.0.11}"
    for at, entry in _entries(problems, where, spec, "dns", DNS_KEYS, example):
        name = entry.get("name")
        if not isinstance(name, str) or not name.strip(".") or " " in name:
            problems.append(f"{at}.name '{name}' is not a DNS name such as fra1-db01.example.net")
        for key in ("address", "server"):
            if (key == "address" or key in entry) and _ip(entry.get(key)) is None:
                problems.append(f"{at}.{key} '{entry.get(key)}' is not an IP address such as 10.20.0.11")
    if "time" in spec:
        entry = spec["time"]
        if not isinstance(entry, dict):
            problems.append(
                f"{where}.time must be a mapping such as {{server: 10.20.0.2, max_offset_ms: 100}}, "
                f"got {entry!r}"
            )
        else:
            problems.extend(_unknown_keys(f"{where}.time", entry, TIME_KEYS))
            if not isinstance(entry.get("server"), str) or not entry["server"] or " " in entry["server"]:
                problems.append(
                    f"{where}.time.server '{entry.get('server')}' is not an NTP server address or name"
                )
            if not _number(entry.get("max_offset_ms")):
                problems.append(
                    f"{where}.time.max_offset_ms '{entry.get('max_offset_ms')}' is not a number of "
                    "milliseconds above 0"
                )
    example = "{port: 22, state: open, from: fra1-app01}"
    for at, entry in _entries(problems, where, spec, "ports", PORT_KEYS, example):
        port = entry.get("port")
        if not (_number(port, integer=True) and port <= 65535):
            problems.append(f"{at}.port '{port}' is not a TCP port (a whole number from 1 to 65535)")
        if entry.get("state") not in PORT_STATES:
            problems.append(f"{at}.state '{entry.get('state')}' is not one of {list(PORT_STATES)}")
        peer = entry.get("from")
        if not isinstance(peer, str) or not peer:
            problems.append(
                f"{at}.from '{peer}' is not an inventory host name (the host that probes the port)"
            )
        elif peer == host:
            problems.append(
                f"{at}.from '{peer}' is the host itself: name another inventory host to probe from"
            )
        elif hosts is not None and peer not in hosts:
            hint = difflib.get_close_matches(peer, sorted(hosts), n=1)
            problems.append(
                f"{at}.from '{peer}' is not an inventory host"
                + (f" (did you mean '{hint[0]}'?)" if hint else "")
            )
        if "address" in entry and _ip(entry["address"]) is None:
            problems.append(f"{at}.address '{entry['address']}' is not an IP address such as 10.20.0.11")
    if "health" in spec and spec["health"] not in HEALTH_STATES:
        problems.append(f"{where}.health '{spec['health']}' is not one of {list(HEALTH_STATES)}")
    return problems


def spec_problems(host, spec, hosts=None):
    """Every problem of one host's rackwright_acceptance, as sentences naming host, item and value.

    HOSTS, the inventory's host names where known, lets the ports' ``from`` be checked against them."""
    where = f"host {host}: rackwright_acceptance"
    if not isinstance(spec, dict):
        return [f"{where} must be a mapping such as {{cpus: 2, cores: 32, memory_gb: 256}}, got {spec!r}"]
    problems = _unknown_keys(where, spec, KEYS)
    for key in ("cpus", "cores", "gpus"):
        if key in spec and not _number(spec[key], integer=True):
            problems.append(f"{where}.{key} '{spec[key]}' is not a whole number above 0")
    if "memory_gb" in spec and not _number(spec["memory_gb"]):
        problems.append(f"{where}.memory_gb '{spec['memory_gb']}' is not a number of GB above 0")
    for index, disk in enumerate(spec.get("disks") or []):
        at = f"{where}.disks[{index}]"
        if not isinstance(disk, dict):
            problems.append(
                f"{at} must be a mapping such as {{kind: ssd, count: 2, min_gb: 960}}, got {disk!r}"
            )
            continue
        problems.extend(_unknown_keys(at, disk, DISK_KEYS))
        if disk.get("kind") not in DISK_KINDS and "serial" not in disk:
            problems.append(f"{at}.kind '{disk.get('kind')}' is not one of {list(DISK_KINDS)}")
        if "count" in disk and not _number(disk["count"], integer=True):
            problems.append(f"{at}.count '{disk['count']}' is not a whole number above 0")
        if "min_gb" in disk and not _number(disk["min_gb"]):
            problems.append(f"{at}.min_gb '{disk['min_gb']}' is not a number of GB above 0")
    for index, nic in enumerate(spec.get("nics") or []):
        at = f"{where}.nics[{index}]"
        if not isinstance(nic, dict) or not isinstance(nic.get("name"), str) or not nic["name"]:
            problems.append(f"{at} must be a mapping with the interface's name, such as {{name: eno1}}")
            continue
        problems.extend(_unknown_keys(at, nic, NIC_KEYS))
        for key in ("speed_mbps", "mtu"):
            if key in nic and not _number(nic[key], integer=True):
                problems.append(f"{at}.{key} '{nic[key]}' is not a whole number above 0")
        if "link" in nic and not isinstance(nic["link"], bool):
            problems.append(f"{at}.link '{nic['link']}' is not true or false")
    problems.extend(_network_problems(where, spec, host, hosts))
    for key in LIST_KEYS:
        if key in spec and not isinstance(spec[key], list):
            problems.append(f"{where}.{key} must be a list, got {spec[key]!r}")
    return problems


# Block devices that are no disk of the server: loop, RAM, zram, device mapper, md, optical, floppy, nbd.
NOT_DISKS = ("loop", "ram", "zram", "dm-", "md", "sr", "fd", "nbd")


def measured_from_facts(facts, hw_inventory=None, gpus=None):
    """What `evaluate` compares, from Ansible facts (setup's hardware and network subsets; with or without the
    ansible_ prefix), the hw_inventory module's result (installed memory) and the GPUs gpu_health saw. Values
    the facts lack stay None (unknown), never 0."""
    facts = {k[len("ansible_") :] if k.startswith("ansible_") else k: v for k, v in (facts or {}).items()}
    sockets, per_socket = facts.get("processor_count"), facts.get("processor_cores")
    installed = ((hw_inventory or {}).get("memory") or {}).get("total_mb")
    disks = []
    for name, dev in sorted((facts.get("devices") or {}).items()):
        size = int(dev.get("sectors") or 0) * int(dev.get("sectorsize") or 512)
        if name.startswith(NOT_DISKS) or size == 0:
            continue
        kind = "nvme" if name.startswith("nvme") else ("hdd" if str(dev.get("rotational")) == "1" else "ssd")
        disks.append({"name": name, "kind": kind, "size_bytes": size, "serial": dev.get("serial")})
    nics = {}
    for name in facts.get("interfaces") or []:
        nic = facts.get(name) or facts.get(name.replace("-", "_").replace(".", "_"))
        if name == "lo" or not isinstance(nic, dict):
            continue
        speed = nic.get("speed")
        nics[name] = {
            "link": bool(nic.get("active")),
            "speed_mbps": speed if isinstance(speed, int) and speed > 0 else None,
            "mtu": nic.get("mtu"),
        }
    return {
        "cpus": sockets,
        "cores": sockets * per_socket if isinstance(sockets, int) and isinstance(per_socket, int) else None,
        "gpus": None if gpus is None else len(gpus),
        "memory_mb": installed or facts.get("memtotal_mb"),
        "disks": disks if facts.get("devices") is not None else None,
        "nics": nics if facts.get("interfaces") is not None else None,
        "addresses": _addresses(facts),
        "gateway": None
        if "default_ipv4" not in facts
        else (facts["default_ipv4"] or {}).get("gateway") or "",
    }


def _addresses(facts):
    """Interface -> the addresses configured on it in CIDR form (ipv4, ipv4_secondaries, ipv6), from facts."""
    if facts.get("interfaces") is None:
        return None
    found = {}
    for name in facts["interfaces"]:
        nic = facts.get(name) or facts.get(name.replace("-", "_").replace(".", "_"))
        if not isinstance(nic, dict):
            continue
        entries = [nic.get("ipv4")] if isinstance(nic.get("ipv4"), dict) else list(nic.get("ipv4") or [])
        entries += list(nic.get("ipv4_secondaries") or []) + list(nic.get("ipv6") or [])
        cidrs = []
        for entry in entries:
            if isinstance(entry, dict) and entry.get("address"):
                prefix = entry.get("prefix") or entry.get("netmask")
                interface = _ip(f"{entry['address']}/{prefix}", cidr=True) if prefix else None
                cidrs.append(interface.with_prefixlen if interface else str(entry["address"]))
        found[name] = cidrs
    return found


def probe_plan(spec, gateway=None, address=None):
    """What net_probe must do for SPEC: ``{host: {ping, dns, ntp}, peers: {peer: [tcp probes]}}``.

    GATEWAY is the host's default gateway (from facts), ADDRESS the host's address for the ports' probes
    (its ansible_host) where a port entry gives none."""
    ping = []
    if spec.get("gateway_reachable") and gateway:
        ping.append({"address": gateway})
    for peer in spec.get("peers") or []:
        ping.append({"address": peer["address"]})
        if "mtu" in peer:
            ping.append({"address": peer["address"], "mtu": peer["mtu"]})
    dns = [{key: entry[key] for key in DNS_KEYS if key in entry} for entry in spec.get("dns") or []]
    ntp = [{"server": spec["time"]["server"]}] if "time" in spec else []
    peers = {}
    for entry in spec.get("ports") or []:
        target = entry.get("address") or address
        peers.setdefault(entry["from"], []).append({"address": target, "port": entry["port"]})
    return {"host": {"ping": ping, "dns": dns, "ntp": ntp}, "peers": peers}


def _row(item, expected, measured, ok, reason):
    if measured is None:
        return {"item": item, "expected": expected, "measured": None, "status": "unknown",
                "reason": "not measured on the host"}  # fmt: skip
    return {"item": item, "expected": expected, "measured": measured, "status": "pass" if ok else "fail",
            "reason": "" if ok else reason}  # fmt: skip


def _disk_rows(specs, disks):
    rows, free = [], list(disks or [])
    # Serials first, then the largest sizes, so a smaller spec cannot take the disk a larger one needs.
    order = sorted(enumerate(specs), key=lambda p: ("serial" not in p[1], -(p[1].get("min_gb") or 0)))
    for index, spec in order:
        if "serial" in spec:
            found = [d for d in free if d.get("serial") == spec["serial"]]
            item = f"disks[{index}] serial {spec['serial']}"
            got = found[0]["name"] if found else "absent"
            rows.append(
                (index, _row(item, spec["serial"], got, bool(found), f"no disk with serial {spec['serial']}"))
            )
            free = [d for d in free if d not in found[:1]]
            continue
        count, min_bytes = spec.get("count", 1), (spec.get("min_gb") or 0) * 10**9
        fits = [d for d in free if d.get("kind") == spec["kind"] and (d.get("size_bytes") or 0) >= min_bytes][
            :count
        ]
        free = [d for d in free if d not in fits]
        size = f" of {spec['min_gb']} GB or more" if spec.get("min_gb") else ""
        seen = [d["name"] for d in disks or [] if d.get("kind") == spec["kind"]]
        rows.append((index, _row(
            f"disks[{index}] {count} {spec['kind']}{size}", count, len(fits), len(fits) >= count,
            f"found {len(fits)} ({spec['kind']} disks present: {seen or 'none'})",
        )))  # fmt: skip
    return [row for _index, row in sorted(rows, key=lambda r: r[0])]


def _nic_rows(specs, nics):
    rows = []
    for spec in specs:
        name, got = spec["name"], (nics or {}).get(spec["name"])
        if got is None:
            rows.append(_row(f"nic {name}", "present", "absent", False, f"no interface {name} on the host"))
            continue
        if spec.get("link", True):
            link = bool(got.get("link"))
            why = f"{name} has no link (cable, switch port or transceiver)"
            rows.append(_row(f"nic {name} link", "up", "up" if link else "down", link, why))
        if "speed_mbps" in spec:
            speed = got.get("speed_mbps")
            why = f"{name} negotiated {speed} Mb/s, below {spec['speed_mbps']}"
            rows.append(
                _row(f"nic {name} speed", spec["speed_mbps"], speed, (speed or 0) >= spec["speed_mbps"], why)
            )
        if "mtu" in spec:
            mtu = got.get("mtu")
            rows.append(_row(f"nic {name} mtu", spec["mtu"], mtu, mtu == spec["mtu"],
                             f"{name} MTU is {mtu}, not {spec['mtu']}"))  # fmt: skip
    return rows


def _unknown(item, expected, reason):
    return {"item": item, "expected": expected, "measured": None, "status": "unknown", "reason": reason}


def _probe(measured, key, **match):
    """The first of MEASURED[KEY]'s probe results whose fields match (None when absent or not probed)."""
    for result in measured.get(key) or []:
        if all(result.get(field) == value for field, value in match.items()):
            return result
    return None


def _address_rows(specs, addresses):
    rows = []
    for spec in specs:
        item, want = f"address {spec['interface']} {spec['address']}", ipaddress.ip_interface(spec["address"])
        if addresses is None:
            rows.append(_row(item, spec["address"], None, False, ""))
            continue
        if spec["interface"] not in addresses:
            why = f"no interface {spec['interface']} on the host"
            rows.append(_row(item, spec["address"], "absent", False, why))
            continue
        got = addresses[spec["interface"]]
        ok = any(_ip(cidr, cidr=True) == want for cidr in got)
        why = f"{spec['address']} is not configured on {spec['interface']}"
        rows.append(_row(item, spec["address"], ", ".join(got) or "no address", ok, why))
    return rows


def _ping_row(item, expected, result, what, how="ping from the host"):
    if result is None:
        return _row(item, expected, None, False, "")
    if result.get("answered") is None:
        return _unknown(item, expected, result.get("reason") or "not measured on the host")
    answered = bool(result["answered"])
    why = f"{what} does not answer {how}: {result.get('reason') or 'no reply'}"
    return _row(item, expected, "answers" if answered else "no answer", answered, why)


def _reach_rows(spec, measured):
    rows = []
    if spec.get("gateway_reachable"):
        gateway = measured.get("gateway")
        if gateway == "":
            rows.append(_row("gateway reachable", "answers ping", "no default gateway", False,
                             "the host has no default IPv4 gateway"))  # fmt: skip
        else:
            result = _probe(measured, "ping", address=gateway, mtu=None) if gateway else None
            rows.append(_ping_row("gateway reachable", "answers ping", result, f"gateway {gateway}"))
    for peer in spec.get("peers") or []:
        address = peer["address"]
        result = _probe(measured, "ping", address=address, mtu=None)
        rows.append(_ping_row(f"peer {address} reachable", "answers ping", result, f"peer {address}"))
        if "mtu" in peer:
            item, result = (
                f"peer {address} path mtu",
                _probe(measured, "ping", address=address, mtu=peer["mtu"]),
            )
            row = _ping_row(item, peer["mtu"], result, f"peer {address}")
            if row["status"] != "unknown":
                ok, below = row["status"] == "pass", f"below {peer['mtu']}"
                why = f"path MTU to {address} {below}: {result.get('reason') or 'no reply'}"
                row = _row(item, peer["mtu"], peer["mtu"] if ok else below, ok, why)
            rows.append(row)
    return rows


def _dns_text(answer):
    """What a resolver said, in a word or the answers: 'no answer', 'NXDOMAIN', '10.77.0.99'."""
    if answer.get("error"):
        return answer["error"]
    if answer.get("rcode") not in (None, "NOERROR"):
        return answer["rcode"]
    return ", ".join(answer.get("answers") or []) or "no record"


def _dns_rows(specs, measured):
    rows = []
    for spec in specs:
        name, address = spec["name"], spec["address"]
        result = _probe(measured, "dns", name=name, address=address)
        if result is None:
            rows.append(_row(f"dns {name} forward", address, None, False, ""))
            rows.append(_row(f"dns {address} reverse", name, None, False, ""))
            continue
        server, forward, reverse = (
            result.get("server"),
            result.get("forward") or {},
            result.get("reverse") or {},
        )
        got = _dns_text(forward)
        ok = any(_ip(a) == _ip(address) for a in forward.get("answers") or []) and not forward.get("error")
        why = f"resolver {server} answers {name} with {got}, expected {address}"
        rows.append(_row(f"dns {name} forward", address, got, ok, why))
        got = _dns_text(reverse)
        names = [n.lower().rstrip(".") for n in reverse.get("answers") or []]
        ok = name.lower().rstrip(".") in names and not reverse.get("error")
        why = f"resolver {server} answers {address} with {got}, expected {name}"
        rows.append(_row(f"dns {address} reverse", name, got, ok, why))
    return rows


def _time_rows(spec, measured):
    server, limit = spec["server"], spec["max_offset_ms"]
    item, expected = f"time offset to {server}", f"within {limit} ms"
    result = _probe(measured, "ntp", server=server)
    if result is None:
        return [_row(item, expected, None, False, "")]
    offset = result.get("offset_ms")
    if offset is None:
        got = result.get("error") or "no answer"
        return [_row(item, expected, got, False, f"NTP server {server} gave no time: {got}")]
    ok = abs(offset) <= limit
    # A passing offset is shown as the limit it keeps: the exact figure differs on every run, and the reports
    # must not change when nothing did.
    got = expected if ok else f"{offset} ms"
    return [_row(item, expected, got, ok, f"clock is {offset} ms off {server}, more than {limit} ms")]


def _port_rows(specs, measured):
    rows = []
    for spec in specs:
        peer, port, want = spec["from"], spec["port"], spec["state"]
        item = f"port {port} from {peer}"
        match = {"from": peer, "port": port}
        if spec.get("address"):
            match["address"] = spec["address"]
        result = _probe(measured, "ports", **match)
        if result is None:
            rows.append(_row(item, want, None, False, ""))
            continue
        state, error = result.get("state"), result.get("errno")
        got = f"{state} ({error})" if error else state
        why = f"{state}, expected {want}" + (f" ({error} from {peer})" if error else f" (seen from {peer})")
        rows.append(_row(item, want, got, state == want, why))
    return rows


def _record_rows(spec, measured):
    rows = []
    records = measured.get("records")
    if spec.get("bmc_reachable"):
        bmc = measured.get("bmc")
        if bmc is not None and not bmc.get("address"):
            rows.append(_row("bmc reachable", "answers RMCP ping", "no bmc_address", False,
                             "the host has no bmc_address in the inventory"))  # fmt: skip
        else:
            address = (bmc or {}).get("address")
            rows.append(_ping_row("bmc reachable", "answers RMCP ping", bmc, f"BMC {address}"))
            rows[-1]["reason"] = rows[-1]["reason"].replace(
                "ping from the host", "RMCP ping from the controller"
            )
    wants = []
    if spec.get("backup_restore_tested"):
        wants.append(("backup restore tested", "restore_test", "ok"))
    if "health" in spec:
        wants.append(("health", "health", spec["health"]))
    for item, kind, level in wants:
        if records is None or kind not in records:
            rows.append(_row(item, level, None, False, ""))
            continue
        record = records[kind]
        if not isinstance(record, dict):
            why = f"no {kind} record for this host in the reports"
            rows.append(_row(item, level, "no record", False, why))
            continue
        status = record.get("status")
        ok = status in HEALTH_STATES and HEALTH_STATES.index(status) <= HEALTH_STATES.index(level)
        reasons = "; ".join(str(r) for r in record.get("reasons") or []) or "no reason given"
        why = f"{kind} record of {record.get('time')} says {status}, needed {level} or better: {reasons}"
        rows.append(_row(item, level, status, ok, why))
    return rows


def evaluate(spec, measured):
    """One row per item of SPEC against MEASURED, in the order of the spec."""
    rows = []
    for key, label in (("cpus", "CPU sockets"), ("cores", "CPU cores"), ("gpus", "GPUs")):
        if key in spec:
            got = measured.get(key)
            rows.append(
                _row(key, spec[key], got, (got or 0) >= spec[key], f"{got} {label}, below {spec[key]}")
            )
    if "memory_gb" in spec:
        got_mb = measured.get("memory_mb")
        got = None if got_mb is None else round(got_mb / 1024, 1)
        ok = got is not None and got >= spec["memory_gb"] * (1 - MEMORY_SLACK)
        rows.append(
            _row("memory_gb", spec["memory_gb"], got, ok, f"{got} GB of memory, below {spec['memory_gb']}")
        )
    rows.extend(_disk_rows(spec.get("disks") or [], measured.get("disks")))
    rows.extend(_nic_rows(spec.get("nics") or [], measured.get("nics")))
    rows.extend(_address_rows(spec.get("addresses") or [], measured.get("addresses")))
    rows.extend(_reach_rows(spec, measured))
    rows.extend(_dns_rows(spec.get("dns") or [], measured))
    if "time" in spec:
        rows.extend(_time_rows(spec["time"], measured))
    rows.extend(_port_rows(spec.get("ports") or [], measured))
    rows.extend(_record_rows(spec, measured))
    return rows


def summary(rows):
    """The acceptance verdict as a result record's status and reasons: ``ok`` when every row passes,
    ``critical`` when any fails, ``unknown`` when none fails but some were not measured (never ``ok``)."""
    bad = failed(rows)
    status = "ok" if not bad else ("critical" if any(r["status"] == "fail" for r in bad) else "unknown")
    reasons = [f"{r['item']}: expected {r['expected']}, measured {r['measured']}: {r['reason']}" for r in bad]
    counts = {state: sum(r["status"] == state for r in rows) for state in ("pass", "fail", "unknown")}
    return {"status": status, "reasons": reasons, "counts": counts}


def failed(rows):
    """The rows that keep a host from acceptance: failed and unmeasured ones."""
    return [r for r in rows if r["status"] != "pass"]


def junit_xml(host, rows):
    """JUnit XML of one host's rows: a failure per failed row, a skip (with the reason) per unmeasured one."""
    suite = ET.Element("testsuite", name=f"acceptance.{host}", tests=str(len(rows)),
                       failures=str(sum(r["status"] == "fail" for r in rows)),
                       skipped=str(sum(r["status"] == "unknown" for r in rows)))  # fmt: skip
    for row in rows:
        case = ET.SubElement(suite, "testcase", classname=f"acceptance.{host}", name=row["item"])
        text = f"expected {row['expected']}, measured {row['measured']}: {row['reason']}"
        if row["status"] == "fail":
            ET.SubElement(case, "failure", message=row["reason"]).text = text
        elif row["status"] == "unknown":
            ET.SubElement(case, "skipped", message=row["reason"]).text = text
    return ET.tostring(suite, encoding="unicode") + "\n"


def markdown(host, rows):
    """A table people read: one line per item, failures first."""
    order = {"fail": 0, "unknown": 1, "pass": 2}
    verdict = f"{len(failed(rows))} item(s) not accepted" if failed(rows) else "PASSED"
    lines = [
        f"# Acceptance of {host}: {verdict}",
        "",
        "| item | expected | measured | result | reason |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in sorted(rows, key=lambda r: order[r["status"]]):
        cells = [row["item"], row["expected"], "not measured" if row["measured"] is None else row["measured"],
                 row["status"].upper(), row["reason"]]  # fmt: skip
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"
