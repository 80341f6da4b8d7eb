"""The main playbook on the default lab (what `make demo` runs): new-server ends with RAID1 + LVM
mounted and backed up to backup-host, with a restore test that passed, and a fleet health report."""

import json
import re

import pytest
from conftest import RESET_NEW_SERVER_DISKS, ROOT, guest, playbook

pytestmark = pytest.mark.lab


def test_site_playbook_builds_backs_up_and_proves_restore(lab_up):
    guest("new-server", RESET_NEW_SERVER_DISKS)
    run = playbook("playbooks/site.yml", timeout=1800)  # 14.5 min measured on a slow day, 2 cores, TCG
    assert run.returncode == 0, run.output[-5000:]
    # site.yml imports five playbooks that each start with the inventory gate: it checks once per run.
    assert run.output.count("Inventory ok: 3 hosts") == 1, run.output[:3000]
    assert re.search(r"^new-server\s+: ok=\d+\s+changed=\d+\s+unreachable=0\s+failed=0", run.stdout, re.M)

    layout = guest("new-server", "findmnt -n -o SOURCE,FSTYPE /srv/app; cat /proc/mdstat; lvs --noheadings")
    assert "/dev/mapper/vg_data-srv ext4" in layout
    assert re.search(r"md\d+ : active raid1 ", layout) and "[2/2] [UU]" in layout, layout

    backup = json.loads(guest("new-server", "cat /var/lib/rackwright/backup/data-status.json"))
    assert backup["result"] == "ok", backup
    assert backup["repository"] == "sftp:bk-new-server@10.77.0.13:/repo", backup  # its own jailed account
    restore = json.loads(guest("new-server", "cat /var/lib/rackwright/backup/data-restore-test.json"))
    assert restore["result"] == "passed" and restore["mismatches"] == [], restore
    assert restore["snapshot_id"].startswith(backup["snapshot_id"])

    fleet = json.loads((ROOT / "reports" / "health" / "fleet.json").read_text())
    assert fleet["counts"]["total"] == 3 and "new-server" in fleet["ok"], fleet
