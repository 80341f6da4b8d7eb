# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A customer's "it can't reach the server", judged layer by layer from what both ends measured.

The evidence (roles/diagnose gathers it, read-only): each end's ``ip -j addr`` and ``ip -j route get`` towards
the other, the client's ping of the server's address (small, then at the path MTU with fragmentation
prohibited), the client's DNS lookup of the name it uses, its TCP connect to the port, and on the server the
listening sockets (``ss -Hltn``) and the firewall ruleset (``nft -j list ruleset``). ``diagnose`` judges every
layer in the order a technician checks them (LAYERS) and names the first that fails, in plain words, with what
to do; every layer says what was expected, what was found, and which evidence it read.
"""

import ipaddress
import json

LAYERS = ("link", "address", "route", "dns", "mtu", "firewall", "port")
_TITLES = {
    "link": "link",
    "address": "address",
    "route": "route and gateway",
    "dns": "DNS forward and reverse",
    "mtu": "path MTU",
    "firewall": "firewall",
    "port": "the port itself",
}


def _row(layer, status, expected, found, advice="", evidence=()):
    return {
        "layer": layer,
        "title": _TITLES[layer],
        "status": status,
        "expected": expected,
        "found": found,
        "advice": advice,
        "evidence": list(evidence),
    }


def _links(ip_addr):
    """``ip -j addr`` output -> [{ifname, up, carrier, mtu, addresses: [ip_interface]}]."""
    links = []
    for link in ip_addr or []:
        flags = link.get("flags") or []
        addresses = []
        for info in link.get("addr_info") or []:
            try:
                addresses.append(ipaddress.ip_interface(f"{info['local']}/{info['prefixlen']}"))
            except (KeyError, ValueError):
                continue
        links.append(
            {
                "ifname": link.get("ifname"),
                "up": "UP" in flags,
                "carrier": "LOWER_UP" in flags,
                "operstate": link.get("operstate"),
                "mtu": link.get("mtu"),
                "addresses": addresses,
            }
        )
    return links


def _holder(links, address):
    """The link that holds ADDRESS (an ip_address), or None."""
    return next((link for link in links if any(a.ip == address for a in link["addresses"])), None)


def _connected(links, address):
    """The link whose subnet holds ADDRESS (it is reached without a gateway), or None."""
    return next(
        (
            link
            for link in links
            if any(address in a.network and a.network.prefixlen < a.max_prefixlen for a in link["addresses"])
        ),
        None,
    )


def _link_row(side, host, link):
    where = f"{host} {link['ifname']}"
    if not link["up"]:
        return _row(
            "link",
            "fail",
            f"{where} up",
            f"{where} is administratively down",
            f"bring it up on {host} (ip link set {link['ifname']} up, or the network role)",
            [f"{side}-ip-addr.json"],
        )
    if not link["carrier"]:
        return _row(
            "link",
            "fail",
            f"{where} up with carrier",
            f"{where} has no carrier (operstate {link['operstate']}): the cable, the switch port or the NIC",
            f"check the cable and the switch port of {host} {link['ifname']}",
            [f"{side}-ip-addr.json"],
        )
    return None


def _route_problem(host, route, target, links):
    """Why ROUTE (``ip -j route get TARGET`` on HOST) does not reach TARGET, or ''."""
    if not route:
        return f"{host} has no route to {target}"
    kind = route.get("type", "unicast")
    if kind in ("unreachable", "blackhole", "prohibit"):
        return f"{host} routes {target} as {kind}"
    connected = _connected(links, target)
    gateway = route.get("gateway")
    if connected and (gateway or route.get("dev") != connected["ifname"]):
        via = f"via {gateway} " if gateway else ""
        return (
            f"{host} sends {target} {via}on {route.get('dev')}, but {target} is on the subnet of "
            f"{connected['ifname']} and is reached there directly"
        )
    if not connected and not gateway:
        return (
            f"{host} sends {target} out of {route.get('dev')} without a gateway, and no subnet of it holds "
            f"{target}"
        )
    return ""


def diagnose(ev):
    """The layers and the diagnosis from the evidence EV: {server, client, address, port, name,
    server_ip_addr, client_ip_addr, server_route, client_route, ping, ping_mtu, mtu, dns, tcp, listening,
    nft}.
    Returns {status, failing_layer, diagnosis, advice, layers: [row]}."""
    server, client = ev["server"], ev["client"]
    target = ipaddress.ip_address(ev["address"])
    server_links, client_links = _links(ev.get("server_ip_addr")), _links(ev.get("client_ip_addr"))
    rows = []

    # link: the server's link that holds the address, the client's link that carries the traffic.
    holder = _holder(server_links, target)
    # The link the inventory puts the address on: a link that lost its carrier may lose its addresses with it
    # (systemd-networkd drops them), so the address alone cannot find it.
    server_link = holder or next(
        (link for link in server_links if link["ifname"] == ev.get("server_interface")), None
    )
    client_route = (ev.get("client_route") or [None])[0]
    client_link = next(
        (link for link in client_links if client_route and link["ifname"] == client_route.get("dev")), None
    )
    problems = [
        row
        for row in (
            _link_row("server", server, server_link) if server_link else None,
            _link_row("client", client, client_link) if client_link else None,
        )
        if row
    ]
    if problems:
        rows.append(problems[0])
    else:
        links = [
            f"{server} {server_link['ifname']}" if server_link else None,
            f"{client} {client_link['ifname']}" if client_link else None,
        ]
        rows.append(
            _row(
                "link",
                "pass",
                "both ends' links up with carrier",
                ", ".join(f"{name} up" for name in links if name) or "no link to judge",
                evidence=["server-ip-addr.json", "client-ip-addr.json"],
            )
        )

    # address: the server holds the address the client is sent to.
    if holder:
        rows.append(
            _row(
                "address",
                "pass",
                f"{server} holds {target}",
                f"on {holder['ifname']}",
                evidence=["server-ip-addr.json"],
            )
        )
    else:
        held = ", ".join(
            str(a.ip) for link in server_links for a in link["addresses"] if not a.ip.is_loopback
        )
        rows.append(
            _row(
                "address",
                "fail",
                f"{server} holds {target}",
                f"{server} does not hold {target} (it holds {held or 'no address'})",
                f"configure {target} on {server} (the network role), or send clients to an address it holds",
                ["server-ip-addr.json"],
            )
        )

    # route: the client's route to the server, and the server's route back to the client.
    client_ip = (
        ipaddress.ip_address(client_route["prefsrc"])
        if client_route and client_route.get("prefsrc")
        else None
    )
    server_route = (ev.get("server_route") or [None])[0]
    problems = [_route_problem(client, client_route, target, client_links)]
    if client_ip:
        problems.append(_route_problem(server, server_route, client_ip, server_links))
    problems = [p for p in problems if p]
    ping = ev.get("ping") or {}
    if problems:
        rows.append(
            _row(
                "route",
                "fail",
                f"{client} and {server} route to each other",
                "; ".join(problems),
                "fix the route (the network role's routes, or the gateway's)",
                ["client-route.json", "server-route.json"],
            )
        )
    elif not ping.get("answered"):
        rows.append(
            _row(
                "route",
                "fail",
                f"{target} answers a ping from {client}",
                f"no answer ({ping.get('reason') or 'no reply'}) although both routes look right",
                "check the gateway and whatever sits between them (a switch VLAN, an upstream firewall)",
                ["client-route.json", "server-route.json", "ping.json"],
            )
        )
    else:
        via = client_route.get("gateway") if client_route else None
        rows.append(
            _row(
                "route",
                "pass",
                f"{client} and {server} route to each other",
                f"{client} -> {target} {'via ' + via if via else 'directly'} on "
                f"{client_route.get('dev') if client_route else '?'}; ping answered",
                evidence=["client-route.json", "server-route.json", "ping.json"],
            )
        )

    # dns: the name the client uses resolves to the address, and back.
    dns = ev.get("dns")
    if not ev.get("name"):
        rows.append(_row("dns", "skip", "a name to resolve", "none given (diagnose_name)"))
    elif not dns:
        rows.append(_row("dns", "unknown", f"{ev['name']} -> {target}", "not measured"))
    else:
        forward, reverse = dns.get("forward") or {}, dns.get("reverse") or {}
        answers = forward.get("answers") or []
        if forward.get("error") or str(target) not in answers:
            found = forward.get("error") or (
                f"{', '.join(answers)}" if answers else f"no address ({forward.get('rcode')})"
            )
            rows.append(
                _row(
                    "dns",
                    "fail",
                    f"{ev['name']} -> {target} at {dns.get('server')}",
                    f"{ev['name']} -> {found}",
                    f"correct the A record of {ev['name']} at the DNS server {dns.get('server')}",
                    ["dns.json"],
                )
            )
        else:
            back = reverse.get("answers") or []
            note = (
                ""
                if any(n.rstrip(".") == ev["name"].rstrip(".") for n in back)
                else (
                    f"; reverse {target} -> {', '.join(back) or reverse.get('error') or 'no name'} "
                    f"(not {ev['name']})"
                )
            )
            rows.append(
                _row(
                    "dns",
                    "pass",
                    f"{ev['name']} -> {target}",
                    f"{ev['name']} -> {target}{note}",
                    evidence=["dns.json"],
                )
            )

    # mtu: a full-size packet with fragmentation prohibited reaches the server, and on one segment (no gateway
    # between them) both ends' links have the same MTU: a host takes frames up to its own MTU, so a mismatch
    # loses the larger frames one way even where a ping's reply comes back fragmented.
    mtu, ping_mtu = ev.get("mtu"), ev.get("ping_mtu") or {}
    server_mtu = server_link["mtu"] if server_link else None
    client_mtu = client_link["mtu"] if client_link else None
    ends = (
        f"{client} {client_link['ifname'] if client_link else '?'} MTU {client_mtu}, "
        f"{server} {server_link['ifname'] if server_link else '?'} MTU {server_mtu}"
    )
    same_segment = bool(client_route) and not client_route.get("gateway")
    evidence = ["ping.json", "server-ip-addr.json", "client-ip-addr.json"]
    if not ping.get("answered"):
        rows.append(
            _row("mtu", "unknown", f"{mtu}-byte packets pass", "not measured: the small ping got no answer")
        )
    elif not ping_mtu.get("answered"):
        rows.append(
            _row(
                "mtu",
                "fail",
                f"{mtu}-byte packets pass (not fragmented)",
                f"small packets pass, {mtu}-byte ones are lost ({ping_mtu.get('reason') or 'no reply'}); "
                f"{ends}",
                "give every link on the path the same MTU (the network role's mtu), or lower the client's",
                evidence,
            )
        )
    elif same_segment and client_mtu and server_mtu and client_mtu != server_mtu:
        rows.append(
            _row(
                "mtu",
                "fail",
                "the same MTU at both ends of one segment",
                f"the MTU differs on one segment: {ends}; frames larger than "
                f"{min(client_mtu, server_mtu)} bytes are lost one way",
                "give both links the same MTU (the network role's mtu)",
                evidence,
            )
        )
    else:
        rows.append(
            _row(
                "mtu",
                "pass",
                f"{mtu}-byte packets pass",
                f"{mtu}-byte packet answered; {ends}",
                evidence=evidence,
            )
        )

    # firewall and port: what the connect saw, what listens, what the ruleset says about the port.
    port, tcp = ev.get("port"), ev.get("tcp") or {}
    listening = _listening(ev.get("listening") or "", port) if port else []
    blocking = nft_blocking(ev.get("nft"), port) if port else []
    if not port:
        rows.append(_row("firewall", "skip", "a port to check", "none given (diagnose_port)"))
        rows.append(_row("port", "skip", "a port to check", "none given (diagnose_port)"))
    else:
        state = tcp.get("state")
        if state == "open":
            rows.append(
                _row(
                    "firewall",
                    "pass",
                    f"port {port} let through",
                    f"{client} connected",
                    evidence=["tcp.json"],
                )
            )
            rows.append(
                _row(
                    "port",
                    "pass",
                    f"{server} answers on {target}:{port}",
                    "connected",
                    evidence=["tcp.json", "server-listening.txt"],
                )
            )
        elif state == "filtered" or (state == "closed" and blocking and listening):
            found = f"{client}'s connect to {target}:{port}: {state} ({tcp.get('errno') or 'no answer'})"
            if blocking:
                found += "; " + "; ".join(blocking)
            rows.append(
                _row(
                    "firewall",
                    "fail",
                    f"port {port} let through from {client}",
                    found,
                    f"allow tcp port {port} from {client} in {server}'s firewall (the network role's "
                    "firewall rules), or in the firewall between them",
                    ["tcp.json", "server-nft.json"],
                )
            )
            rows.append(
                _row(
                    "port",
                    "unknown",
                    f"{server} answers on {target}:{port}",
                    "listening" if listening else "nothing listens",
                    evidence=["server-listening.txt"],
                )
            )
        elif state == "closed":
            rows.append(
                _row(
                    "firewall",
                    "pass",
                    f"port {port} let through",
                    f"{server} answered (refused)",
                    evidence=["tcp.json"],
                )
            )
            rows.append(
                _row(
                    "port",
                    "fail",
                    f"a service listening on {target}:{port}",
                    f"nothing listens on port {port}"
                    if not listening
                    else f"listening on {', '.join(listening)}, not on {target}",
                    f"start the service on {server} (or make it listen on {target}:{port})",
                    ["tcp.json", "server-listening.txt"],
                )
            )
        else:
            rows.append(_row("firewall", "unknown", f"port {port} let through", "not measured"))
            rows.append(_row("port", "unknown", f"{server} answers on {target}:{port}", "not measured"))

    failing = next((row for row in rows if row["status"] == "fail"), None)
    if failing:
        text = (
            f"{client} cannot reach {server} ({target}{':' + str(port) if port else ''}): "
            f"the {failing['title']} "
            f"layer fails: {failing['found']}."
        )
        return {
            "status": "critical",
            "failing_layer": failing["layer"],
            "diagnosis": text,
            "advice": failing["advice"],
            "layers": rows,
        }
    unknown = [row["layer"] for row in rows if row["status"] == "unknown"]
    if unknown:
        return {
            "status": "unknown",
            "failing_layer": None,
            "layers": rows,
            "advice": "",
            "diagnosis": f"no layer failed, but {', '.join(unknown)} could not be measured",
        }
    return {
        "status": "ok",
        "failing_layer": None,
        "layers": rows,
        "advice": "",
        "diagnosis": f"{client} reaches {server} ({target}{':' + str(port) if port else ''}) on every layer",
    }


def _listening(ss_output, port):
    """The local addresses of `ss -Hltn` lines that listen on PORT."""
    found = []
    for line in ss_output.splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[3].rsplit(":", 1)[-1] == str(port):
            found.append(fields[3])
    return found


def nft_blocking(ruleset, port):
    """Rules and chain policies of an ``nft -j list ruleset`` document that drop or reject incoming TCP to
    PORT:
    a rule naming the port (or no port) with a drop/reject verdict in an input chain, or an input chain whose
    policy is drop while no rule accepts the port. Each as 'table FAMILY NAME chain CHAIN: ...' (with its
    counter when it has one)."""
    if isinstance(ruleset, str):
        try:
            ruleset = json.loads(ruleset) if ruleset.strip() else {}
        except ValueError:
            return []
    items = (ruleset or {}).get("nftables") or []
    chains = {}
    for item in items:
        if "chain" in item and item["chain"].get("hook") == "input":
            chain = item["chain"]
            chains[(chain.get("family"), chain.get("table"), chain.get("name"))] = {
                "policy": chain.get("policy"),
                "accepts": False,
            }
    found = []
    for item in items:
        rule = item.get("rule")
        if not rule:
            continue
        key = (rule.get("family"), rule.get("table"), rule.get("chain"))
        if key not in chains:
            continue
        exprs = rule.get("expr") or []
        ports = _rule_ports(exprs)
        verdicts = {name for expr in exprs for name in ("drop", "reject", "accept") if name in expr}
        if ports is not None and port not in ports:
            continue
        if "accept" in verdicts and ports is not None:
            chains[key]["accepts"] = True
        if verdicts & {"drop", "reject"} and (ports is not None or not _rule_matches_other(exprs)):
            counter = next((expr["counter"] for expr in exprs if "counter" in expr), None)
            seen = f" ({counter.get('packets', 0)} packets so far)" if isinstance(counter, dict) else ""
            verdict = "drops" if "drop" in verdicts else "rejects"
            found.append(f"table {key[0]} {key[1]} chain {key[2]}: a rule {verdict} tcp port {port}{seen}")
    for (family, table, name), chain in chains.items():
        if chain["policy"] == "drop" and not chain["accepts"]:
            found.append(
                f"table {family} {table} chain {name}: policy drop and no rule accepts tcp port {port}"
            )
    return found


def _rule_ports(exprs):
    """The TCP destination ports a rule matches (a set), or None when it names none."""
    for expr in exprs:
        match = expr.get("match") if isinstance(expr, dict) else None
        if not match:
            continue
        left = match.get("left", {})
        payload = left.get("payload", {}) if isinstance(left, dict) else {}
        if payload.get("field") == "dport" and payload.get("protocol") in ("tcp", "th"):
            right = match.get("right")
            if isinstance(right, int):
                return {right}
            if isinstance(right, dict) and "set" in right:
                return {value for value in right["set"] if isinstance(value, int)}
            if isinstance(right, dict) and "range" in right:
                low, high = right["range"]
                return set(range(low, high + 1))
    return None


def _rule_matches_other(exprs):
    """Whether a rule without a port matches anything narrower than all traffic (an address, an interface, a
    connection state): such a rule is not called a blocker of the port."""
    return any("match" in expr for expr in exprs if isinstance(expr, dict))


def request_problems(request, inventory_hosts, play_hosts):
    """Why REQUEST ({server, client, address, port, mtu, name, dns_server}) cannot be diagnosed, each naming
    the variable and what was expected."""
    problems = []
    for key in ("server", "client"):
        host = request.get(key)
        if not isinstance(host, str) or not host:
            problems.append(f"diagnose_{key}: expected the inventory name of the {key}, got {host!r}")
        elif host not in inventory_hosts:
            problems.append(f"diagnose_{key}: {host!r} is not a host of the inventory")
        elif host not in play_hosts:
            problems.append(f"diagnose_{key}: {host!r} is not in the play (check --limit)")
    if not problems and request["server"] == request["client"]:
        problems.append(
            f"diagnose_server and diagnose_client are both {request['server']!r}: name the client "
            "that cannot reach the server"
        )
    try:
        ipaddress.ip_address(str(request.get("address")))
    except ValueError:
        problems.append(f"diagnose_address: expected an IP address, got {request.get('address')!r}")
    for key, low, high in (("port", 0, 65535), ("mtu", 0, 65535)):
        value = request.get(key)
        try:
            number = int(value)
        except (TypeError, ValueError):
            number = None
        if (
            number is None
            or isinstance(value, bool)
            or not low <= number <= high
            or (key == "mtu" and 0 < number < 68)
        ):
            problems.append(
                f"diagnose_{key}: expected a number {low}-{high}{' (0: none)' if key == 'port' else ''}, "
                f"got {value!r}"
            )
    if request.get("dns_server"):
        try:
            ipaddress.ip_address(str(request["dns_server"]))
        except ValueError:
            problems.append(
                f"diagnose_dns_server: expected the resolver's IP address, got {request['dns_server']!r}"
            )
    return problems


_MARKS = {"pass": "ok", "fail": "FAIL", "unknown": "?", "skip": "-"}


def line(row):
    """One layer as a line people read."""
    text = f"[{_MARKS.get(row['status'], row['status'])}] {row['title']}: {row['found']}"
    return text if row["status"] != "fail" else f"{text} (expected {row['expected']})"


def report_markdown(result):
    """The diagnosis as a page: the verdict, what to do, then every layer with what it read."""
    lines = ["# Network diagnosis", "", f"**{result['diagnosis']}**", ""]
    if result.get("advice"):
        lines += [f"What to do: {result['advice']}", ""]
    lines += ["| layer | status | expected | found | evidence |", "| --- | --- | --- | --- | --- |"]
    for row in result["layers"]:
        cells = [row["title"], row["status"], row["expected"], row["found"], ", ".join(row["evidence"])]
        lines.append("| " + " | ".join(str(cell).replace("|", "/") for cell in cells) + " |")
    return "\n".join(lines) + "\n"
