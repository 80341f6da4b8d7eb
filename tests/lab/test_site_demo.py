"""The main playbook on the default lab (what `make demo` runs): new-server ends with RAID1 + LVM
mounted and backed up to backup-host, with a restore test that passed, and a fleet health report."""

import re

import pytest

pytestmark = pytest.mark.lab


def test_site_playbook_builds_backs_up_and_proves_restore(site_run):
    run, after = site_run, site_run.after
    # site.yml imports five playbooks that each start with the inventory gate: it checks once per run.
    assert run.output.count("Inventory ok: 3 hosts") == 1, run.output[:3000]
    assert re.search(r"^new-server\s+: ok=\d+\s+changed=\d+\s+unreachable=0\s+failed=0", run.stdout, re.M)

    layout = after["layout"]
    assert "/dev/mapper/vg_data-srv ext4" in layout
    assert re.search(r"md\d+ : active raid1 ", layout) and "[2/2] [UU]" in layout, layout

    backup = after["backup"]
    assert backup["result"] == "ok", backup
    assert backup["repository"] == "sftp:bk-new-server@10.77.0.13:/repo", backup  # its own jailed account
    restore = after["restore"]
    assert restore["result"] == "passed" and restore["mismatches"] == [], restore
    assert restore["snapshot_id"].startswith(backup["snapshot_id"])

    fleet = after["fleet"]
    assert fleet["counts"]["total"] == 3 and "new-server" in fleet["ok"], fleet
