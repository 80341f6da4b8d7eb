# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""System evaluation for upgrade planning: what to upgrade and when, each line with its evidence.

Pure: the evaluate role gathers the facts (the host's distro-info-data, pending updates, needrestart, the
kernel, the health record's disks, hw_inventory) and the history the controller keeps; these functions judge
them into rows ``{when, severity, item, reason, evidence, date}`` (leapp's report entries, with a date) and
rank them: ``now`` / ``this quarter`` / ``this year`` / ``watch``.

Forecasts follow the node-mixin rule (a fill alert needs the level, the predicted crossing and a fit that
holds, never the bare forecast): a filesystem's fill date is given only when the history spans enough time,
the least-squares fit explains it (r^2), use grows, and the filesystem is already past a level.
"""

import csv
import datetime
import io
import json
import re

WHEN = ("now", "this quarter", "this year", "watch")
HORIZON_DAYS = {"now": 30, "this quarter": 92, "this year": 366}
FIT_MIN_POINTS = 3
FIT_MIN_SPAN_DAYS = 1.0
FIT_MIN_R2 = 0.8
FILL_MIN_LEVEL = 0.5  # a filesystem less than half full gets no fill date, however fast it grows


def _date(text):
    try:
        return datetime.date.fromisoformat(str(text).strip()[:10])
    except ValueError:
        return None


def _when(days):
    """The bucket of a date DAYS away (negative: already past)."""
    for when in ("now", "this quarter", "this year"):
        if days <= HORIZON_DAYS[when]:
            return when
    return "watch"


def _row(when, severity, item, reason, evidence, date=None):
    return {
        "when": when,
        "severity": severity,
        "item": item,
        "reason": reason,
        "evidence": evidence,
        "date": date.isoformat() if isinstance(date, datetime.date) else date,
    }


def distro_support(csv_text, version, source):
    """The support dates of Debian VERSION (its major number or codename) from distro-info-data's
    debian.csv. Returns {version, codename, release, eol, eol_lts, eol_elts, source} or None when the file
    does not list it."""
    want = str(version or "").strip().lower().split(".", maxsplit=1)[0]
    try:
        rows = list(csv.DictReader(io.StringIO(csv_text or "")))
    except csv.Error:
        return None
    for row in rows:
        if want and want in ((row.get("version") or "").lower(), (row.get("series") or "").lower()):
            return {
                "version": row.get("version"),
                "codename": row.get("codename"),
                "release": row.get("release") or None,
                "eol": row.get("eol") or None,
                "eol_lts": row.get("eol-lts") or None,
                "eol_elts": row.get("eol-elts") or None,
                "source": source,
            }
    return None


def support_rows(support, today):
    """Rows for the OS release's end of regular support and of LTS."""
    if support is None:
        return [
            _row(
                "watch", "unknown", "os release", "distro-info-data does not list this release", "distro-info"
            )
        ]
    rows = []
    name = f"Debian {support['version']} ({support['codename']})"
    for key, what in (("eol", "regular (security) support"), ("eol_lts", "LTS")):
        end = _date(support.get(key))
        if end is None:
            continue
        days = (end - today).days
        if days < 0:
            rows.append(
                _row("now", "high", f"os {key}", f"{name}: {what} ended {end}", support["source"], end)
            )
        else:
            severity = "high" if days <= 92 else "medium" if days <= 366 else "info"
            rows.append(
                _row(
                    _when(days),
                    severity,
                    f"os {key}",
                    f"{name}: {what} ends {end} (in {days} days)",
                    support["source"],
                    end,
                )
            )
    return rows


def updates_rows(pending, security, evidence="apt-get -s dist-upgrade"):
    """Rows for pending updates: PENDING and SECURITY are lists of package names."""
    rows = []
    if security:
        rows.append(
            _row(
                "now",
                "high",
                "security updates",
                f"{len(security)} security update(s) pending: " + ", ".join(sorted(security)[:10]),
                evidence,
            )
        )
    others = sorted(set(pending or []) - set(security or []))
    if others:
        rows.append(
            _row(
                "this quarter",
                "low",
                "updates",
                f"{len(others)} other update(s) pending: " + ", ".join(others[:10]),
                evidence,
            )
        )
    return rows


def needrestart_state(text):
    """needrestart -b's batch output (NEEDRESTART-KSTA: 1 current, 2 ABI-compatible upgrade pending, 3 version
    upgrade pending; one NEEDRESTART-SVC line per service to restart) as {kernel_pending, running, expected,
    services}; None when there is no output (needrestart not installed)."""
    if text is None:
        return None
    values, services = {}, []
    for line in text.splitlines():
        key, _sep, value = line.partition(":")
        if key.strip() == "NEEDRESTART-SVC":
            services.append(value.strip())
        elif key.strip():
            values[key.strip()] = value.strip()
    return {
        "kernel_pending": values.get("NEEDRESTART-KSTA") in ("2", "3"),
        "running": values.get("NEEDRESTART-KCUR"),
        "expected": values.get("NEEDRESTART-KEXP"),
        "services": sorted(set(services)),
    }


def restart_rows(needrestart):
    """Rows from needrestart -b's output (None: needrestart is not installed)."""
    state = needrestart_state(needrestart)
    if state is None:
        return [
            _row(
                "watch",
                "unknown",
                "restarts",
                "needrestart is not installed: reboot and restart needs unknown",
                "needrestart -b",
            )
        ]
    rows = []
    if state["kernel_pending"]:
        rows.append(
            _row(
                "now",
                "medium",
                "reboot",
                f"the running kernel {state['running']} is older than the "
                f"installed {state['expected']}: reboot in the maintenance window",
                "needrestart -b",
            )
        )
    if state["services"]:
        rows.append(
            _row(
                "now",
                "medium",
                "restarts",
                f"{len(state['services'])} service(s) run old libraries: " + ", ".join(state["services"]),
                "needrestart -b",
            )
        )
    return rows


def kernel_rows(kernel_date, today, max_age_days=180):
    """A row when the running kernel was built more than MAX_AGE_DAYS ago (from /proc/version's date)."""
    built = _date(kernel_date)
    if built is None:
        return []
    age = (today - built).days
    if age > max_age_days:
        return [
            _row(
                "this quarter",
                "low",
                "kernel age",
                f"the running kernel was built {built}, {age} days ago",
                "/proc/version",
                built,
            )
        ]
    return []


def fit(points):
    """Least squares over POINTS [(seconds, value)]: (slope per second, intercept, r^2), or None."""
    n = len(points)
    if n < 2:
        return None
    times = [t for t, _v in points]
    values = [v for _t, v in points]
    mean_t = sum(times) / n
    mean_v = sum(values) / n
    stt = sum((t - mean_t) ** 2 for t in times)
    if stt == 0:
        return None
    slope = sum((t - mean_t) * (v - mean_v) for t, v in points) / stt
    intercept = mean_v - slope * mean_t
    svv = sum((v - mean_v) ** 2 for v in values)
    if svv == 0:
        return slope, intercept, 1.0
    residual = sum((v - (intercept + slope * t)) ** 2 for t, v in points)
    return slope, intercept, 1 - residual / svv


def _seconds(text):
    try:
        value = datetime.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.UTC)
    return value.timestamp()


def fill_forecast(samples, mount):
    """When MOUNT fills, from the history SAMPLES [{time, filesystems: {mount: {used, size}}}].

    Returns {mount, date, days, slope_bytes_per_day, r2, points, span_days, level, reason}; date is None
    (with the reason) unless every condition holds: enough points over enough time, a fit with r^2 at least
    FIT_MIN_R2, growing use, and the filesystem at least FILL_MIN_LEVEL full now."""
    points, size, level = [], None, None
    for sample in samples or []:
        fs = ((sample or {}).get("filesystems") or {}).get(mount)
        when = _seconds((sample or {}).get("time"))
        if not fs or when is None or not isinstance(fs.get("used"), (int, float)):
            continue
        points.append((when, float(fs["used"])))
        size = fs.get("size") or size
    points.sort()
    result = {
        "mount": mount,
        "date": None,
        "days": None,
        "slope_bytes_per_day": None,
        "r2": None,
        "points": len(points),
        "span_days": 0.0,
        "level": None,
        "reason": "",
    }
    if points and size:
        level = points[-1][1] / size
        result["level"] = round(level, 3)
    if len(points) < FIT_MIN_POINTS:
        result["reason"] = f"{len(points)} sample(s) in the history, {FIT_MIN_POINTS} needed: no forecast"
        return result
    span = (points[-1][0] - points[0][0]) / 86400
    result["span_days"] = round(span, 2)
    if span < FIT_MIN_SPAN_DAYS:
        result["reason"] = f"the history spans {span:.2f} days, {FIT_MIN_SPAN_DAYS} needed: no forecast"
        return result
    fitted = fit(points)
    slope, intercept, r2 = fitted
    result["slope_bytes_per_day"] = round(slope * 86400)
    result["r2"] = round(r2, 3)
    if slope <= 0:
        result["reason"] = "use is not growing: no fill date"
        return result
    if r2 < FIT_MIN_R2:
        result["reason"] = f"the growth is irregular (r^2 {r2:.2f} < {FIT_MIN_R2}): no fill date"
        return result
    if not size or level is None or level < FILL_MIN_LEVEL:
        result["reason"] = (
            f"{(level or 0) * 100:.0f}% full, under the {FILL_MIN_LEVEL * 100:.0f}% level: no fill date"
        )
        return result
    full_at = round((size - intercept) / slope / 60) * 60  # to the minute: no float noise in the date
    date = datetime.datetime.fromtimestamp(full_at, datetime.UTC).date()
    result["date"] = date.isoformat()
    result["days"] = round((full_at - points[-1][0]) / 86400, 1)
    result["reason"] = (
        f"{level * 100:.0f}% full, growing {slope * 86400 / 2**20:.1f} MiB/day over "
        f"{span:.1f} days (r^2 {r2:.2f}): full about {date}"
    )
    return result


def fill_rows(forecasts):
    rows = []
    for forecast in forecasts:
        if forecast["date"] is None:
            continue
        days = forecast["days"]
        severity = "high" if days <= 30 else "medium" if days <= 92 else "low"
        rows.append(
            _row(
                _when(days),
                severity,
                f"filesystem {forecast['mount']}",
                forecast["reason"],
                "history of this host's filesystems (reports/history)",
                forecast["date"],
            )
        )
    return rows


def wear_rows(disks):
    """Rows from the health record's disks (disk_health): NVMe percentage used / SSD wear, with a forecast
    where the record carries one, and any disk not ok."""
    rows = []
    for disk in disks or []:
        name = disk.get("device") or disk.get("serial") or "a disk"
        attributes = disk.get("attributes") or {}
        used = disk.get("percentage_used")
        used = attributes.get("percentage_used") if used is None else used
        if disk.get("health") in ("warning", "critical"):
            rows.append(
                _row(
                    "now",
                    "high" if disk["health"] == "critical" else "medium",
                    f"disk {name}",
                    "; ".join(disk.get("reasons") or [disk["health"]]),
                    "health record (disk_health)",
                )
            )
        elif isinstance(used, (int, float)) and used >= 50:
            rows.append(
                _row(
                    "this year" if used < 80 else "this quarter",
                    "low",
                    f"disk {name}",
                    f"{used}% of its rated endurance used",
                    "health record (disk_health)",
                )
            )
    return rows


def headroom_rows(samples, memory_total_mb, cpus):
    """RAM and CPU headroom from the history's peaks: memory available and 15-minute load at their worst,
    and whether the host swapped between samples."""
    mems = [
        s.get("memory_available_mb")
        for s in samples or []
        if isinstance(s.get("memory_available_mb"), (int, float))
    ]
    loads = [s.get("load15") for s in samples or [] if isinstance(s.get("load15"), (int, float))]
    swaps = [
        s.get("swap_out_pages") for s in samples or [] if isinstance(s.get("swap_out_pages"), (int, float))
    ]
    rows = []
    if mems and memory_total_mb:
        low = min(mems)
        if low < 0.1 * memory_total_mb:
            rows.append(
                _row(
                    "this quarter",
                    "medium",
                    "memory",
                    f"available memory fell to {low} MiB of {memory_total_mb} MiB",
                    "history (memory_available_mb)",
                )
            )
    if loads and cpus:
        peak = max(loads)
        if peak > cpus:
            rows.append(
                _row(
                    "this quarter",
                    "medium",
                    "cpu",
                    f"15-minute load peaked at {peak} on {cpus} CPU(s)",
                    "history (load15)",
                )
            )
    if len(swaps) >= 2 and swaps[-1] > swaps[0]:
        rows.append(
            _row(
                "watch",
                "low",
                "swap",
                f"{swaps[-1] - swaps[0]} pages swapped out over the history",
                "history (/proc/vmstat pswpout)",
            )
        )
    return rows


def plan(rows):
    """ROWS ranked: by when (now first), then severity, then item."""
    order = {"high": 0, "medium": 1, "low": 2, "unknown": 3, "info": 4}
    return sorted(rows, key=lambda r: (WHEN.index(r["when"]), order.get(r["severity"], 5), r["item"]))


def status(rows):
    """The evaluation's status: critical for a high row due now, warning for any row due now, else ok."""
    due = [r for r in rows if r["when"] == "now"]
    if any(r["severity"] == "high" for r in due):
        return "critical"
    return "warning" if due else "ok"


def report_markdown(record):
    details = record.get("details") or {}
    lines = [f"# Upgrade plan for {record.get('host')}: {record.get('status')}", ""]
    support = details.get("support")
    if support:
        lines += [
            f"Debian {support.get('version')} ({support.get('codename')}): regular support until "
            f"{support.get('eol')}, LTS until {support.get('eol_lts')} (source: {support.get('source')})",
            "",
        ]
    for when in WHEN:
        rows = [r for r in details.get("plan") or [] if r["when"] == when]
        if not rows:
            continue
        lines += [
            f"## {when}",
            "",
            "| severity | item | reason | date | evidence |",
            "| --- | --- | --- | --- | --- |",
        ]
        lines += [
            f"| {r['severity']} | {r['item']} | {r['reason']} | {r.get('date') or ''} | {r['evidence']} |"
            for r in rows
        ]
        lines.append("")
    forecasts = details.get("forecasts") or []
    if forecasts:
        lines += ["## Filesystems", ""]
        lines += [f"- `{f['mount']}`: {f['reason']}" for f in forecasts]
    return "\n".join(lines) + "\n"


# ---- what the host says (evaluate_facts parses these; pure) -------------------------------------------


def apt_simulation(text):
    """{pending, security} package names from ``apt-get -s dist-upgrade``'s ``Inst`` lines; a package is a
    security update when one of the origins it comes from is a security archive."""
    pending, security = [], []
    for line in (text or "").splitlines():
        if not line.startswith("Inst "):
            continue
        name = line.split()[1]
        pending.append(name)
        origins = line[line.find("(") + 1 : line.rfind(")")] if "(" in line else ""
        if "-security" in origins.lower() or "debian-security" in origins.lower():
            security.append(name)
    return {"pending": sorted(set(pending)), "security": sorted(set(security))}


def kernel_build_date(proc_version):
    """The build date /proc/version gives (Debian: ``... Debian 6.1.148-1 (2025-08-26)``), or None."""
    match = re.search(r"\((\d{4}-\d{2}-\d{2})\)\s*$", (proc_version or "").strip())
    return match.group(1) if match else None


def sample(meminfo, loadavg, vmstat, mounts):
    """One history sample: memory available (MiB), the 15-minute load, pages swapped out so far, and each
    filesystem's use. MOUNTS: [{mount, size, used}]."""
    memory = dict(line.split(":", 1) for line in (meminfo or "").splitlines() if ":" in line)
    vm = dict(line.split(None, 1) for line in (vmstat or "").splitlines() if " " in line)
    available = memory.get("MemAvailable", "").split()
    out = {
        "memory_available_mb": int(available[0]) // 1024 if available and available[0].isdigit() else None,
        "load15": float(loadavg.split()[2]) if loadavg and len(loadavg.split()) > 2 else None,
        "swap_out_pages": int(vm["pswpout"]) if vm.get("pswpout", "").strip().isdigit() else None,
        "filesystems": {m["mount"]: {"size": m["size"], "used": m["used"]} for m in mounts or []},
    }
    return out


def firmware_rows(inventory, today, max_age_years=3):
    """A row when the BIOS is older than MAX_AGE_YEARS (hw_inventory's SMBIOS date, MM/DD/YYYY)."""
    bios = (inventory or {}).get("bios") or {}
    try:
        built = datetime.datetime.strptime(str(bios.get("date")), "%m/%d/%Y").date()
    except ValueError:
        return []
    age = (today - built).days / 365.25
    if age <= max_age_years:
        return []
    return [
        _row(
            "this year",
            "low",
            "bios",
            f"BIOS {bios.get('vendor')} {bios.get('version')} is dated {built} ({age:.0f} years): "
            "ask the vendor for a newer one",
            "health record (hw_inventory)",
            built,
        )
    ]


def history(text, limit=1000):
    """The samples of a history file (one JSON object per line; a line that is not one is skipped), the last
    LIMIT of them."""
    samples = []
    for line in (text or "").splitlines():
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict) and "time" in value:
            samples.append(value)
    return samples[-limit:] if limit > 0 else []


def evaluate(facts, health, samples, today, kernel_max_age_days=180, source_host=None):
    """Every row for one host, ranked, with the forecasts and support dates: {plan, forecasts, support}.

    FACTS: evaluate_facts' result (with ``distro_source`` naming where debian.csv came from); HEALTH: the
    host's health record or None; SAMPLES: its history, the newest last."""
    today = _date(today) or datetime.date.today()
    support = distro_support(facts.get("distro_csv"), facts.get("os_version"), facts.get("distro_source"))
    rows = support_rows(support, today)
    updates = facts.get("updates") or {}
    evidence = "apt-get -s dist-upgrade (lists of " + str(updates.get("lists_updated")) + ")"
    rows += updates_rows(updates.get("pending"), updates.get("security"), evidence)
    rows += restart_rows(facts.get("needrestart"))
    rows += kernel_rows((facts.get("kernel") or {}).get("built"), today, kernel_max_age_days)
    mounts = sorted(((samples or [{}])[-1]).get("filesystems") or {})
    forecasts = [fill_forecast(samples, mount) for mount in mounts]
    rows += fill_rows(forecasts)
    if health is None:
        rows.append(
            _row(
                "watch",
                "unknown",
                "hardware",
                "no health record: run playbooks/hardware_health.yml",
                "reports/health",
            )
        )
    else:
        checks = (health.get("details") or {}).get("checks") or {}
        rows += wear_rows(((checks.get("disk") or {}).get("disks")) or [])
        rows += firmware_rows((health.get("details") or {}).get("inventory"), today)
    memory = (((health or {}).get("details") or {}).get("inventory") or {}).get("memory") or {}
    rows += headroom_rows(samples, memory.get("total_mb"), facts.get("cpus"))
    return {"plan": plan(rows), "forecasts": forecasts, "support": support}


def fleet_markdown(records):
    """The fleet's plan: one table of every host's rows due now or this quarter, then each host's status."""
    lines = [
        "# Fleet upgrade plan",
        "",
        "| host | when | severity | item | reason | date |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    hosts = sorted(records or {})
    for host in hosts:
        for row in ((records[host] or {}).get("details") or {}).get("plan") or []:
            if row["when"] in ("now", "this quarter"):
                lines.append(
                    f"| {host} | {row['when']} | {row['severity']} | {row['item']} | {row['reason']} | "
                    f"{row.get('date') or ''} |"
                )
    lines += ["", "| host | status |", "| --- | --- |"]
    lines += [f"| {host} | {(records[host] or {}).get('status', 'unknown (no record)')} |" for host in hosts]
    return "\n".join(lines) + "\n"


def line(row):
    """One row in words, for the play's output."""
    date = f" ({row['date']})" if row.get("date") and row["date"] not in row["reason"] else ""
    return f"{row['when']}: {row['item']}: {row['reason']}{date}"
