"""The reports people read, on a lab run's real records, rendered by headless Chromium: the live progress page
of a run (read twice while it runs, at two different steps) and of a run made to fail; every page of
playbooks/reports.yml with its real content and, for the fleet and the evaluation, charts; the spec sheet of
new-server without what is not allow-listed, and its PDF. A screenshot of each page is kept in
reports/lab/screens/.

After the site run and the other lab tests that publish records (the replacement's, the incident's)."""

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from conftest import ENV, ROOT, guest, playbook, with_failures
from markupsafe import escape

pytestmark = [pytest.mark.lab, pytest.mark.after_site_tests]
SCREENS = ROOT / "reports" / "lab" / "screens"
RUNS = ROOT / "reports" / "lab" / "runs"
BROWSER = shutil.which("chromium") or "chromium"


def chromium(*args, timeout=120):
    # --disable-dev-shm-usage: a container's /dev/shm (64 MB) is too small for Chromium's shared memory
    cmd = [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
    cmd += ["--hide-scrollbars", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def rendered(path, name):
    """The page's DOM after Chromium rendered it, and a screenshot kept as an artifact."""
    SCREENS.mkdir(parents=True, exist_ok=True)
    shot = SCREENS / f"{name}.png"
    chromium("--window-size=1200,1800", f"--screenshot={shot}", f"file://{path}")
    assert shot.stat().st_size > 20_000, shot  # a page with content, not an empty shell
    return chromium("--dump-dom", f"file://{path}")


def text_of(dom):
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", dom))


def latest(runs):
    link = runs / "latest"
    return json.loads((link / "progress.json").read_text()) if (link / "progress.json").exists() else None


def test_the_progress_page_follows_a_run_and_says_why_a_run_failed(site_run):
    runs = RUNS / "progress"
    shutil.rmtree(runs, ignore_errors=True)
    env = {**ENV, "ANSIBLE_NOCOLOR": "1", "RACKWRIGHT_RUNS_DIR": str(runs)}
    cmd = [
        str(ROOT / ".venv" / "bin" / "ansible-playbook"),
        "-i",
        "inventories/lab",
        "playbooks/evaluate.yml",
    ]
    log = runs.parent / "progress-evaluate.log"
    runs.mkdir(parents=True, exist_ok=True)
    seen, pages = [], []
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 600
            while proc.poll() is None and time.monotonic() < deadline:
                state = latest(runs)
                if state and state["status"] == "running" and state["task"] and state["task"] not in seen:
                    seen.append(state["task"])
                    # the page as it was then (it may be rewritten between the two reads: keep both)
                    pages.append((state["summary"], (runs / "latest" / "index.html").read_text()))
                time.sleep(0.3)
            proc.wait(timeout=600)
        finally:
            if proc.poll() is None:  # never leave the run going into the next test
                proc.kill()
                proc.wait()
    output = with_failures(log.read_text())
    assert proc.returncode == 0, (output[-4000:], (latest(runs) or {}).get("failures"))
    # while it ran, the page refreshed itself and said the step of the moment
    assert any('http-equiv="refresh"' in html and str(escape(summary)) in html for summary, html in pages), (
        pages[:2]
    )
    assert len(seen) >= 2, seen  # read while running, at two different steps
    done = latest(runs)
    assert (
        done["status"] == "succeeded"
        and done["hosts"]
        and all(h["state"] == "done" for h in done["hosts"].values())
    ), done
    dom = rendered(runs / "latest" / "index.html", "progress-evaluate")
    assert "Completed" in text_of(dom) and "Evaluate each host" in text_of(dom)

    # A run made to fail: an argument the role's spec refuses; the page says which and why, in a sentence.
    failed = playbook(
        "playbooks/evaluate.yml", "-e", "evaluate_kernel_max_age_days=many", "--limit", "new-server"
    )
    assert failed.returncode != 0
    # (playbook() runs with the tests' runs directory; read its newest page)
    state = json.loads((_newest(os.environ["RACKWRIGHT_RUNS_DIR"]) / "progress.json").read_text())
    assert state["status"] == "failed" and state["failures"], state
    assert "evaluate_kernel_max_age_days" in state["failures"][0]["why"], state["failures"]
    dom = rendered(_newest(os.environ["RACKWRIGHT_RUNS_DIR"]) / "index.html", "progress-failed")
    assert "What failed" in text_of(dom) and "evaluate_kernel_max_age_days" in text_of(dom)


def _newest(runs_dir):
    runs = [p for p in Path(runs_dir).iterdir() if p.is_dir() and not p.is_symlink()]
    return max(runs, key=lambda p: (p / "progress.json").stat().st_mtime)


def test_every_page_renders_with_its_records_and_the_fleet_and_evaluation_draw_charts(site_run):
    run = playbook("playbooks/reports.yml")
    assert run.returncode == 0, run.output[-4000:]
    pages = ROOT / "reports" / "pages"
    found = sorted(p.stem for p in pages.glob("*.html"))
    assert {"fleet", "evaluation", "acceptance", "migration"} <= set(found), found
    for name in found:
        dom = rendered(pages / f"{name}.html", f"page-{name}")
        words = text_of(dom)
        assert "new-server" in words, name  # the records' own content, not a shell
        assert (pages / f"{name}.md").read_text().strip(), name
        if name in ("fleet", "evaluation"):
            assert re.search(r"<svg[^>]*>.*<(path|rect)\b", dom, re.S), name  # a chart drawn
    fleet = text_of(rendered(pages / "fleet.html", "page-fleet"))
    health = json.loads((ROOT / "reports" / "health" / "new-server.json").read_text())
    assert all(reason in fleet for reason in health["reasons"])
    again = playbook("playbooks/reports.yml")
    assert re.search(r"localhost\s+: ok=\d+\s+changed=0 ", again.stdout), again.output[-2000:]


def test_the_spec_sheet_omits_what_is_not_allow_listed(site_run):
    run = playbook("playbooks/spec_sheet.yml", "-e", "spec_sheet_host=new-server")
    assert run.returncode == 0, run.output[-4000:]
    base = ROOT / "reports" / "spec" / "new-server"
    text = base.with_suffix(".md").read_text()
    dom = text_of(rendered(base.with_suffix(".html"), "spec-new-server"))
    assert "RAID 1 over 2 disks" in text and "Last verified restore | passed" in text
    serials = set(re.findall(r"[A-Z]+-[A-Z0-9]+-\d{4}", guest("new-server", "lsblk -dno SERIAL")))
    macs = set(guest("new-server", "cat /sys/class/net/*/address").split()) - {"00:00:00:00:00:00"}
    assert serials and macs
    for secret in serials | macs | {"10.77.0.12", "LAB-NEW-0002"}:
        assert secret not in text and secret not in dom, secret
    assert base.with_suffix(".pdf").read_bytes().startswith(b"%PDF")
    shown = playbook("playbooks/spec_sheet.yml", "-e", "spec_sheet_host=new-server",
                     "-e", '{"reports_spec_reveal": ["addresses", "serials"]}')  # fmt: skip
    assert shown.returncode == 0, shown.output[-3000:]
    revealed = base.with_suffix(".md").read_text()
    assert "10.77.0.12/24" in revealed and any(s in revealed for s in serials)
    assert not any(mac in revealed for mac in macs)
