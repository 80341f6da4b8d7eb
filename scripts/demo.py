"""`make demo`: a technician's day on the built-in lab, unattended, with a timing per step.

1. provision new-server (site.yml: base OS, storage, backups, health on every lab host)
2. accept it against its specification (acceptance.yml)
3. replace old-server with it (replace_server.yml: archive, copy, switch over, verify, accept it with the
   service)
4. fail a disk of its data array (the lab pulls raid-b) and run the disk incident to a clean rebuild
5. evaluate every host (the upgrade plan)
6. write new-server's specification sheet for the customer (HTML, Markdown, PDF)
7. render the reports, then say where each one is, with a summary in a paragraph

Every destructive step asks for its typed confirmation; the demo types them itself only when
RACKWRIGHT_DEMO_CONFIRM=built-in-lab (what `make demo` sets), and only for the built-in lab's hosts. Each
playbook's live progress page is under reports/runs/ while it runs.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPORTS = ROOT / "reports"
PLAYBOOK = [str(ROOT / ".venv" / "bin" / "ansible-playbook"), "-i", "inventories/lab"]
LAB = [str(ROOT / ".venv" / "bin" / "python"), "-m", "rackwright_lab"]
ENV = {**os.environ, "PYTHONPATH": str(ROOT / "lab"), "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")}
CONFIRM = "built-in-lab"
WINDOW = "migration_window_override=make demo: the built-in lab, whatever the hour"
LOG = REPORTS / "demo"
STEPS = []


def say(text):
    print(f"[demo] {text}", flush=True)


def run(name, cmd, log_name, watch=None):
    """Run CMD with its output in reports/demo/LOG_NAME.log (the tail printed when it fails); WATCH(log text),
    when given, is called every second while it runs (the technician's part of a step)."""
    LOG.mkdir(parents=True, exist_ok=True)
    log = LOG / f"{log_name}.log"
    say(f"{name} (log: {log.relative_to(ROOT)})")
    start = time.monotonic()
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=ENV, stdout=out, stderr=subprocess.STDOUT)
        while proc.poll() is None:
            if watch:
                watch(log.read_text(errors="replace"))
            time.sleep(1)
    took = time.monotonic() - start
    STEPS.append((name, took, proc.returncode))
    if proc.returncode != 0:
        tail = log.read_text(errors="replace").splitlines()[-40:]
        print("\n".join(tail), file=sys.stderr)
        fail(f"{name} failed (exit {proc.returncode}) after {took:.0f} s; the whole output is in {log}")
    say(f"  done in {took:.0f} s")


def fail(message):
    say(f"stopped: {message}")
    sys.exit(1)


def lab(*args):
    return subprocess.run([*LAB, *args], cwd=ROOT, env=ENV, capture_output=True, text=True, check=False)


def disk_incident():
    """Pull raid-b from new-server's data array, then run the incident confirmed; when the run waits for the
    new disk, the lab puts raid-b back in (the technician's part)."""
    pulled = lab("fault", "disk-remove", "new-server", "raid-b")
    if pulled.returncode != 0:
        fail(f"the lab could not pull raid-b: {pulled.stderr.strip() or pulled.stdout.strip()}")
    inserted = []

    def insert_when_waiting(log):
        if not inserted and "Wait for a blank disk to appear" in log:
            time.sleep(3)
            say("  the run waits for the new disk: the lab puts raid-b back in")
            lab("fault", "disk-insert", "new-server", "raid-b")
            inserted.append(True)

    cmd = [*PLAYBOOK, "playbooks/incident_disk.yml", "-e", "confirm_replace=new-server",
           "-e", "incident_disk_new_device=serial:RAID-B-0002", "-e", "incident_disk_poll_seconds=3",
           "-e", "incident_disk_wait_minutes=10"]  # fmt: skip
    run("4/7 a failed disk on new-server: detect, locate, protect, replace, rebuild", cmd, "4-incident-disk",
        watch=insert_when_waiting)  # fmt: skip


def record(kind, host):
    path = REPORTS / kind / f"{host}.json"
    return json.loads(path.read_text()) if path.exists() else {}


def summary():
    acceptance = record("acceptance", "new-server")
    counts = (acceptance.get("details") or {}).get("counts") or {}
    migration = record("migration", "new-server")
    incident = record("incident", "new-server")
    timeline = {e["step"]: e["what"] for e in (incident.get("details") or {}).get("timeline") or []}
    plan = (record("evaluate", "new-server").get("details") or {}).get("plan") or []
    now = [p["reason"] for p in plan if p.get("when") == "now"]
    parts = [
        f"new-server was provisioned and accepted against its specification ({counts.get('pass', 0)} checks "
        f"passed, {counts.get('fail', 0)} failed).",
        f"old-server's service moved to it: the replacement ended {migration.get('status', 'unknown')}"
        + (f" ({'; '.join(migration.get('reasons') or [])})" if migration.get("reasons") else "")
        + ".",
        "A disk of its data array failed and was replaced: "
        + (
            timeline.get("rebuilt", "no rebuild recorded").splitlines()[0]
            if timeline
            else "no incident recorded"
        )
        + f"; the incident is {incident.get('status', 'unknown')}.",
        f"The evaluation asks for {len(now)} thing(s) now" + (f", first: {now[0]}." if now else "."),
    ]
    return " ".join(parts)


def main():
    if os.environ.get("RACKWRIGHT_DEMO_CONFIRM") != CONFIRM:
        fail(f"the demo replaces a server and a disk on the lab: set RACKWRIGHT_DEMO_CONFIRM={CONFIRM} "
             "(make demo does) to let it type those confirmations itself")  # fmt: skip
    hosts = ROOT / "inventories" / "lab" / "hosts.yml"
    if not hosts.exists():
        fail("the lab is not up (no inventories/lab/hosts.yml): make lab-up")
    started = time.monotonic()
    replace = ["-e", "migration_old=old-server", "-e", "migration_new=new-server"]
    replace += ["-e", "confirm_replace_server=old-server,new-server", "-e", WINDOW]
    steps = [
        ("1/7 provision new-server (site.yml on every lab host)", ["playbooks/site.yml"], "1-site"),
        (
            "2/7 accept new-server against its specification",
            ["playbooks/acceptance.yml", "--limit", "new-server"],
            "2-acceptance",
        ),
        (
            "3/7 replace old-server with new-server",
            ["playbooks/replace_server.yml", *replace],
            "3-replace-server",
        ),
    ]
    for name, args, log in steps:
        run(name, [*PLAYBOOK, *args], log)
    disk_incident()
    steps = [
        ("5/7 evaluate every host", ["playbooks/evaluate.yml"], "5-evaluate"),
        (
            "6/7 new-server's specification sheet",
            ["playbooks/spec_sheet.yml", "-e", "spec_sheet_host=new-server"],
            "6-spec-sheet",
        ),
        ("7/7 the reports", ["playbooks/reports.yml"], "7-reports"),
    ]
    for name, args, log in steps:
        run(name, [*PLAYBOOK, *args], log)
    total = time.monotonic() - started
    say("timing per step:")
    for name, took, _rc in STEPS:
        say(f"  {took:6.0f} s  {name}")
    say(f"  {total:6.0f} s  in all")
    say("reports:")
    where = [
        ("fleet health", "pages/fleet.html"),
        ("acceptance", "pages/acceptance.html"),
        ("migration and its verification", "pages/migration.html"),
        ("incidents", "pages/incidents.html"),
        ("evaluation and upgrade plan", "pages/evaluation.html"),
        ("new-server's specification sheet", "spec/new-server.pdf"),
        ("the runs' progress pages", "runs/latest/index.html"),
    ]
    for what, path in where:
        state = "" if (REPORTS / path).exists() else "  (missing)"
        say(f"  {what:36} reports/{path}{state}")
    say("summary: " + summary())


if __name__ == "__main__":
    main()
