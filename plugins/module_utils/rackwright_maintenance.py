# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Routine maintenance: the health gates a host must pass before and after its maintenance, and the record.

Pure: the maintenance role measures (the backup jobs' freshness, raid_health, hardware_health, acceptance, the
filesystems' free space, the running services) and these functions judge each gate ``{gate, ok, reason}``;
one failing gate stops the host, and with it the roll (the playbook's ``max_fail_percentage: 0``).
"""

import fnmatch
import re

MIB = 2**20
UNIT_FILE = re.compile(r"/(?:usr/)?lib/systemd/system/([^/]+\.service)")


def _gate(name, ok, reason):
    return {"gate": name, "ok": bool(ok), "reason": reason}


def gate_backup(freshness):
    """FRESHNESS: common_backup_freshness. A host without backup jobs passes (nothing to be fresh)."""
    if not freshness or not freshness.get("jobs"):
        return _gate("backup", True, "no backup job on this host")
    return _gate("backup", freshness.get("fresh"), freshness.get("reason", ""))


def gate_raid(raid):
    """RAID: raid_health's result. Every array clean: not degraded, no rebuild, resync or reshape running."""
    arrays = (raid or {}).get("arrays") or []
    if not arrays:
        return _gate("raid", True, "no RAID array")
    busy = ("degraded", "rebuilding", "resyncing", "recovering", "reshaping", "failed")
    bad = [
        f"{a.get('name')} {a.get('state')}"
        + (f" {a.get('rebuild_percent')}%" if a.get("rebuild_percent") else "")
        for a in arrays
        if a.get("health") != "ok" or a.get("state") in busy
    ]
    if bad:
        return _gate("raid", False, "array(s) not clean: " + ", ".join(bad))
    return _gate("raid", True, f"{len(arrays)} array(s) clean")


def gate_hardware(health, reasons=None):
    """HEALTH: hardware_health's verdict. Anything but critical passes."""
    if health == "critical":
        return _gate("hardware", False, "hardware critical: " + "; ".join(reasons or []))
    return _gate("hardware", True, f"hardware {health}")


def gate_acceptance(report):
    """REPORT: the acceptance role's report. No failed item (an item it could not measure is no failure)."""
    if report is None:
        return _gate("acceptance", True, "no acceptance specification")
    counts = report.get("counts") or {}
    if counts.get("fail"):
        failed = [r["item"] for r in report.get("rows") or [] if r.get("status") == "fail"]
        return _gate("acceptance", False, f"{counts['fail']} item(s) failed: " + "; ".join(failed))
    return _gate("acceptance", True, f"{counts.get('pass', 0)} item(s) passed")


def gate_free_space(sample, paths, min_mb):
    """SAMPLE: evaluate_facts' sample; each of PATHS that is a mount point needs MIN_MB free."""
    filesystems = (sample or {}).get("filesystems") or {}
    low = []
    for path in paths or []:
        fs = filesystems.get(path)
        if fs is None:
            continue
        free = (fs["size"] - fs["used"]) / MIB
        if free < min_mb:
            low.append(f"{path} has {free:.0f} MiB free")
    if low:
        return _gate("free space", False, "; ".join(low) + f" (at least {min_mb} MiB needed)")
    checked = [p for p in paths or [] if p in filesystems]
    return _gate("free space", True, f"{', '.join(checked) or 'no listed mount'}: at least {min_mb} MiB free")


def running_services(text):
    """The service names ``systemctl list-units --type=service --state=running --plain --no-legend`` lists."""
    return sorted(
        {
            line.split()[0]
            for line in (text or "").splitlines()
            if line.split() and line.split()[0].endswith(".service")
        }
    )


def gate_services(before, after, ignore=()):
    """Every service that ran before the maintenance runs after it."""
    gone = sorted(set(before or []) - set(after or []) - set(ignore or []))
    if gone:
        return _gate("services", False, "no longer running: " + ", ".join(gone))
    return _gate("services", True, f"the {len(before or [])} service(s) that ran before still run")


def reboot_why(kernel_pending, reboot_required, asking=()):
    """Why a host needs a reboot, in words ([] when it does not): needrestart's kernel state, a package's
    /run/reboot-required, and (check mode's prediction) the updates of packages that ask for one."""
    why = ["the running kernel is older than the installed one (needrestart)"] if kernel_pending else []
    why += ["a package asks for it (/run/reboot-required)"] if reboot_required else []
    return why + ([f"the update of {', '.join(asking)} (maintenance_reboot_packages)"] if asking else [])


def check_plan(wanted, package_files, running, needrestart, reboot_required, reboot_packages, window, **opts):
    """What a maintenance run would do, for check mode, where nothing is installed and needrestart cannot yet
    name what the updates will leave stale. WANTED: the packages it would update; PACKAGE_FILES: their files
    (``dpkg-query -L``); RUNNING: the running services; NEEDRESTART: needrestart_state() now; REBOOT_REQUIRED:
    whether /run/reboot-required exists; REBOOT_PACKAGES: name patterns of packages whose update asks for a
    reboot; WINDOW: the maintenance_window filter's {allowed, reason}. OPTS: reboot (bool, default True),
    never_restart (names). Returns {update, restart, reboot, reboot_why, lines}."""
    wanted = sorted(wanted or [])
    state = needrestart or {}
    units = {m.group(1) for m in map(UNIT_FILE.fullmatch, package_files or []) if m}
    never = set(opts.get("never_restart") or [])
    restart = sorted((set(state.get("services") or []) | (units & set(running or []))) - never)
    asking = [p for p in wanted if any(fnmatch.fnmatchcase(p, pattern) for pattern in reboot_packages or [])]
    why = reboot_why(state.get("kernel_pending"), reboot_required, asking)
    window = window or {}
    where = window.get("reason", "")
    if not why:
        reboot = "would not reboot: nothing asks for it"
    elif not opts.get("reboot", True):
        reboot = f"would not reboot (maintenance_reboot is false), pending: {'; '.join(why)}"
    elif window.get("allowed"):
        reboot = f"would reboot ({'; '.join(why)}): {where}"
    else:
        reboot = f"would leave the reboot pending ({'; '.join(why)}): {where}"
    lines = [
        f"would update: {', '.join(wanted) or 'nothing'}",
        f"would restart: {', '.join(restart) or 'nothing'}"
        + (f" (left for a person: {', '.join(sorted(never))})" if never else ""),
        reboot,
    ]
    return {"update": wanted, "restart": restart, "reboot": bool(why) and reboot.startswith("would reboot "),
            "reboot_why": why, "lines": lines}  # fmt: skip


def failed(gates):
    """The failing gates in words, or an empty string."""
    return "; ".join(f"{g['gate']}: {g['reason']}" for g in gates if not g["ok"])


def report_markdown(record):
    details = record.get("details") or {}
    lines = [f"# Maintenance of {record.get('host')}: {record.get('status')}", ""]
    for reason in record.get("reasons") or []:
        lines.append(f"- {reason}")
    for phase in ("before", "after"):
        gates = (details.get("gates") or {}).get(phase) or []
        if gates:
            lines += ["", f"## Gates {phase}", "", "| gate | ok | reason |", "| --- | --- | --- |"]
            lines += [f"| {g['gate']} | {'yes' if g['ok'] else 'NO'} | {g['reason']} |" for g in gates]
    lines += ["", "## Work", ""]
    lines.append(f"- updated: {', '.join(details.get('updated') or []) or 'nothing'}")
    lines.append(f"- restarted: {', '.join(details.get('restarted') or []) or 'nothing'}")
    lines.append(f"- reboot: {details.get('reboot') or 'not needed'}")
    for line in details.get("housekeeping") or []:
        lines.append(f"- {line}")
    return "\n".join(lines) + "\n"
