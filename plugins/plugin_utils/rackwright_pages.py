# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The reports people read, rendered from the result records every capability publishes
(``reports/<kind>/<host>.json`` and the Markdown beside it) and the hosts' history (``reports/history``).

Each page is written twice, from one content: Markdown (``reports/pages/<page>.md``, charts as SVG files
beside it) and a self-contained HTML page (``reports/pages/<page>.html``: inline CSS and inline SVG charts,
no script or style from the network). The per-host Markdown the capabilities already write is the text of
each page, so a record is said in one way only; the HTML is that Markdown rendered (markdown-it, the
CommonMark parser already in the toolchain) with the charts placed in it.

Charts are drawn with pygal: pure Python, SVG out (inline in HTML, a file for Markdown), no browser or
numpy needed to draw, and its tooltips work without its online script (``js=[]``). Chart ids are made
stable, so a page changes only when its content does.
"""

import json
import os
import re
from datetime import datetime, timedelta

try:
    import pygal
    from pygal.style import Style
except ImportError:  # ansible-test's import sanity check runs without the toolchain's extras
    pygal = None
try:
    from markdown_it import MarkdownIt
except ImportError:
    MarkdownIt = None

from ansible_collections.rackwright.infra.plugins.module_utils import rackwright_evaluate as evaluate
from ansible_collections.rackwright.infra.plugins.module_utils import rackwright_health as health
from ansible_collections.rackwright.infra.plugins.plugin_utils.rackwright_html import render

SEVERITY = ("critical", "warning", "unknown", "ok")  # worst first
# The status-page words readers know (Statuspage, Cachet) for a host's worst status; a critical record is a
# finding that needs action now (a failed disk, an operating system out of support), not always an outage.
WORDS = {"ok": "Operational", "warning": "Degraded", "critical": "Action needed", "unknown": "Unknown"}
COLOURS = {"ok": "#2f9e5a", "warning": "#e0a800", "critical": "#c0392b", "unknown": "#8a93a3"}
KIND_NAMES = {
    "health": "hardware",
    "acceptance": "acceptance",
    "backup": "backup",
    "restore_test": "restore test",
    "maintenance": "maintenance",
    "evaluate": "evaluation",
    "incident": "disk incident",
    "security": "security incident",
    "migration": "replacement",
}
# page: (title, the record kinds whose Markdown it gathers)
PAGES = {
    "evaluation": ("Evaluation and upgrade plan", ["evaluate"]),
    "acceptance": ("Acceptance: expected and measured", ["acceptance"]),
    "migration": ("Server replacement and its verification", ["migration"]),
    "incidents": ("Incidents", ["incident", "security"]),
    "maintenance": ("Maintenance", ["maintenance"]),
}


class PagesError(Exception):
    pass


def _require():
    missing = [name for name, mod in (("pygal", pygal), ("markdown-it-py", MarkdownIt)) if mod is None]
    if missing:
        raise PagesError(
            f"the reports need {' and '.join(missing)} on the controller (make setup installs them)"
        )


def load(reports):
    """{kind: {host: (record, markdown or None)}} for every record under REPORTS; a file that is not a record
    is skipped with a note."""
    found, notes = {}, []
    for kind in sorted(os.listdir(reports)) if os.path.isdir(reports) else []:
        folder = os.path.join(reports, kind)
        if kind not in KIND_NAMES or not os.path.isdir(folder):
            continue
        for name in sorted(os.listdir(folder)):
            if not name.endswith(".json") or name == "fleet.json":
                continue
            path = os.path.join(folder, name)
            try:
                with open(path, encoding="utf-8") as handle:
                    record = json.load(handle)
            except (OSError, ValueError) as err:
                notes.append(f"{path}: not a readable record ({err})")
                continue
            if not isinstance(record, dict) or record.get("status") not in SEVERITY:
                notes.append(f"{path}: not a result record (no status)")
                continue
            md_path = path[: -len(".json")] + ".md"
            markdown = None
            if os.path.exists(md_path):
                with open(md_path, encoding="utf-8") as handle:
                    markdown = handle.read()
            found.setdefault(kind, {})[record.get("host") or name[:-5]] = (record, markdown)
    return found, notes


def history(reports):
    """{host: [sample]} from reports/history/<host>.jsonl, read by evaluate's own history reader."""
    out = {}
    folder = os.path.join(reports, "history")
    for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
        if name.endswith(".jsonl"):
            with open(os.path.join(folder, name), encoding="utf-8") as handle:
                out[name[: -len(".jsonl")]] = evaluate.history(handle.read(), limit=10**9)
    return out


def worst(statuses):
    """The worst of some record statuses, in the order every verdict uses; unknown when there is none."""
    statuses = list(statuses)
    return health.worst(statuses) if statuses else "unknown"


def fleet(records):
    """[{host, status, word, kinds: {kind: status}, reasons: [kind: reason]}], the worst hosts first."""
    hosts = sorted({host for per_host in records.values() for host in per_host})
    rows = []
    for host in hosts:
        kinds = {kind: per_host[host][0]["status"] for kind, per_host in records.items() if host in per_host}
        reasons = [
            f"{KIND_NAMES[kind]}: {reason}"
            for kind, per_host in sorted(records.items())
            if host in per_host
            for reason in per_host[host][0].get("reasons") or []
        ]
        status = worst(kinds.values())
        rows.append(
            {"host": host, "status": status, "word": WORDS[status], "kinds": kinds, "reasons": reasons}
        )
    return sorted(rows, key=lambda r: (SEVERITY.index(r["status"]), r["host"]))


# Charts
def _style():
    return Style(
        background="#ffffff",
        plot_background="#ffffff",
        font_family="system-ui, sans-serif",
        colors=("#3b7dd8", "#e0a800", "#2f9e5a", "#c0392b", "#8a93a3", "#7b4fc9"),
        title_font_size=16,
        label_font_size=12,
        legend_font_size=12,
    )


def _svg(chart, name):
    """The chart's SVG with its random id replaced by NAME (stable pages) and no XML declaration."""
    svg = chart.render(is_unicode=True)
    return re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", name, svg)


def _chart(kind, name, title, **config):
    _require()
    options = dict(
        js=[], disable_xml_declaration=True, width=760, height=320, explicit_size=True, style=_style()
    )
    options.update(config)
    chart = getattr(pygal, kind)(**options)
    chart.title = title
    return chart, name


def severity_chart(records):
    """Hosts by status for each kind of record: a stacked bar per kind."""
    kinds = sorted(records)
    chart, name = _chart("StackedBar", "severity", "Hosts by status, per check", print_values=False,
                         legend_at_bottom=True, y_title="hosts")  # fmt: skip
    chart.style = Style(**{**_style().__dict__, "colors": tuple(COLOURS[s] for s in SEVERITY)})
    chart.x_labels = [KIND_NAMES[k] for k in kinds]
    for status in SEVERITY:
        chart.add(WORDS[status], [sum(1 for r, _md in records[k].values() if r["status"] == status) or None
                                  for k in kinds])  # fmt: skip
    return _svg(chart, name)


def fill_charts(records, samples):
    """One line chart per filesystem with a forecast: used % over time as measured, and the trend to full."""
    charts = []
    for host, (record, _md) in sorted(records.get("evaluate", {}).items()):
        for forecast in record.get("details", {}).get("forecasts", []):
            if not forecast.get("date"):
                continue  # no forecast, no line drawn: a host without history gets no invented trend
            mount = forecast["mount"]
            points = []
            for sample in samples.get(host, []):
                fs = (sample.get("filesystems") or {}).get(mount)
                if fs and fs.get("size"):
                    when = _when(sample.get("time"))
                    if when:
                        points.append((when, round(100 * fs["used"] / fs["size"], 1)))
            if not points:
                continue
            full = datetime.fromisoformat(forecast["date"])
            chart, name = _chart("DateTimeLine", f"fill-{host}-{mount}", f"{host}: {mount} filling up",
                                 y_title="% used", range=(0, 100), legend_at_bottom=True, show_dots=True,
                                 x_value_formatter=lambda d: d.strftime("%Y-%m-%d"),
                                 x_label_rotation=20)  # fmt: skip
            chart.add("measured", points)
            chart.add(
                f"trend: full about {forecast['date']}",
                [points[-1], (full, 100.0)],
                stroke_style={"dasharray": "6,4"},
            )
            charts.append({"host": host, "mount": mount, "reason": forecast["reason"],
                           "svg": _svg(chart, re.sub(r"[^a-z0-9]+", "-", name.lower()))})  # fmt: skip
    return charts


def wear_chart(records):
    """Each disk's wear where the disk reports it (NVMe percentage used; SATA SSD wear-levelling), and its
    power-on hours, from the health records."""
    bars = []
    for host, (record, _md) in sorted(records.get("health", {}).items()):
        disks = (record.get("details", {}).get("checks", {}).get("disk") or {}).get("disks") or []
        for disk in disks:
            used = disk.get("percentage_used")
            if isinstance(used, (int, float)):
                bars.append((f"{host} {disk.get('device')}", used))
    if not bars:
        return None
    chart, name = _chart("HorizontalBar", "wear", "Disk wear (% of rated endurance used)", range=(0, 100),
                         print_values=True, value_formatter=lambda v: f"{v:g}%",
                         show_legend=False, height=max(160, 60 + 32 * len(bars)))  # fmt: skip
    chart.x_labels = [label for label, _v in bars]
    chart.add("% used", [value for _l, value in bars])
    return _svg(chart, name)


def _when(text):
    try:
        when = datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return when.replace(tzinfo=None) - (when.utcoffset() or timedelta(0)) if when.tzinfo else when


# Pages
def markdown_html(text):
    _require()
    return MarkdownIt("commonmark", {"html": False}).enable("table").render(text or "")


def fleet_markdown(rows, notes=()):
    lines = ["# Fleet health", ""]
    counts = {w: sum(1 for r in rows if r["word"] == w) for w in WORDS.values()}
    lines.append(", ".join(f"{n} {w.lower()}" for w, n in counts.items() if n) or "No records yet.")
    lines += ["", "| host | status | checks | reasons |", "| --- | --- | --- | --- |"]
    for row in rows:
        checks = ", ".join(f"{KIND_NAMES[k]} {s}" for k, s in sorted(row["kinds"].items()))
        reasons = "<br>".join(row["reasons"]) or "none"
        lines.append(f"| {row['host']} | {row['word']} | {checks} | {reasons.replace('|', '/')} |")
    lines += ["", "![Hosts by status, per check](charts/severity.svg)"]
    lines += [""] + [f"- note: {n}" for n in notes]
    return "\n".join(lines).rstrip() + "\n"


def build(reports):
    """{path relative to REPORTS: text} of every page the records allow."""
    _require()
    records, notes = load(reports)
    samples = history(reports)
    newest = max(
        (r["time"] for per in records.values() for r, _md in per.values() if r.get("time")), default=""
    )
    present = {page: spec for page, spec in PAGES.items() if any(k in records for k in spec[1])}
    nav = [("fleet", "Fleet")] + [(page, title.split(":")[0]) for page, (title, _k) in present.items()]
    out = {}

    rows = fleet(records)
    severity = severity_chart(records) if records else None
    wear = wear_chart(records)
    md = fleet_markdown(rows, notes)
    out["pages/fleet.md"] = md
    if severity:
        out["pages/charts/severity.svg"] = severity
    if wear:
        out["pages/charts/wear.svg"] = wear
    out["pages/fleet.html"] = render("report.html.j2", title="Fleet health", page="fleet", nav=nav, rows=rows,
                                     kind_names=KIND_NAMES, words=WORDS, charts=[severity, wear],
                                     newest=newest, notes=notes, body=None)  # fmt: skip

    for page, (title, kinds) in present.items():
        parts = [f"# {title}", ""]
        for kind in kinds:
            for host, (record, text) in sorted(records.get(kind, {}).items()):
                text = (
                    text
                    or f"## {host}\n\n{WORDS[record['status']]}: {'; '.join(record.get('reasons') or [])}\n"
                )
                parts.append(_demote(text))
        charts = []
        if page == "evaluation":
            fills = fill_charts(records, samples)
            for fill in fills:
                slug = re.sub(r"[^a-z0-9]+", "-", f"fill-{fill['host']}-{fill['mount']}".lower()).strip("-")
                out[f"pages/charts/{slug}.svg"] = fill["svg"]
                parts.append(f"![{fill['host']} {fill['mount']}: {fill['reason']}](charts/{slug}.svg)\n")
                charts.append(fill["svg"])
            if wear:
                parts.append("![Disk wear](charts/wear.svg)\n")
                charts.append(wear)
        text = "\n".join(parts).rstrip() + "\n"
        out[f"pages/{page}.md"] = text
        out[f"pages/{page}.html"] = render("report.html.j2", title=title, page=page, nav=nav, rows=None,
                                           charts=charts, newest=newest, notes=[],
                                           body=markdown_html(_without_images(text)))  # fmt: skip
    return out


def _demote(text):
    """A host's report under the page's title: its headings one level down."""
    return re.sub(r"^(#+) ", lambda m: "#" + m.group(1) + " ", text, flags=re.M).rstrip() + "\n"


def _without_images(text):
    """The Markdown's chart images: the HTML page draws the same charts inline instead."""
    return re.sub(r"^!\[[^\]]*\]\(charts/[^)]+\)\n?", "", text, flags=re.M)
