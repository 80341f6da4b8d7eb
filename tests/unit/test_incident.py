"""A failed disk located on md states captured from the lab (tests/fixtures/storage, storage_layout's
``locate``), what the incident does about it (module_utils/rackwright_incident.py), and the backup's
freshness from the backup runner's status files; the whole incident runs on the lab
(tests/lab/test_incident_disk_lab.py)."""

import json

import pytest
from conftest import FIXTURES

from ansible_collections.rackwright.infra.plugins.filter.rackwright_incident import backup_freshness
from ansible_collections.rackwright.infra.plugins.module_utils import rackwright_incident as incident
from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_storage_replace import locate

# The lab layout's array by serial (the captures hold no /dev/disk/by-id links; a host's run reads them).
LAYOUT = [{"name": "data", "level": 1, "devices": ["serial:RAID-A-0001", "serial:RAID-B-0002"]}]


def located(fixture, raids=None, array="data"):
    state = json.loads((FIXTURES / "storage" / fixture).read_text())
    return locate({"array": array, "raids": LAYOUT if raids is None else raids}, state)


def test_a_faulty_member_is_named_by_serial_and_two_blank_disks_need_a_choice():
    found = located("lab-md-raid1-degraded.json")
    assert found["array"]["members_state"] == "/dev/vdb slot 0 in_sync, /dev/vdc faulty, slot 1 empty"
    assert found["redundancy_left"] == 0
    [failed] = found["failed"]
    assert (failed["path"], failed["serial"], failed["state"]) == ("/dev/vdc", "RAID-B-0002", "faulty")
    assert incident.who(failed) == "serial RAID-B-0002 (/dev/vdc, faulty in the array)"
    assert [c["serial"] for c in found["candidates"]] == ["NVME-N1-0004", "SATA-S1-0003"]
    plan = incident.disk_plan(found)
    assert plan["new_device"] == "" and not plan["wait"] and plan["problems"] == []
    assert plan["choice_problems"] == [
        "several blank disks could replace it (/dev/nvme0n1 serial NVME-N1-0004, /dev/sda serial "
        "SATA-S1-0003): name the one to use with incident_disk_new_device=serial:XYZ"
    ]
    chosen = incident.disk_plan(found, "serial:SATA-S1-0003")
    assert chosen == {"failed": failed, "new_device": "serial:SATA-S1-0003", "wait": False, "problems": [],
                      "choice_problems": []}  # fmt: skip


def test_a_disk_that_is_not_there_yet_is_waited_for():
    plan = incident.disk_plan(located("lab-md-raid1-degraded.json"), "serial:NEW-DISK-0009")
    assert plan["wait"] and plan["new_device"] == "serial:NEW-DISK-0009" and plan["problems"] == []


def test_an_empty_slot_takes_its_identity_from_the_layout():
    raids = [{"name": "data", "devices": ["serial:RAID-A-0001", "serial:RAID-B-0002", "serial:SATA-S1-0003",
                                          "serial:NVME-N1-0004"]}]  # fmt: skip
    found = located("lab-md-raid10-degraded.json", raids)
    assert found["redundancy_left"] == 0  # slot 1's mirror set has one copy left
    [failed] = found["failed"]
    assert (failed["serial"], failed["slot"], failed["state"]) == ("RAID-B-0002", 1, "out")
    assert (
        "slot 1 of the array is empty" in failed["how"]
        and "is on the bus but not in /dev/md127" in failed["how"]
    )
    # The disk put back is a former member of this array: a candidate, its stale superblock cleared on add.
    assert [(c["serial"], c["former_member"]) for c in found["candidates"]] == [("RAID-B-0002", True)]
    assert incident.disk_plan(found)["new_device"] == "serial:RAID-B-0002"


def test_two_gone_members_are_one_at_a_time_and_partitions_and_rebuilds_are_refused():
    found = located("lab-md-raid6-two-failed.json", raids=[])
    assert [f["state"] for f in found["failed"]] == ["faulty", "missing"]
    assert incident.disk_plan(found)["problems"][0].startswith(
        "/dev/md/data has 2 failed members (serial SATA-S1-0003"
    )
    other = located("lab-md-two-arrays.json", raids=[], array="other")
    assert any("members are partitions" in p for p in incident.disk_plan(other)["problems"])
    busy = incident.disk_plan(located("lab-md-raid1-recovering.json", raids=[]))
    assert "/dev/md/data is busy (recover): wait for it to finish first" in busy["problems"]
    healthy = located("lab-md-raid1-clean.json", raids=[])
    assert healthy["failed"] == [] and healthy["redundancy_left"] == 1
    assert incident.disk_plan(healthy)["problems"][0].startswith("/dev/md/data has no failed member")


def test_an_array_that_is_not_assembled_is_an_error_naming_it():
    found = located("lab-md-raid1-clean.json", array="nope")
    assert found["errors"] == ["array: array 'nope' is not assembled on this host (arrays: ['data'])"]


# The backup runner's status files (roles/backup/files/rackwright_backup.py writes these keys).
OK = {"job": "data", "result": "ok", "snapshot_id": "4f1c9a2e" * 8, "finished": "2026-12-07T06:00:00+00:00"}


@pytest.mark.parametrize(
    ("statuses", "fresh", "reason"),
    [
        ([OK], True, "every job backed up within 24.0 h"),
        ([dict(OK, finished="2026-12-05T06:00:00+00:00")], False, "job data's last backup is 51.0 h old"),
        ([dict(OK, result="failed", snapshot_id=None)], False, "job data's last run failed"),
        ([], False, "no backup job has run on this host"),
        ([json.dumps(OK), dict(OK, job="etc", result="partial")], True, "every job backed up"),
    ],
)
def test_the_backup_is_fresh_only_when_every_job_saved_a_snapshot_lately(statuses, fresh, reason):
    judged = backup_freshness(statuses, "2026-12-07T09:00:00+00:00", 24)
    assert judged["fresh"] is fresh and reason in judged["reason"], judged


def test_the_report_tells_the_timeline():
    timeline = incident.step([], "opened", "failed-disk incident", now="2026-12-07T09:00:00+00:00")
    timeline = incident.step(
        timeline, "located", "serial RAID-B-0002 | gone", now="2026-12-07T09:01:00+00:00"
    )
    rec = {"host": "h", "status": "warning", "reasons": ["awaiting the replacement"],
           "details": {"title": "failed disk in data", "timeline": timeline}}  # fmt: skip
    md = incident.report_markdown(rec)
    assert md.splitlines()[:4] == ["# Incident on h: failed disk in data", "", "**Status:** warning",
                                   "- awaiting the replacement"]  # fmt: skip
    assert "| 2026-12-07T09:01:00+00:00 | located | serial RAID-B-0002 / gone |" in md
