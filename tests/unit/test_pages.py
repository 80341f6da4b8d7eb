"""The reports people read (plugin_utils/rackwright_pages.py, lookup report_pages, playbooks/reports.yml),
built from records written the way the capabilities write them (the result_record filter), the Markdown the
capabilities render beside them, and a history. The lab lane renders the pages of a real lab run in headless
Chromium (tests/lab/test_reports_lab.py)."""

import json
import re
import subprocess

import pytest
from conftest import ANSIBLE_PLAYBOOK, ROOT

from ansible_collections.rackwright.infra.plugins.filter.rackwright_record import result_record
from ansible_collections.rackwright.infra.plugins.module_utils import rackwright_evaluate as evaluate
from ansible_collections.rackwright.infra.plugins.plugin_utils import rackwright_pages as pages

PLAN = {
    "forecasts": [
        {
            "mount": "/srv",
            "date": "2026-12-16",
            "reason": "66% full, growing 2.0 MiB/day: full about 2026-12-16",
        },
        {"mount": "/", "date": None, "reason": "1 sample(s) in the history, 3 needed: no forecast"},
    ],
    "plan": [],
}


def write(reports, kind, host, status, reasons, details=None, markdown=None):
    folder = reports / kind
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{host}.json").write_text(
        json.dumps(result_record(status, kind, host, reasons, details or {}))
    )
    if markdown:
        (folder / f"{host}.md").write_text(markdown)


@pytest.fixture
def reports(tmp_path):
    root = tmp_path / "reports"
    disks = [{"device": "/dev/nvme0", "percentage_used": 7}, {"device": "/dev/sda", "percentage_used": None}]
    write(root, "health", "web1", "ok", [], {"checks": {"disk": {"disks": disks}}})
    write(root, "health", "db1", "critical", ["disk: /dev/sdb: SMART overall-health FAILED"])
    write(root, "evaluate", "web1", "warning", ["/srv: full about 2026-12-16"], PLAN,
          "# Upgrade plan for web1: warning\n\n| item | when |\n| --- | --- |\n| /srv | now |\n")  # fmt: skip
    write(root, "evaluate", "db1", "ok", [], {"forecasts": [], "plan": []})  # no history: no chart
    table = "| check | expected | measured |\n| --- | --- | --- |\n| mtu eth0 | 9000 | 9000 |\n"
    write(root, "acceptance", "web1", "ok", [], {}, "# Acceptance of web1\n\n" + table)
    (root / "health" / "broken.json").write_text("{not json")
    history = root / "history"
    history.mkdir()
    lines = [
        {
            "time": f"2026-12-0{day}T12:00:00+00:00",
            "filesystems": {"/srv": {"size": 100, "used": 40 + 4 * day}},
        }
        for day in range(1, 7)
    ]
    (history / "web1.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines) + "not json\n")
    return root


def test_the_fleet_page_says_each_host_s_status_in_words_with_its_reasons_and_a_chart(reports):
    built = pages.build(str(reports))
    rows = pages.fleet(pages.load(str(reports))[0])
    assert [(r["host"], r["word"]) for r in rows] == [("db1", "Action needed"), ("web1", "Degraded")]
    fleet = built["pages/fleet.html"]
    assert "hardware: disk: /dev/sdb: SMART overall-health FAILED" in fleet
    assert "evaluation: /srv: full about 2026-12-16" in fleet
    assert fleet.count("<svg") == 2  # hosts by status per check, and the disk wear
    assert "health/broken.json: not a readable record" in fleet  # said, not silently dropped
    assert "| db1 | Action needed |" in built["pages/fleet.md"]
    assert "![Hosts by status, per check](charts/severity.svg)" in built["pages/fleet.md"]
    assert built["pages/charts/severity.svg"].startswith("<svg")


def test_the_evaluation_page_draws_the_forecast_from_the_history_and_invents_none(reports):
    built = pages.build(str(reports))
    html = built["pages/evaluation.html"]
    charts = [k for k in built if k.startswith("pages/charts/fill-")]
    assert charts == ["pages/charts/fill-web1-srv.svg"]  # / has no forecast, db1 no history: no chart
    assert "web1: /srv filling up" in html and "trend: full about 2026-12-16" in html
    assert "<td>mtu eth0</td>" not in html and "<td>/srv</td>" in html  # the host's own Markdown, as a table
    assert "![web1 /srv" in built["pages/evaluation.md"]
    acceptance = built["pages/acceptance.html"]
    assert "<th>expected</th>" in acceptance and "<td>9000</td>" in acceptance
    assert "pages/migration.html" not in built  # no migration record: no empty page


def test_pages_are_self_contained_and_stable(reports):
    first, second = pages.build(str(reports)), pages.build(str(reports))
    assert first == second  # charts get stable ids: a page changes only when a record does
    for path, text in first.items():
        if path.endswith(".html"):
            assert not re.search(r"<(script|link|img)[^>]+(src|href)=", text), path
            assert not re.search(r"url\(\s*['\"]?https?:", text), path
            assert "<style>" in text


def test_text_from_a_record_cannot_inject_markup(tmp_path):
    root = tmp_path / "reports"
    write(root, "health", "web1", "critical", ["<script>alert(1)</script> in a disk model"],
          markdown=None)  # fmt: skip
    write(root, "evaluate", "web1", "ok", [], {"forecasts": []}, "# Plan\n\n<img src=x onerror=alert(1)>\n")
    built = pages.build(str(root))
    assert "<script>alert(1)" not in built["pages/fleet.html"]
    assert "&lt;script&gt;alert(1)" in built["pages/fleet.html"]
    assert "<img src=x" not in built["pages/evaluation.html"]


def test_the_evaluate_markdown_is_the_page_text():
    # The evaluation page is the Markdown evaluate's role writes: one rendering of a record, not two.
    record = {"host": "web1", "status": "ok", "reasons": [], "details": {"plan": [], "forecasts": []}}
    text = evaluate.report_markdown(record)
    assert pages.markdown_html(text).startswith("<h1>")


def test_the_playbook_writes_the_pages_and_a_second_run_changes_nothing(reports):
    cmd = [ANSIBLE_PLAYBOOK, "-i", "inventories/example", "playbooks/reports.yml", "-e"]
    cmd.append(f"rackwright_reports_dir={reports}")
    runs = [subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False, timeout=300)
            for _run in ("first", "second")]  # fmt: skip
    for run in runs:
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert (reports / "pages" / "fleet.html").read_text().count("<svg") == 2
    assert re.search(r"localhost\s+: ok=\d+\s+changed=0 ", runs[1].stdout), runs[1].stdout[-1500:]
