#!/usr/bin/python
# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module net_probe: ping, TCP connect, DNS, SNTP and RMCP probes from the host it runs on."""

# ruff: noqa: E402 - Ansible modules keep DOCUMENTATION/EXAMPLES/RETURN before the imports.

DOCUMENTATION = r"""
---
module: net_probe
short_description: Probe the network from a host (ping, TCP connect, DNS, SNTP, RMCP ping), read-only
description:
  - Runs every probe given, in one module call, from the host it runs on (delegate it to probe from a peer or
    from the controller) and returns one result per probe. It judges nothing against a specification; the
    acceptance role does that.
  - O(ping) runs C(ping -c 1 -W 2); with C(mtu) it sends one packet of that size with fragmentation
    prohibited (C(-M do -s <mtu-28>) for IPv4, C(<mtu-48>) for IPv6), so a smaller MTU on the path answers
    C(message too long) or nothing.
  - O(tcp) connects and says C(open) (connected), C(closed) (refused, the host answered RST) or C(filtered)
    (no answer within the timeout, or an ICMP unreachable or administratively prohibited), with the errno.
  - O(dns) asks a resolver directly over UDP (not through getaddrinfo, so C(/etc/hosts) cannot mask a wrong
    DNS answer) for the A record of C(name) and the PTR record of C(address).
  - O(ntp) sends one SNTP (RFC 4330) request and returns the clock offset of this host against the server.
  - O(rmcp) sends an RMCP presence ping (ASF) to a BMC, which answers it without credentials.
version_added: "1.0.0"
author: rackwright contributors (!UNKNOWN)
options:
  dns:
    description: Forward (A) and reverse (PTR) lookups to check.
    type: list
    elements: dict
    default: []
    suboptions:
      address:
        description: Address whose PTR record to ask for.
        type: str
        required: true
      name:
        description: Name whose A records to ask for.
        type: str
        required: true
      port:
        description: Resolver UDP port.
        type: int
        default: 53
      server:
        description: Resolver address; the first C(nameserver) of C(/etc/resolv.conf) when omitted.
        type: str
      timeout: &udp_timeout
        description: Seconds to wait for each answer.
        type: float
        default: 2
  ntp:
    description: NTP servers to measure the clock offset against.
    type: list
    elements: dict
    default: []
    suboptions:
      port:
        description: NTP UDP port.
        type: int
        default: 123
      server:
        description: NTP server address or name.
        type: str
        required: true
      timeout: *udp_timeout
  ping:
    description: Addresses to ping once each.
    type: list
    elements: dict
    default: []
    suboptions:
      address:
        description: IPv4 or IPv6 address (or name) to ping.
        type: str
        required: true
      mtu:
        description: Path MTU to prove with one packet of this size that must not be fragmented.
        type: int
  rmcp:
    description: BMCs to send an RMCP presence ping to.
    type: list
    elements: dict
    default: []
    suboptions:
      address:
        description: BMC address.
        type: str
        required: true
      port:
        description: RMCP UDP port.
        type: int
        default: 623
      timeout: *udp_timeout
  tcp:
    description: TCP ports to connect to.
    type: list
    elements: dict
    default: []
    suboptions:
      address:
        description: Address to connect to.
        type: str
        required: true
      port:
        description: TCP port, 1 to 65535.
        type: int
        required: true
      timeout:
        description: Seconds to wait for an answer before calling the port C(filtered).
        type: float
        default: 3
notes:
  - Supports check mode; the module never changes anything.
  - C(health) is C(unknown) only when a probe could not be run at all (no C(ping) binary, no resolver); a
    probe that got no answer is a result, not an error.
"""

EXAMPLES = r"""
- name: Probe the gateway, a peer's path MTU, DNS and time
  rackwright.infra.net_probe:
    ping:
      - address: 10.77.0.1
      - address: 10.77.0.13
        mtu: 1500
    dns:
      - name: new-server.lab.example
        address: 10.77.0.12
    ntp:
      - server: 10.77.0.13

- name: Is SSH open on new-server, seen from old-server?
  rackwright.infra.net_probe:
    tcp:
      - address: 10.77.0.12
        port: 22
  delegate_to: old-server

- name: Does the BMC answer?
  rackwright.infra.net_probe:
    rmcp:
      - address: 10.20.8.11
  delegate_to: localhost
"""

RETURN = r"""
health:
  description: C(ok) when every probe could be run, C(unknown) when one could not (see RV(reasons)).
  returned: always
  type: str
  sample: ok
reasons:
  description: Why a probe could not be run.
  returned: always
  type: list
  elements: str
  sample: ["ping not found in PATH: install iputils-ping"]
ping:
  description: One result per O(ping) entry.
  returned: always
  type: list
  elements: dict
  contains:
    address:
      description: The address pinged.
      type: str
    mtu:
      description: The MTU probed, null without one.
      type: int
    answered:
      description: Whether the echo reply came back; null when C(ping) is not installed.
      type: bool
    reason:
      description: Why not (C(no reply), C(message too long ...), the ping error); empty when it answered.
      type: str
tcp:
  description: One result per O(tcp) entry.
  returned: always
  type: list
  elements: dict
  contains:
    address:
      description: The address connected to.
      type: str
    port:
      description: The port.
      type: int
    state:
      description: C(open), C(closed) or C(filtered).
      type: str
    errno:
      description: C(ECONNREFUSED), C(timeout), C(EHOSTUNREACH), ...; null when it connected.
      type: str
dns:
  description: One result per O(dns) entry.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The name asked for.
      type: str
    address:
      description: The address whose PTR record was asked for.
      type: str
    server:
      description: The resolver asked.
      type: str
    forward:
      description: The A query's answer, C({rcode, answers, error}) (C(answers) a list of addresses; C(error)
        set when no answer came).
      type: dict
    reverse:
      description: The PTR query's answer, same shape (C(answers) a list of names).
      type: dict
ntp:
  description: One result per O(ntp) entry.
  returned: always
  type: list
  elements: dict
  contains:
    server:
      description: The server asked.
      type: str
    offset_ms:
      description: Server clock minus this host's, in milliseconds; null without an answer.
      type: float
    error:
      description: Why there is no offset; null with one.
      type: str
rmcp:
  description: One result per O(rmcp) entry.
  returned: always
  type: list
  elements: dict
  contains:
    address:
      description: The BMC address.
      type: str
    answered:
      description: Whether a presence pong came back.
      type: bool
    reason:
      description: Why not; empty when it answered.
      type: str
"""

import ipaddress
import os
import socket
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_health import Verdict
from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_module import (
    find_tool,
    finish,
    read_input,
    run_tool,
)
from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_probe import (
    RMCP_PING,
    WireError,
    dns_answer,
    dns_query,
    ping_result,
    resolver_from,
    reverse_name,
    rmcp_pong,
    sntp_offset,
    sntp_request,
    tcp_state,
)

# The UDP probes' one timeout (documented once, as &udp_timeout, for dns, ntp and rmcp).
UDP_TIMEOUT = dict(type="float", default=2)
PROBE_OPTIONS = {
    "ping": dict(address=dict(type="str", required=True), mtu=dict(type="int")),
    "tcp": dict(
        address=dict(type="str", required=True),
        port=dict(type="int", required=True),
        timeout=dict(type="float", default=3),
    ),
    "dns": dict(
        name=dict(type="str", required=True),
        address=dict(type="str", required=True),
        server=dict(type="str"),
        port=dict(type="int", default=53),
        timeout=UDP_TIMEOUT,
    ),
    "ntp": dict(
        server=dict(type="str", required=True),
        port=dict(type="int", default=123),
        timeout=UDP_TIMEOUT,
    ),
    "rmcp": dict(
        address=dict(type="str", required=True),
        port=dict(type="int", default=623),
        timeout=UDP_TIMEOUT,
    ),
}


def check_inputs(module):
    """Fail naming the parameter for what the argument spec cannot see: ports, MTUs, timeouts, addresses."""
    for action in PROBE_OPTIONS:
        for index, probe in enumerate(module.params[action]):
            at = f"{action}[{index}]"
            for key in ("address", "server", "name"):
                value = probe.get(key)
                if value is not None and (not value.strip() or value.startswith("-") or " " in value):
                    module.fail_json(msg=f"{at}.{key} {value!r} is not an address or host name")
            if probe.get("port") is not None and not 1 <= probe["port"] <= 65535:
                module.fail_json(msg=f"{at}.port {probe['port']} is not a port number (1 to 65535)")
            if probe.get("timeout") is not None and not 0 < probe["timeout"] <= 60:
                module.fail_json(
                    msg=f"{at}.timeout {probe['timeout']} is not a number of seconds (above 0, at most 60)"
                )
            if probe.get("mtu") is not None and not 68 <= probe["mtu"] <= 65535:
                module.fail_json(msg=f"{at}.mtu {probe['mtu']} is not an MTU (68 to 65535)")
            if action == "dns":
                try:
                    reverse_name(probe["address"])
                except ValueError:
                    module.fail_json(msg=f"{at}.address {probe['address']!r} is not an IP address")


def ping(module, probe, binary):
    args = [binary, "-n", "-c", "1", "-W", "2"]
    if probe["mtu"] is not None:
        try:
            overhead = 48 if ipaddress.ip_address(probe["address"]).version == 6 else 28
        except ValueError:
            overhead = 28
        args += ["-M", "do", "-s", str(probe["mtu"] - overhead)]
    rc, out, err = run_tool(module, args + [probe["address"]])
    answered, reason = ping_result(rc, out, err, probe["mtu"])
    return {"address": probe["address"], "mtu": probe["mtu"], "answered": answered, "reason": reason}


def tcp(probe):
    error = None
    try:
        with socket.create_connection((probe["address"], probe["port"]), timeout=probe["timeout"]):
            pass
    except TimeoutError:
        error = "timeout"
    except OSError as exc:
        error = exc.errno if exc.errno is not None else "timeout"
    state, name = tcp_state(error)
    return {"address": probe["address"], "port": probe["port"], "state": state, "errno": name}


def udp_exchange(server, port, payload, timeout, accept):
    """Send PAYLOAD once to SERVER:PORT and return the first answer ACCEPT takes (raises OSError, timeout)."""
    family = socket.AF_INET6 if ":" in server else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.connect((server, port))
        sock.send(payload)
        deadline = time.monotonic() + timeout
        while True:
            sock.settimeout(max(deadline - time.monotonic(), 0.001))
            data = sock.recv(4096)
            if accept(data):
                return data


def dns_lookup(server, port, timeout, name, qtype):
    """``{rcode, answers, error}`` of one query; answers are the values of QTYPE records only."""
    qid = int.from_bytes(os.urandom(2), "big")
    try:
        query = dns_query(qid, name, qtype)
        data = udp_exchange(server, port, query, timeout, lambda d: d[:2] == query[:2])
        parsed = dns_answer(data, qid)
    except TimeoutError:
        return {"rcode": None, "answers": [], "error": "no answer"}
    except ConnectionRefusedError:
        return {"rcode": None, "answers": [], "error": "no answer (port unreachable)"}
    except (OSError, WireError, ValueError) as exc:
        return {"rcode": None, "answers": [], "error": str(exc)}
    values = [a["value"] for a in parsed["answers"] if a["type"] == qtype]
    return {"rcode": parsed["rcode"], "answers": values, "error": None}


def dns(probe, default_server):
    server = probe["server"] or default_server
    result = {"name": probe["name"], "address": probe["address"], "server": server}
    if server is None:
        missing = {"rcode": None, "answers": [], "error": "no resolver: no nameserver in /etc/resolv.conf"}
        return dict(result, forward=missing, reverse=missing)
    lookup = (server, probe["port"], probe["timeout"])
    result["forward"] = dns_lookup(*lookup, probe["name"], "A")
    result["reverse"] = dns_lookup(*lookup, reverse_name(probe["address"]), "PTR")
    return result


def ntp(probe):
    result = {"server": probe["server"], "offset_ms": None, "error": None}
    t1 = time.time()
    try:
        request = sntp_request(t1)
        data = udp_exchange(probe["server"], probe["port"], request, probe["timeout"], lambda d: len(d) >= 48)
        result["offset_ms"] = round(sntp_offset(data, t1, time.time()) * 1000, 1)
    except TimeoutError:
        result["error"] = "no answer"
    except ConnectionRefusedError:
        result["error"] = "no answer (port unreachable)"
    except (OSError, WireError) as exc:
        result["error"] = str(exc)
    return result


def rmcp(probe):
    try:
        udp_exchange(probe["address"], probe["port"], RMCP_PING, probe["timeout"], rmcp_pong)
    except TimeoutError:
        return {"address": probe["address"], "answered": False, "reason": "no presence pong (timeout)"}
    except ConnectionRefusedError:
        return {
            "address": probe["address"],
            "answered": False,
            "reason": "no presence pong (port unreachable)",
        }
    except OSError as exc:
        return {"address": probe["address"], "answered": False, "reason": str(exc)}
    return {"address": probe["address"], "answered": True, "reason": ""}


def default_resolver(module, verdict):
    if all(probe["server"] for probe in module.params["dns"]):
        return None
    text, problem = read_input("/etc/resolv.conf")
    server = resolver_from(text) if problem is None else None
    if server is None:
        verdict.add("unknown", problem or "no nameserver in /etc/resolv.conf")
    return server


def main():
    module = AnsibleModule(
        argument_spec={
            action: dict(type="list", elements="dict", default=[], options=options)
            for action, options in PROBE_OPTIONS.items()
        },
        supports_check_mode=True,
    )
    check_inputs(module)
    verdict = Verdict()
    result = {action: [] for action in PROBE_OPTIONS}
    if module.params["ping"]:
        binary = find_tool(module, ["ping"])
        if binary is None:
            verdict.add("unknown", "ping not found in PATH: install iputils-ping")
            result["ping"] = [
                dict(p, answered=None, reason="ping not found on the host") for p in module.params["ping"]
            ]
        else:
            result["ping"] = [ping(module, probe, binary) for probe in module.params["ping"]]
    result["tcp"] = [tcp(probe) for probe in module.params["tcp"]]
    server = default_resolver(module, verdict) if module.params["dns"] else None
    result["dns"] = [dns(probe, server) for probe in module.params["dns"]]
    result["ntp"] = [ntp(probe) for probe in module.params["ntp"]]
    result["rmcp"] = [rmcp(probe) for probe in module.params["rmcp"]]
    finish(module, verdict, **result)


if __name__ == "__main__":
    main()
