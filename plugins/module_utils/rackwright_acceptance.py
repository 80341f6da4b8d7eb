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
"""

import difflib
import xml.etree.ElementTree as ET

DISK_KINDS = ("hdd", "ssd", "nvme")
KEYS = {"cpus", "cores", "memory_gb", "gpus", "disks", "nics"}
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


def spec_problems(host, spec):
    """Every problem of one host's rackwright_acceptance, as sentences naming host, item and value."""
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
    for key in ("disks", "nics"):
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
    }


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
    return rows


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
