# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A server replacement's plan, its pre-flight judgment, its state record and its report.

The service a host runs is declared once, in the inventory variable ``rackwright_service`` of that host:
``{name, units, paths, address: {address, interface} | dns: {name, server, key_name, key_secret, ...}, port,
packages}``. The migration (roles/migration,
playbooks/replace_server.yml) moves it from the old host to the new one in steps that finish in order
(STEPS); the state record on the controller says which finished, so a run that was interrupted continues
where it stopped, and nothing is ever copied to the new host once the cutover has happened.
"""

import datetime
import ipaddress
import re

STEPS = ("preflight", "archive", "bulk", "freeze", "final", "verify", "cutover", "acceptance")
SERVICE_KEYS = {"name", "units", "paths", "address", "dns", "port", "packages"}
DNS_KEYS = {"name", "zone", "server", "port", "ttl", "key_name", "key_secret", "key_algorithm"}
DNS_REQUIRED = ("name", "server", "key_name", "key_secret")
# The TSIG algorithms community.general.nsupdate signs with.
DNS_ALGORITHMS = ("hmac-sha256", "hmac-sha512", "hmac-sha384", "hmac-sha224", "hmac-sha1", "hmac-md5")
_FQDN_RE = re.compile(
    r"^(?=.{1,253}\.?$)([A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z0-9-]{1,63}\.?$"
)
_UNIT_RE = re.compile(r"^[A-Za-z0-9:_.@-]+\.(service|socket|timer|target|mount)$")
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_PATH_RE = re.compile(r"^/(?:[^/\0]+/?)*$")


def service_problems(spec, name="rackwright_service"):
    """Every way SPEC (a host's rackwright_service) is not a service a migration can move, each naming the
    variable path and what was expected."""
    if not isinstance(spec, dict):
        return [f"{name}: expected a mapping {{name, units, paths, address, port, packages}}, got {spec!r}"]
    problems = [
        f"{name}.{key}: unknown key (expected {', '.join(sorted(SERVICE_KEYS))})"
        for key in spec
        if key not in SERVICE_KEYS
    ]
    problems += [f"{name}.{key}: missing" for key in ("name", "units", "paths") if key not in spec]
    if "name" in spec and not (isinstance(spec["name"], str) and _NAME_RE.match(spec["name"])):
        problems.append(f"{name}.name: expected a short lower-case name like 'crm-db', got {spec['name']!r}")
    units = spec.get("units", [])
    if not isinstance(units, list) or not units:
        problems.append(f"{name}.units: expected a non-empty list of systemd unit names, got {units!r}")
    else:
        problems += [
            f"{name}.units[{i}]: expected a systemd unit name like 'postgresql.service', got {unit!r}"
            for i, unit in enumerate(units)
            if not (isinstance(unit, str) and _UNIT_RE.match(unit))
        ]
    paths = spec.get("paths", [])
    if not isinstance(paths, list) or not paths:
        problems.append(f"{name}.paths: expected a non-empty list of absolute directories, got {paths!r}")
    else:
        for i, path in enumerate(paths):
            if not (isinstance(path, str) and _PATH_RE.match(path)) or path.rstrip("/") in (
                "",
                "/etc",
                "/usr",
            ):
                problems.append(
                    f"{name}.paths[{i}]: expected an absolute data directory (not /), got {path!r}"
                )
            elif any(
                other != path and (path.rstrip("/") + "/").startswith(other.rstrip("/") + "/")
                for other in paths
                if isinstance(other, str)
            ):
                problems.append(f"{name}.paths[{i}]: {path} lies inside another path of the list")
    problems += _address_problems(spec.get("address"), f"{name}.address")
    problems += _dns_problems(spec.get("dns"), f"{name}.dns")
    if spec.get("address") is not None and spec.get("dns") is not None:
        problems.append(
            f"{name}: declares both address and dns; a service moves by one of them (its address moves with "
            "gratuitous ARP, or its DNS name is pointed at the new host)"
        )
    port = spec.get("port")
    if port is not None and not (isinstance(port, int) and not isinstance(port, bool) and 0 < port < 65536):
        problems.append(f"{name}.port: expected a TCP port 1-65535, got {port!r}")
    packages = spec.get("packages", [])
    if not isinstance(packages, list) or not all(isinstance(p, str) and p for p in packages):
        problems.append(f"{name}.packages: expected a list of Debian package names, got {packages!r}")
    return problems


def _address_problems(address, where):
    if address is None:
        return []
    if not isinstance(address, dict) or set(address) != {"address", "interface"}:
        return [f"{where}: expected {{address: ADDRESS/PREFIX, interface: NIC}}, got {address!r}"]
    problems = []
    try:
        ipaddress.ip_interface(address["address"])
        if "/" not in str(address["address"]):
            raise ValueError("no prefix")
    except (TypeError, ValueError):
        problems.append(
            f"{where}.address: expected an address with its prefix like 10.0.0.50/24, "
            f"got {address['address']!r}"
        )
    if not (
        isinstance(address["interface"], str) and re.match(r"^[A-Za-z0-9_.:-]{1,15}$", address["interface"])
    ):
        problems.append(f"{where}.interface: expected a network interface name, got {address['interface']!r}")
    return problems


def _dns_problems(dns, where):
    if dns is None:
        return []
    if not isinstance(dns, dict):
        return [
            f"{where}: expected {{name, server, key_name, key_secret[, zone, port, ttl, key_algorithm]}}, "
            f"got {dns!r}"
        ]
    problems = [
        f"{where}.{key}: unknown key (expected {', '.join(sorted(DNS_KEYS))})"
        for key in dns
        if key not in DNS_KEYS
    ]
    problems += [f"{where}.{key}: missing" for key in DNS_REQUIRED if key not in dns]
    for key in ("name", "zone"):
        if key in dns and not (isinstance(dns[key], str) and _FQDN_RE.match(dns[key])):
            problems.append(f"{where}.{key}: expected a DNS name like 'data.example.net', got {dns[key]!r}")
    if "name" in dns and "zone" in dns and not problems:
        name, zone = dns["name"].rstrip(".").lower(), dns["zone"].rstrip(".").lower()
        if not (name == zone or name.endswith("." + zone)):
            problems.append(f"{where}.name: {dns['name']} is not in the zone {dns['zone']}")
    if "server" in dns:
        try:
            ipaddress.ip_address(dns["server"])
        except (TypeError, ValueError):
            problems.append(
                f"{where}.server: expected the IP address of the authoritative server, got {dns['server']!r}"
            )
    for key, low, high in (("port", 1, 65535), ("ttl", 1, 86400)):
        value = dns.get(key)
        if value is not None and not (
            isinstance(value, int) and not isinstance(value, bool) and low <= value <= high
        ):
            problems.append(f"{where}.{key}: expected a number {low}-{high}, got {value!r}")
    for key in ("key_name", "key_secret"):
        if key in dns and not (isinstance(dns[key], str) and dns[key].strip()):
            problems.append(f"{where}.{key}: expected the TSIG key's {key[4:]} (a non-empty string)")
    algorithm = dns.get("key_algorithm")
    if algorithm is not None and algorithm not in DNS_ALGORITHMS:
        problems.append(
            f"{where}.key_algorithm: expected one of {', '.join(DNS_ALGORITHMS)}, got {algorithm!r}"
        )
    return problems


def dns_problems(old, new, facts, dns):
    """Why the service's DNS name cannot be moved from OLD to NEW. DNS: what the controller read at the
    name's server before anything moved, {name, server, type, values, ttl, max_ttl, target, error, key_error};
    FACTS: host -> migration_probe result (its ``addresses``)."""
    if not dns:
        return []
    name, server = dns.get("name"), dns.get("server")
    if dns.get("error"):
        return [f"DNS: cannot read {name} at {server}: {dns['error']}"]
    problems = []
    values, kind = list(dns.get("values") or []), dns.get("type", "A")
    old_addresses = (facts.get(old) or {}).get("addresses") or []
    new_addresses = (facts.get(new) or {}).get("addresses") or []
    if not values:
        problems.append(f"DNS: {name} has no {kind} record at {server}: nothing points clients at {old}")
    elif len(values) > 1:
        problems.append(
            f"DNS: {name} has {len(values)} {kind} records ({', '.join(values)}); a replacement moves one"
        )
    elif values[0] not in old_addresses:
        problems.append(
            f"DNS: {name} points at {values[0]}, which is not an address of {old} "
            f"({', '.join(old_addresses) or 'none reported'}): was the cutover done another way?"
        )
    target = dns.get("target")
    if target not in new_addresses:
        problems.append(
            f"DNS: {name} would point at {target} (migration_dns_address), which is not an address of {new} "
            f"({', '.join(new_addresses) or 'none reported'})"
        )
    ttl, max_ttl = dns.get("ttl"), dns.get("max_ttl")
    if isinstance(ttl, int) and isinstance(max_ttl, int) and ttl > max_ttl:
        problems.append(
            f"DNS: {name} has a TTL of {ttl} s, over migration_dns_max_ttl ({max_ttl} s): clients would keep "
            f"reaching {old} for up to {ttl} s after the cutover; lower the TTL at least {ttl} s before the "
            "window"
        )
    if dns.get("key_error"):
        problems.append(
            f"DNS: the update key {dns.get('key_name')} is not accepted by {server}: {dns['key_error']}"
        )
    return problems


def request_problems(old, new, inventory_hosts, services):
    """Why the pair OLD -> NEW cannot be planned (before any host is contacted); SERVICES: host -> its
    rackwright_service (None where unset)."""
    problems = []
    for var, host in (("migration_old", old), ("migration_new", new)):
        if not isinstance(host, str) or not host:
            problems.append(f"{var}: expected the inventory name of the {var[10:]} host, got {host!r}")
        elif host not in inventory_hosts:
            problems.append(f"{var}: {host!r} is not a host of the inventory")
    if not problems and old == new:
        problems.append(f"migration_old and migration_new are both {old!r}: a server cannot replace itself")
    if not problems:
        if services.get(old) is None:
            problems.append(f"{old} declares no rackwright_service (the service to move): nothing to migrate")
        else:
            problems += service_problems(services[old], f"hostvars[{old}].rackwright_service")
    return problems


def preflight_problems(old, new, facts, margin, health=None, acceptance="skip", dns=None):
    """Every reason the replacement must not start, all at once, from what both hosts reported.

    FACTS: host -> the migration_probe result of that host (sizes, free, packages, active_units,
    address_held, nonempty); HEALTH: host -> hardware_health_result; ACCEPTANCE: the new host's acceptance
    record (None: none was published), or "skip" when pre-flight acceptance is off; DNS: see dns_problems.
    """
    o, n = facts.get(old) or {}, facts.get(new) or {}
    problems = []
    for host in (old, new):
        verdict = (health or {}).get(host) or {}
        if verdict.get("health") == "critical":
            problems.append(f"{host}: hardware health critical ({'; '.join(verdict.get('reasons', []))})")
    for path, size in sorted(o.get("sizes", {}).items()):
        free = n.get("free", {}).get(path)
        need = int(size * (1 + margin))
        if free is None:
            problems.append(f"{new}: cannot tell the free space for {path}")
        elif free < need:
            problems.append(
                f"{new}: {path} has {_size(free)} free, needs {_size(need)} "
                f"({_size(size)} of data + {margin:.0%} margin)"
            )
    for package, version in sorted(o.get("packages", {}).items()):
        offered = n.get("packages", {}).get(package)
        if not version:
            problems.append(f"{old}: package {package} is not installed (rackwright_service.packages)")
        elif not offered:
            problems.append(
                f"{new}: package {package} ({version} on {old}) is neither installed nor available"
            )
        elif offered != version:
            problems.append(f"{new}: package {package} would be {offered}, {old} runs {version}")
    if o.get("address_held") is False:
        problems.append(f"{old} does not hold the service address: is the service running there?")
    if n.get("address_held"):
        problems.append(f"{new} already holds the service address: was the cutover done another way?")
    problems += [
        f"{new}: {unit} is already running (it would write beside the copy)"
        for unit in n.get("active_units", [])
    ]
    problems += [
        f"{new}: {path} holds files this migration did not copy (move them away first)"
        for path in n.get("nonempty", [])
    ]
    problems += dns_problems(old, new, facts, dns)
    if acceptance != "skip":
        status = (acceptance or {}).get("status", "unknown")
        if status != "ok":
            reasons = (acceptance or {}).get("reasons") or ["no acceptance record"]
            problems.append(f"{new}: not accepted before the service ({status}): {'; '.join(reasons)}")
    return problems


def _size(count):
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(count) < 1024 or unit == "TiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return str(count)


def new_state(old, new):
    return {"old": old, "new": new, "done": {}, "steps": [], "status": "planned", "rollback": None}


def record_step(state, step, details=None, now=None):
    """STATE with STEP finished now (an ISO time) and its details; a step finishes once."""
    if step not in STEPS:
        raise ValueError(f"unknown migration step {step!r} (expected one of {', '.join(STEPS)})")
    state = dict(state or {})
    done = dict(state.get("done", {}))
    if step in done:
        return state
    now = now or datetime.datetime.now(datetime.UTC).replace(microsecond=0).isoformat()
    done[step] = now
    state["done"] = done
    state["steps"] = [*state.get("steps", []), {"step": step, "finished": now, "details": details or {}}]
    state["status"] = "done" if step == STEPS[-1] else f"{step} finished"
    state.pop("failure", None)  # a step that finishes answers the failure a previous run recorded
    return state


def verdict(state):
    """The migration record's {status, reasons} from the state record: ok once the new host was accepted with
    the service, critical after a rollback or a failed step, warning while the replacement is under way."""
    upcoming = next((step for step in STEPS if step not in state.get("done", {})), "")
    if state.get("status") == "done":
        return {"status": "ok", "reasons": []}
    if state.get("rollback"):
        return {"status": "critical", "reasons": [f"rolled back: {state['rollback'].get('reason')}"]}
    if state.get("failure"):
        reason = state["failure"].get("reason")
        return {"status": "critical", "reasons": [f"failed before {upcoming}: {reason}"]}
    return {"status": "warning", "reasons": [f"{state.get('status')}; next: {upcoming}"]}


def _say(value):
    """VALUE as report text that depends neither on key order nor on a number coming as text: the report a
    re-run renders from the saved record is then the one the finishing run rendered from its own."""
    if isinstance(value, dict):
        return (
            "{"
            + ", ".join(f"{k}: {_say(v)}" for k, v in sorted(value.items(), key=lambda kv: str(kv[0])))
            + "}"
        )
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_say(v) for v in value) + "]"
    return str(value)


def report_markdown(state, verification=None):
    """The migration report people read: steps with times, what moved, the proof, the archive, a rollback."""
    lines = [f"# Server replacement: {state.get('old')} -> {state.get('new')}", ""]
    lines.append(f"**Status:** {state.get('status')}")
    if state.get("rollback"):
        lines.append(f"**Rolled back:** {state['rollback'].get('reason')} (at {state['rollback'].get('at')})")
    lines += ["", "| step | finished | details |", "| --- | --- | --- |"]
    for entry in state.get("steps", []):
        details = "; ".join(f"{k}: {_say(v)}" for k, v in sorted((entry.get("details") or {}).items()))
        lines.append(f"| {entry['step']} | {entry['finished']} | {details.replace('|', '/')} |")
    if verification:
        lines += ["", "## Verification", "", verification.get("message", "")]
        counts = verification.get("counts", {})
        if counts:
            lines.append("")
            lines.append(", ".join(f"{k}: {v}" for k, v in counts.items()))
    return "\n".join(lines) + "\n"
