"""Maintenance's gates (module_utils/rackwright_maintenance.py) on real inputs: md states parsed from real
/proc/mdstat captures, the backup runner's status documents, the acceptance rows; needrestart's batch output.
The whole roll runs on the lab (tests/lab/test_maintenance_lab.py)."""

import pytest
from conftest import FIXTURES

from ansible_collections.rackwright.infra.plugins.filter.rackwright_maintenance import maintenance_gates
from ansible_collections.rackwright.infra.plugins.module_utils import rackwright_maintenance as maintenance
from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_incident import backup_freshness
from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_mdstat import parse_mdstat

MIB = 2**20
RUNNING = """\
cron.service                loaded active running Regular background program processing daemon
ssh.service                 loaded active running OpenBSD Secure Shell server
rackwright-lab-service.service loaded active running rackwright lab service
"""


def arrays(name):
    return {"arrays": parse_mdstat((FIXTURES / "mdstat" / name).read_text())}


def status(job, finished, result="ok"):
    return {"job": job, "result": result, "finished": finished, "snapshot_id": "4f2a"}


def test_a_rebuilding_array_fails_the_raid_gate_and_clean_arrays_pass():
    gate = maintenance.gate_raid(arrays("raid1-degraded-recovering-29pct.txt"))
    assert gate == {"gate": "raid", "ok": False, "reason": "array(s) not clean: md126 rebuilding 29.2%"}
    assert maintenance.gate_raid(arrays("raid1-raid0-healthy-with-bitmaps-centos6.txt"))["ok"]
    assert maintenance.gate_raid({"arrays": []}) == {"gate": "raid", "ok": True, "reason": "no RAID array"}


def test_a_stale_backup_fails_its_gate_and_a_host_without_jobs_passes():
    now = "2026-12-07T12:00:00+00:00"
    fresh = backup_freshness([status("data", "2026-12-07T02:00:00+00:00")], now, 26)
    assert maintenance.gate_backup(fresh) == {
        "gate": "backup",
        "ok": True,
        "reason": "every job backed up within 26 h",
    }
    stale = backup_freshness([status("data", "2026-12-05T02:00:00+00:00")], now, 26)
    assert maintenance.gate_backup(stale) == {
        "gate": "backup",
        "ok": False,
        "reason": "job data's last backup is 58.0 h old (more than 26 h)",
    }
    assert maintenance.gate_backup(backup_freshness([], now, 26))["reason"] == "no backup job on this host"


def test_free_space_acceptance_hardware_and_services():
    sample = {
        "filesystems": {
            "/": {"size": 4096 * MIB, "used": 3900 * MIB},
            "/boot": {"size": 500 * MIB, "used": 100 * MIB},
        }
    }
    gate = maintenance.gate_free_space(sample, ["/", "/var", "/boot"], 300)
    assert gate == {
        "gate": "free space",
        "ok": False,
        "reason": "/ has 196 MiB free (at least 300 MiB needed)",
    }
    assert maintenance.gate_free_space(sample, ["/boot"], 300)["ok"]
    report = {
        "counts": {"pass": 9, "fail": 1},
        "rows": [{"item": "port 22 open from old-server", "status": "fail"}],
    }
    assert maintenance.gate_acceptance(report)["reason"] == "1 item(s) failed: port 22 open from old-server"
    assert maintenance.gate_hardware("critical", ["/dev/sda: reallocated sectors 304 > 0"])["ok"] is False
    assert maintenance.gate_hardware("warning")["ok"] is True
    before = maintenance.running_services(RUNNING)
    assert before == ["cron.service", "rackwright-lab-service.service", "ssh.service"]
    gate = maintenance.gate_services(before, ["cron.service", "ssh.service"])
    assert gate == {
        "gate": "services",
        "ok": False,
        "reason": "no longer running: rackwright-lab-service.service",
    }


def test_the_gates_together_name_every_failure():
    measured = {"sample": {"filesystems": {}}, "free_paths": ["/"], "min_free_mb": 300,
                "backup": None, "raid": arrays("raid1-degraded-recovering-29pct.txt"), "health": "ok",
                "acceptance": None, "services_before": ["ssh.service"], "services_after": []}  # fmt: skip
    gates = maintenance_gates(measured)
    assert [g["gate"] for g in gates] == [
        "free space",
        "backup",
        "raid",
        "hardware",
        "acceptance",
        "services",
    ]
    assert maintenance.failed(gates) == (
        "raid: array(s) not clean: md126 rebuilding 29.2%; services: no longer running: ssh.service"
    )
    report = maintenance.report_markdown({"host": "web1", "status": "critical", "reasons": ["x"],
                                          "details": {"gates": {"before": gates}}})  # fmt: skip
    assert "| raid | NO | array(s) not clean: md126 rebuilding 29.2% |" in report


@pytest.mark.parametrize("text", [None, ""])
def test_needrestart_absent_or_silent(text):
    from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_evaluate import (
        needrestart_state,
    )

    state = needrestart_state(text)
    silent = {"kernel_pending": False, "running": None, "expected": None, "services": []}
    assert state is None if text is None else state == silent


# dpkg-query -L's shape for the lab's two packages (the lab test reads the real one), with a second unit that
# the service package ships but that is not running: not a service to restart.
PACKAGE_FILES = """\
/.
/usr
/usr/lib
/usr/lib/systemd
/usr/lib/systemd/system
/usr/lib/systemd/system/rackwright-lab-service.service
/usr/lib/systemd/system/rackwright-lab-service-helper.service
/usr/local/bin/rackwright-lab-service
/.
/usr
/usr/share/doc/rackwright-lab-firmware
"""
CLOSED = {"allowed": False, "reason": "outside the window; the next one opens 2026-12-08T01:00:00+00:00"}
WHY = "the update of rackwright-lab-firmware (maintenance_reboot_packages)"


def test_check_mode_names_the_updates_the_services_they_ship_and_the_reboot_they_will_ask_for():
    plan = maintenance.check_plan(
        ["rackwright-lab-service", "rackwright-lab-firmware"],
        PACKAGE_FILES.splitlines(),
        maintenance.running_services(RUNNING),  # the helper unit is not running: not restarted
        {"kernel_pending": False, "services": ["cron.service"]},
        False,
        ["linux-image-*", "*-firmware"],
        CLOSED,
    )
    assert plan["update"] == ["rackwright-lab-firmware", "rackwright-lab-service"]
    assert plan["restart"] == ["cron.service", "rackwright-lab-service.service"]
    assert plan["reboot"] is False
    assert plan["lines"] == [
        "would update: rackwright-lab-firmware, rackwright-lab-service",
        "would restart: cron.service, rackwright-lab-service.service",
        f"would leave the reboot pending ({WHY}): {CLOSED['reason']}",
    ]
    opened = maintenance.check_plan(
        [], [], [], {"kernel_pending": True}, True, [], {"allowed": True, "reason": "w"}
    )
    assert opened["reboot"] and opened["lines"][:2] == ["would update: nothing", "would restart: nothing"]
    assert opened["reboot_why"] == [
        "the running kernel is older than the installed one (needrestart)",
        "a package asks for it (/run/reboot-required)",
    ]
    kept = maintenance.check_plan(
        ["rackwright-lab-service"], PACKAGE_FILES.splitlines(), ["rackwright-lab-service.service"], None,
        False, [], {}, never_restart=["rackwright-lab-service.service"], reboot=False,
    )  # fmt: skip
    assert kept["restart"] == [] and kept["lines"][1].endswith(
        "(left for a person: rackwright-lab-service.service)"
    )
    assert kept["lines"][2] == "would not reboot: nothing asks for it"
