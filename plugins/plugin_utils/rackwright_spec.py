# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A customer-facing technical specification of a server, from verified facts only: what hardware_health
measured (its inventory), what acceptance measured against the specification, the backup and restore-test
records, the evaluation's support dates, and what the inventory declares (storage layout, firewall rules,
maintenance window).

Allow-list, not deny-list: every line of the sheet is picked here field by field, so a field nobody chose
never reaches a customer (hw-probe's anonymiser, which removes what it knows to be private, leaked a MAC
through a log it did not know about). Serial numbers and internal addresses appear only when ``reveal``
names them; MAC addresses are never collected into a record in the first place.
"""

import re

from ansible_collections.rackwright.infra.plugins.plugin_utils.rackwright_html import render
from ansible_collections.rackwright.infra.plugins.plugin_utils.rackwright_pages import WORDS

REVEAL = ("addresses", "serials")


class SpecError(ValueError):
    pass


def _gb(size_bytes):
    if not isinstance(size_bytes, (int, float)) or size_bytes <= 0:
        return "size not reported"
    value = size_bytes / 10**9
    return f"{value:.0f} GB" if value >= 10 else f"{value:.1f} GB"


def _kind(disk):
    if disk.get("transport") == "nvme" or str(disk.get("name", "")).startswith("/dev/nvme"):
        return "NVMe SSD"
    return "HDD" if disk.get("rotational") else "SSD"


def _record(records, kind):
    record = (records or {}).get(kind)
    return record if isinstance(record, dict) and record.get("status") in WORDS else None


def _rows(records, kind):
    return ((_record(records, kind) or {}).get("details") or {}).get("rows") or []


def hardware(inventory, reveal):
    cpus = inventory.get("cpus") or []
    memory = inventory.get("memory") or {}
    lines = [
        (
            "Model",
            " ".join(x for x in (inventory.get("vendor"), inventory.get("model")) if x) or "not reported",
        )
    ]
    if cpus:
        cores = sum(c.get("cores") or 0 for c in cpus)
        threads = sum(c.get("threads") or 0 for c in cpus)
        models = sorted({f"{c.get('manufacturer') or ''} {c.get('model') or ''}".strip() for c in cpus})
        lines.append(
            ("Processors", f"{len(cpus)} socket(s), {cores} cores / {threads} threads: {', '.join(models)}")
        )
    if memory.get("total_mb"):
        ecc = memory.get("error_correction") or "not reported"
        lines.append(("Memory", f"{memory['total_mb'] / 1024:.1f} GiB in {memory.get('populated', '?')} of "
                                f"{memory.get('slots', '?')} slots, error correction: {ecc}"))  # fmt: skip
    for disk in inventory.get("disks") or []:
        label = f"Disk {disk.get('name')}"
        text = f"{_kind(disk)}, {_gb(disk.get('size_bytes'))}" + (
            f", {disk['model']}" if disk.get("model") else ""
        )
        if "serials" in reveal and disk.get("serial"):
            text += f", serial {disk['serial']}"
        lines.append((label, text))
    nics = inventory.get("nics") or []
    if nics:
        models = sorted({f"{n.get('vendor') or ''} {n.get('device') or ''}".strip() for n in nics})
        lines.append(("Network adapters", f"{len(nics)}: {', '.join(models)}"))
    for controller in inventory.get("storage_controllers") or []:
        lines.append(
            (
                "Storage controller",
                f"{controller.get('vendor') or ''} {controller.get('device') or ''}".strip(),
            )
        )
    for gpu in inventory.get("gpus") or []:
        lines.append(("GPU", str(gpu.get("name") or gpu.get("device") or "GPU")))
    if "serials" in reveal and inventory.get("serial"):
        lines.append(("System serial", inventory["serial"]))
    return lines


def bmc(health):
    check = ((health or {}).get("details") or {}).get("checks", {}).get("bmc")
    if not check:
        return [("Management controller (BMC)", "not checked")]
    sensors = check.get("sensors") or []
    kinds = sorted({s.get("type") for s in sensors if s.get("type")})
    reachable = "answers (IPMI)" if check.get("sources") else "did not answer"
    health_word = WORDS.get(check.get("health"), "unknown").lower()
    text = f"{reachable}; {len(sensors)} sensors ({', '.join(kinds)}), health {health_word}"
    return [("Management controller (BMC)", text)]


def network(declared, acceptance_rows, reveal):
    lines = []
    interfaces = declared.get("network_interfaces") or []
    for nic in interfaces:
        if not nic.get("addresses"):
            continue
        what = {"bond": f"bond of {len(nic.get('members') or [])} links ({nic.get('bond_mode', 'bond')})",
                "vlan": f"VLAN {nic.get('vlan_id')}"}.get(nic.get("kind"), "interface")  # fmt: skip
        where = f"network {nic['network']}" if nic.get("network") else "a network"
        addresses = (
            ", ".join(nic["addresses"])
            if "addresses" in reveal
            else f"{len(nic['addresses'])} address(es), on request"
        )
        lines.append((f"Connection ({what})", f"{where}: {addresses}"))
    for row in acceptance_rows:
        item = str(row.get("item", ""))
        match = re.fullmatch(r"nic (\S+) (mtu|speed|link)", item)
        if match and row.get("status") == "pass":
            unit = {"mtu": " bytes", "speed": " Mb/s", "link": ""}[match.group(2)]
            what = "MTU" if match.group(2) == "mtu" else match.group(2)
            lines.append((f"{match.group(1)} {what}", f"{row.get('measured')}{unit} (measured)"))
    if not any(k.endswith(" speed") for k, _v in lines):
        lines.append(("Bandwidth", "the adapters report no link speed (virtual or not negotiated)"))
    return lines


def exposure(declared, acceptance_rows):
    lines = []
    for rule in declared.get("network_firewall_rules") or []:
        action = rule.get("action", "accept")
        sources = rule.get("from") or ["anywhere"]
        scope = "internal networks only" if all(_internal(s) for s in sources) else "the Internet"
        lines.append((f"Port {rule.get('port')}/{rule.get('protocol', 'tcp')}",
                      ("open to " + scope) if action == "accept" else "closed (refused)"))  # fmt: skip
    if declared.get("network_firewall_rules") is not None:
        lines.append(("Other ports", "closed (the firewall drops them)"))
    for row in acceptance_rows:
        match = re.fullmatch(r"port (\d+) from (\S+)(?: to \S+)?", str(row.get("item", "")))
        if match and row.get("status") == "pass":
            lines.append((f"Port {match.group(1)} checked from a peer", f"{row.get('measured')} (measured)"))
    return lines or [("Firewall", "no firewall rules declared")]


def _internal(cidr):
    return bool(re.match(r"^(10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.|127\.|fd|fc)", str(cidr)))


def storage(declared, health):
    lines = []
    for raid in declared.get("storage_raids") or []:
        disks = len(raid.get("devices") or [])
        text = f"RAID {raid.get('level')} over {disks} disks ({_redundancy(raid.get('level'), disks)})"
        lines.append((f"Array {raid.get('name')}", text))
    for group in declared.get("storage_volume_groups") or []:
        for volume in group.get("volumes") or []:
            where = volume.get("mount_point") or "not mounted"
            text = (
                f"{volume.get('size')} {volume.get('fs_type', '')} on {group.get('name')}, mounted at {where}"
            )
            lines.append((f"Volume {volume.get('name')}", text))
    arrays = (((health or {}).get("details") or {}).get("checks", {}).get("raid") or {}).get("arrays") or []
    for array in arrays:
        lines.append((f"{array.get('name')} state", f"{array.get('state')} (measured)"))
    return lines or [("Layout", "a single system disk; no array or volume declared")]


def _redundancy(level, disks):
    level = str(level)
    survives = {"1": disks - 1, "10": 1, "5": 1, "6": 2}.get(level)
    return "no redundancy" if not survives else f"survives the loss of {survives} disk(s)"


def backup(declared, records):
    lines = []
    for job in declared.get("backup_jobs") or []:
        when = job.get("schedule") or "daily"
        counts = {
            n: job.get(f"keep_{n}", declared.get(f"backup_keep_{n}")) for n in ("daily", "weekly", "monthly")
        }
        keep = [f"{count} {n}" for n, count in counts.items() if count is not None]
        kept = f", keeping {', '.join(keep)}" if keep else ""
        lines.append(
            (f"Backup job {job.get('name')}", f"{len(job.get('paths') or [])} path(s), {when}{kept}")
        )
    last = _record(records, "backup")
    for job in ((last or {}).get("details") or {}).get("jobs") or []:
        lines.append(
            (f"Last backup ({job.get('job')})", f"{job.get('result')}, finished {job.get('finished')}")
        )
    restore = _record(records, "restore_test")
    if restore:
        jobs = (restore.get("details") or {}).get("jobs") or []
        checked = sum(len(j.get("checked") or []) for j in jobs)
        verdict = "passed" if restore["status"] == "ok" else WORDS[restore["status"]].lower()
        text = f"{verdict}: {checked} file(s) restored and compared by checksum, {restore.get('time')}"
        lines.append(("Last verified restore", text))
    return lines or [("Backup", "no backup job declared")]


def status(records, window_text):
    lines = []
    for kind, name in (("health", "Hardware health"), ("acceptance", "Acceptance against the specification")):
        record = _record(records, kind)
        if record:
            counts = (record.get("details") or {}).get("counts")
            extra = (
                f" ({counts.get('pass', 0)} checks passed, {counts.get('fail', 0)} failed)" if counts else ""
            )
            lines.append((name, f"{WORDS[record['status']]}{extra}, as of {record.get('time')}"))
        else:
            lines.append((name, "not checked yet"))
    support = ((_record(records, "evaluate") or {}).get("details") or {}).get("support") or {}
    if support.get("version"):
        release = f"Debian {support['version']} ({support.get('codename')})"
        text = f"{release}: security support until {support.get('eol')}, LTS until {support.get('eol_lts')}"
        lines.append(("Operating system", text))
    lines.append(("Maintenance window", window_text))
    return lines


def window_words(spec):
    if not spec:
        return "none declared: maintenance is agreed case by case"
    parts = []
    for window in spec:
        days = window.get("days", "daily")
        days = days if isinstance(days, str) else ", ".join(days)
        parts.append(f"{days} {window.get('start')}-{window.get('end')} {window.get('timezone', 'UTC')}")
    return "; ".join(parts)


def sheet(host, records, declared, reveal=()):
    """The sheet as {host, sections: [{title, lines: [(label, text)]}], markdown, html}."""
    unknown = sorted(set(reveal or []) - set(REVEAL))
    if unknown:
        raise SpecError(f"reveal: {', '.join(unknown)} is not one of {', '.join(REVEAL)}")
    reveal = set(reveal or [])
    declared = declared or {}
    health = _record(records, "health")
    inventory = ((health or {}).get("details") or {}).get("inventory") or {}
    acceptance_rows = _rows(records, "acceptance")
    window = window_words(declared.get("rackwright_maintenance_window"))
    sections = [
        {"title": "Hardware", "lines": hardware(inventory, reveal) + bmc(health)},
        {"title": "Network integration", "lines": network(declared, acceptance_rows, reveal)},
        {"title": "Exposure", "lines": exposure(declared, acceptance_rows)},
        {"title": "Storage and redundancy", "lines": storage(declared, health)},
        {"title": "Backup", "lines": backup(declared, records)},
        {"title": "Status and service", "lines": status(records, window)},
    ]
    revealed = ", ".join(sorted(reveal)) or "none"
    note = f"Serial numbers and internal addresses are left out unless asked for (shown here: {revealed})."
    md = [f"# Technical specification: {host}", "", note, ""]
    for section in sections:
        md += [f"## {section['title']}", "", "| | |", "| --- | --- |"]
        md += [f"| {label} | {str(text).replace('|', '/')} |" for label, text in section["lines"]]
        md.append("")
    html = render("spec.html.j2", host=host, sections=sections, note=note)
    return {"host": host, "sections": sections, "markdown": "\n".join(md), "html": html}
