"""playbooks/replace_server.yml on the lab: old-server's service (HTTP on 10.77.0.50 from /srv/data) moves to
new-server's RAID1+LVM /srv/data byte for byte, seen from backup-host; a run killed in the bulk copy and in
the final delta continues when run again; a failure after the cutover puts the service back on old-server
with nothing lost; the confirmation and the maintenance window refuse as documented."""

import datetime
import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import ENV, ROOT, ensure_lab, extra, guest, playbook, wait_for

# It needs site.yml's run (new-server's /srv/data volume, old-server's backups) and moves old-server's service
# (put back after each test): run after the other tests built on that run, before those that break the lab.
pytestmark = [pytest.mark.lab, pytest.mark.after_site_tests]
OLD, NEW, PEER = "old-server", "new-server", "backup-host"
SERVICE = "10.77.0.50"
PAIR = ["-e", f"migration_old={OLD}", "-e", f"migration_new={NEW}"]
CONFIRM = ["-e", f"confirm_replace_server={OLD},{NEW}"]
OVERRIDE = extra({"migration_window_override": "lab test, whatever the hour (the lab window: 01-05 UTC)"})
STATE_DIR = ROOT / "reports" / "migration" / f"{OLD}-to-{NEW}"
# What a customer's data holds that copies get wrong: odd names, a hard link, a sparse file, an ACL, an xattr.
SEED_ODD_FILES = (
    "rm -rf /srv/data/odd /srv/data/live && mkdir -p /srv/data/odd /srv/data/live && cd /srv/data/odd && "
    "printf spaces > 'name with spaces' && printf newline > \"$(printf 'new\\nline')\" && "
    "printf bytes > \"$(printf 'not-utf8-\\377')\" && ln ../db/customers.csv customers-hardlink.csv && "
    "truncate -s 8M sparse.img && "
    "printf middle | dd of=sparse.img bs=1 seek=4194304 conv=notrunc status=none && "
    "setfacl -m u:1234:r ../db/customers.csv && setfattr -n user.origin -v crm-export ../db/customers.csv"
)
# The service's own writes while the bulk passes run (stopped by the freeze: the data turns read-only).
WRITER = (
    "nohup sh -c 'for i in $(seq 1 400); do head -c 131072 /dev/urandom > /srv/data/live/w-$i.bin || exit 0; "
    "sleep 0.25; done' >/dev/null 2>&1 &"
)
# Both hosts back to before any replacement: old-server serving with its data writable, new-server empty.
RESTORE = {
    OLD: (
        "while findmnt -rn -o OPTIONS --mountpoint /srv/data | tail -n 1 | tr , '\\n' | grep -qx ro; "
        "do umount /srv/data; done; pkill -f '[w]-\\$i.bin'; "
        "systemctl disable -q --now rackwright-service-address@lab-data 2>/dev/null; "
        f"ip addr replace {SERVICE}/24 dev lan0; systemctl start rackwright-lab-data; "
        "rm -rf /var/lib/rackwright/migration /srv/data/odd /srv/data/live; true"
    ),
    NEW: (
        "systemctl disable -q --now rackwright-lab-data rackwright-service-address@lab-data 2>/dev/null; "
        "find /srv/data -mindepth 1 -maxdepth 1 ! -name lost+found -exec rm -rf {} +; "
        "rm -rf /var/lib/rackwright/migration; sed -i '/rackwright-migration/d' /root/.ssh/authorized_keys; "
        "nft delete table inet rackwright_fault 2>/dev/null; "
        "nft delete table inet rackwright 2>/dev/null; true"
    ),
}
# Every file's sha256 under /srv/data (cat -v: a name that is not UTF-8 stays readable).
SUMS = "cd /srv/data && find . -type f -print0 | sort -z | xargs -0 sha256sum | cat -v"
FETCH = (
    "python3 -c 'import urllib.request as u; "
    f'print(u.urlopen("http://{SERVICE}/SHA256SUMS", timeout=5).read().decode(), end="")\''
)


def restore():
    for host, command in RESTORE.items():
        guest(host, command)
    shutil.rmtree(STATE_DIR, ignore_errors=True)


@pytest.fixture(scope="module")
def lab_ready(site_run):
    """The lab after site.yml (new-server's /srv/data on RAID1+LVM, old-server backed up to backup-host), both
    hosts as before a replacement, and old-server's data seeded with what copies get wrong; restored after."""
    ensure_lab()
    restore()
    guest(OLD, SEED_ODD_FILES)
    yield
    restore()


def state():
    return json.loads((STATE_DIR / "state.json").read_text())


def service_mac():
    """The MAC address backup-host reaches the service address at (after it asked, or was told by ARP)."""
    guest(PEER, FETCH, check=False)
    found = re.search(r"lladdr (\S+)", guest(PEER, f"ip neigh show {SERVICE}"))
    return found.group(1) if found else None


def lan0_mac(host):
    return guest(host, "cat /sys/class/net/lan0/address").strip()


def replace(*args, timeout=1800):
    return playbook("playbooks/replace_server.yml", *PAIR, *args, timeout=timeout)


def test_the_confirmation_and_the_window_refuse_before_anything_moves(lab_ready):
    unconfirmed = replace()
    assert unconfirmed.returncode != 0
    assert "Refusing to replace a server: confirm_replace_server is not set" in unconfirmed.output
    wrong = replace("-e", f"confirm_replace_server={OLD},{PEER}")
    assert wrong.returncode != 0
    assert f"confirm_replace_server names {PEER},{OLD}, but the pair is migration_old={OLD}" in wrong.output

    now = datetime.datetime.now(datetime.UTC)
    closed = [{"days": "daily", "start": (now + datetime.timedelta(hours=2)).strftime("%H:%M"),
               "end": (now + datetime.timedelta(hours=3)).strftime("%H:%M"), "timezone": "UTC"}]  # fmt: skip
    outside = replace(*CONFIRM, *extra({"rackwright_maintenance_window": closed}))
    assert outside.returncode != 0
    assert f"Refusing to replace {OLD} (add -e migration_stop_after=bulk" in outside.output
    assert (
        "outside the maintenance window: outside every maintenance window; the next opens" in outside.output
    )
    assert "bulk" not in state()["done"]  # refused before any copy
    assert guest(OLD, "systemctl is-active rackwright-lab-data").strip() == "active"
    assert guest(NEW, "ls -A /srv/data").split() == ["lost+found"]


def test_a_failure_after_the_cutover_puts_the_service_back_on_the_old_server(lab_ready):
    restore()
    guest(OLD, SEED_ODD_FILES)
    # The new server's firewall drops the service's port: the cutover succeeds, the acceptance cannot.
    guest(NEW, "nft add table inet rackwright_fault && nft add chain inet rackwright_fault input "
               "'{ type filter hook input priority -10; }' && nft add rule inet rackwright_fault input "
               "tcp dport 80 drop")  # fmt: skip
    before = guest(OLD, SUMS)
    run = replace(*CONFIRM, *OVERRIDE)
    assert run.returncode != 0
    assert "ROLLED BACK" in run.output and f"{OLD} runs lab-data again" in run.output, run.output[-3000:]
    record = state()
    assert "cutover" in record["done"] and "acceptance" not in record["done"]
    assert "80" in record["rollback"]["reason"] and record["status"] == "rolled back"
    report = json.loads((ROOT / "reports" / "migration" / f"{NEW}.json").read_text())
    assert report["status"] == "critical" and report["reasons"][0].startswith("rolled back: ")
    # old-server serves again, from the data it had at the freeze, writable again; new-server let go.
    assert guest(OLD, "systemctl is-active rackwright-lab-data").strip() == "active"
    assert guest(OLD, SUMS) == before
    guest(OLD, "touch /srv/data/.writable && rm /srv/data/.writable")
    assert guest(PEER, FETCH) == guest(OLD, "cat /srv/data/SHA256SUMS")
    assert service_mac() == lan0_mac(OLD)
    assert guest(NEW, "systemctl is-active rackwright-lab-data", check=False).strip() == "inactive"
    assert SERVICE not in guest(NEW, "ip -o addr show dev lan0")
    again = replace(*CONFIRM, *OVERRIDE)  # a rolled-back record stops a re-run until it is moved aside
    assert again.returncode != 0 and "was rolled back at" in again.output


def run_until_killed(args, killed_when, what):
    """Start replace_server.yml and kill it (and every process it started) once KILLED_WHEN() is true; a run
    that ends before that fails the test, showing its output (kept in reports/lab/ for the CI artifact)."""
    log = ROOT / "reports" / "lab" / f"replace-server-killed-in-{what.replace(' ', '-')}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w", encoding="utf-8") as out:
        proc = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "ansible-playbook"), "-i", "inventories/lab",
             "playbooks/replace_server.yml", *PAIR, *args],
            cwd=ROOT, env={**ENV, "ANSIBLE_NOCOLOR": "1"}, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        wait_for(lambda: proc.poll() is not None or killed_when(), timeout=900, what=what)
        ended = proc.poll()
        assert ended is None, f"the run ended (rc {ended}) before {what}:\n" + log.read_text()[-4000:]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    time.sleep(2)


def copy_progress():
    """The copy's progress on the newest run's page (its own percentage of the pass and an estimated end),
    or None."""
    runs = [p for p in Path(os.environ["RACKWRIGHT_RUNS_DIR"]).iterdir() if (p / "progress.json").is_file()]
    if not runs:
        return None
    newest = max(runs, key=lambda p: (p / "progress.json").stat().st_mtime)
    progress = json.loads((newest / "progress.json").read_text()).get("progress") or {}
    return progress if "bulk pass 1" in progress.get("what", "") and progress.get("eta") else None


def rsync_running():
    return guest(OLD, "pgrep -x rsync >/dev/null && echo yes", check=False).strip() == "yes"


def test_a_replacement_killed_in_the_bulk_copy_and_in_the_final_delta_completes_when_run_again(lab_ready):
    restore()
    guest(OLD, SEED_ODD_FILES)
    slow = ["-e", "migration_bwlimit=512", "-e", "migration_delta_items=100000"]  # one slow pass of ~14 MB
    slow += ["-e", "migration_copy_poll_s=2"]
    # Killed once the run's page shows the copy's progress: rsync's percentage and an estimated end.
    run_until_killed([*CONFIRM, *OVERRIDE, *slow], lambda: (STATE_DIR / "state.json").exists()
                     and "preflight" in state()["done"] and rsync_running() and copy_progress(),
                     "the bulk copy")  # fmt: skip
    assert "bulk" not in state()["done"]
    seen = copy_progress()
    assert 0 < seen["percent"] < 100 and seen["rate_per_min"] > 0 and seen["what"].startswith(NEW), seen
    # The service writes while the next bulk pass runs: what it writes after the pass listed the tree is the
    # final delta, copied (slowly) after the freeze, when the second run is killed.
    guest(OLD, WRITER)
    run_until_killed([*CONFIRM, *OVERRIDE, *slow], lambda: "freeze" in state()["done"] and rsync_running(),
                     "the final delta")  # fmt: skip
    assert "bulk" in state()["done"] and "final" not in state()["done"]
    written = guest(OLD, "ls /srv/data/live | wc -l")
    assert int(written) > 0

    done = replace(*CONFIRM, *OVERRIDE)
    assert done.returncode == 0, done.output[-4000:]
    record = state()
    assert [step["step"] for step in record["steps"]] == [
        "preflight", "archive", "bulk", "freeze", "final", "verify", "cutover", "acceptance"
    ]  # fmt: skip
    verify = next(s for s in record["steps"] if s["step"] == "verify")["details"]
    assert (
        verify["verification"][0].startswith("verified: all ")
        and "identical on both sides" in verify["verification"][0]
    )
    assert verify["proof"] == ["proof pass: a checksum comparison of every file found no difference"]
    snapshots = next(s for s in record["steps"] if s["step"] == "archive")["details"]["snapshots"]
    assert snapshots and all(re.fullmatch(r"[0-9a-f]{8,64}", s) for s in snapshots)  # archived first
    report = json.loads((ROOT / "reports" / "migration" / f"{NEW}.json").read_text())
    assert report["status"] == "ok" and (ROOT / "reports" / "migration" / f"{NEW}.md").is_file()

    # Byte for byte, with what copies get wrong, and the files the service wrote during the bulk pass.
    assert "FAILED" not in guest(NEW, "cd /srv/data && sha256sum -c SHA256SUMS")
    listing = (
        "cd /srv/data && find . -path ./lost+found -prune -o -print0 | sort -z "
        "| xargs -0 stat -c '%n|%s|%a|%u|%g|%Y' | cat -v"  # (link counts: lost+found adds one to new's .)
    )
    assert guest(NEW, listing) == guest(OLD, listing)
    assert guest(NEW, SUMS) == guest(OLD, SUMS)
    assert guest(NEW, "ls /srv/data/live | wc -l") == written
    assert int(guest(NEW, "du -k /srv/data/odd/sparse.img").split()[0]) < 1024  # 8 MiB, still sparse
    assert "user:1234:r--" in guest(NEW, "getfacl -c /srv/data/db/customers.csv")
    assert "crm-export" in guest(NEW, "getfattr -n user.origin /srv/data/db/customers.csv")
    assert guest(NEW, "stat -c %h /srv/data/odd/customers-hardlink.csv").strip() == "2"

    # The service answers on its address from new-server, seen from a third VM; old-server let go, retired.
    assert guest(PEER, FETCH) == guest(NEW, "cat /srv/data/SHA256SUMS")
    assert service_mac() == lan0_mac(NEW)
    assert guest(OLD, "systemctl is-active rackwright-lab-data", check=False).strip() == "inactive"
    assert SERVICE not in guest(OLD, "ip -o addr show dev lan0")
    assert json.loads(guest(OLD, "cat /var/lib/rackwright/migration/retired.json"))["replaced_by"] == NEW
    assert "ro" in guest(OLD, "findmnt -n -o OPTIONS --mountpoint /srv/data | tail -n 1").split(",")

    finished = (STATE_DIR / "state.json").read_text()
    again = replace(*CONFIRM, *OVERRIDE)  # finished: a re-run copies nothing and moves nothing
    assert again.returncode == 0, again.output[-3000:]
    assert "TASK [rackwright.infra.migration : Copy, pass" not in again.stdout
    assert "TASK [rackwright.infra.migration : Take the service address on the new host" not in again.stdout
    assert (STATE_DIR / "state.json").read_text() == finished
