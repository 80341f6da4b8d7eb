"""Run the real modules and filters through Ansible (ad-hoc and a tiny playbook) as a user would.

The collection path is given explicitly through the environment (and ansible.cfg is bypassed) so the tests
work with or without the repository's ansible.cfg: the repository root holds
ansible_collections/rackwright/infra, so rackwright.infra.* resolves from it. The json stdout callback makes
the output machine-readable.
"""

import json
import os

import pytest
from conftest import ANSIBLE_PLAYBOOK, FIXTURES, ansible, on_localhost, plays


def fx(*names):
    return [str(FIXTURES / name) for name in names]


def test_disk_health_cli():
    result, _ = ansible(
        "disk_health",
        {
            "from_files": fx(
                "smartctl/sata-hdd-reallocated-sectors-304.json",
                "smartctl/nvme-healthy-samsung-970-evo-plus.json",
                "smartctl/sata-hdd-smart-failed-reallocated-now-pending-8.json",
                "nvme/smart-log-nvme-cli-v2.3-healthy.json",
            )
        },
    )
    assert result["changed"] is False
    assert result["health"] == "critical"
    assert [d["health"] for d in result["disks"]] == ["warning", "ok", "critical", "ok"]
    assert "/dev/sda: reallocated sectors 304 > 0" in result["reasons"]
    keys = {"device", "model", "serial", "protocol", "capacity_bytes", "power_on_hours", "temperature_c"}
    assert keys | {"health", "reasons", "attributes"} <= set(result["disks"][0])


def test_raid_health_cli():
    result, _ = ansible(
        "raid_health",
        {
            "from_files": fx(
                "mdstat/raid1-degraded-recovering-29pct.txt",
                "mdadm/raid1-clean-white-md125.txt",
                "storcli/storcli-drive-offline.json",
                "ssacli/hpacucli-ld-show-array-failed.txt",
            )
        },
    )
    assert result["health"] == "critical"
    md126 = next(a for a in result["arrays"] if a["name"] == "md126")
    assert (md126["state"], md126["rebuild_percent"], md126["health"]) == ("rebuilding", 29.2, "warning")
    assert {"name", "level", "state", "rebuild_percent", "members", "health", "reasons"} <= set(md126)
    assert "/c0/e35/s12: drive state Offln" in result["reasons"]
    assert len(result["sources"]) == 4
    # the rebuilding array's progress, for the progress callback's estimate
    assert result["rackwright_progress"] == {"percent": 29.2, "what": "md126 rebuild"}


def test_bmc_health_cli():
    result, _ = ansible(
        "bmc_health",
        {
            "from_files": fx(
                "ipmitool/ipmitool-sdr-ibm-system-x-with-ns-not-readable.txt",
                "ipmitool/freeipmi-ipmi-sel-critical-events.txt",
                "redfish/hpe-ilo5-smartarray-p408i-controller-health-warning.json",
            )
        },
    )
    assert result["health"] == "critical"
    assert len(result["sensors"]) == 134 and len(result["events"]) == 5
    assert any("Configuration Error" in r for r in result["reasons"])
    assert any("health Warning" in r for r in result["reasons"])
    assert {"name", "type", "reading", "unit", "status", "health", "reasons"} <= set(result["sensors"][0])
    assert {"id", "date", "time", "sensor", "description", "direction", "health"} <= set(result["events"][0])


def test_gpu_health_cli():
    result, _ = ansible("gpu_health", {"from_files": fx("nvidia-smi/tesla-p100-correctable-ecc-3.xml")})
    assert result["health"] == "warning"
    assert result["reasons"] == [
        "GPU 0 Tesla P100-PCIE-16GB: correctable ECC errors 3 > 0 (volatile 0, aggregate 3)"
    ]
    assert result["driver_version"] == "510.47.03"


def test_hw_inventory_cli():
    result, _ = ansible(
        "hw_inventory",
        {"from_files": fx("dmidecode/dell-poweredge-r640.txt", "nvme/list-nvme-cli-v2.11-subsystems.json")},
    )
    assert (result["vendor"], result["model"], result["serial"]) == ("Dell Inc.", "PowerEdge R640", "2RJF153")
    assert result["bios"]["version"] == "2.6.4"
    assert result["memory"]["populated"] == 8 and result["memory"]["empty"] == 16
    assert len(result["psus"]) == 2 and len(result["disks"]) == 3
    assert result["nics"][0]["device"] == "Integrated NIC 1"
    assert result["health"] == "unknown"


def test_bad_path_is_unknown_naming_the_file():
    result, output = ansible("disk_health", {"from_files": ["/nonexistent/smart.json"]})
    assert result.get("failed") is not True
    assert result["health"] == "unknown"
    assert result["reasons"] == [
        "/nonexistent/smart.json: cannot read /nonexistent/smart.json: No such file or directory"
    ]
    assert "Traceback" not in output


def test_empty_from_files_is_an_error_not_live_mode():
    result, output = ansible("hw_inventory", {"from_files": []})
    assert result["failed"] is True
    assert result["msg"].startswith("from_files is empty: give at least one saved dmidecode")
    assert "disks" not in result


@pytest.mark.parametrize(
    ("module", "args", "content", "expected"),
    [
        (
            "raid_health",
            {"format": "mdstat"},
            "Personalities : [raid1]\nthis is not mdstat\n",
            "mdstat output in {} line 2",
        ),
        ("disk_health", {}, '{"smartctl": {\n  "exit_status": 0,\n}', "smartctl output in {} line 3"),
    ],
)
def test_unparseable_file_is_unknown_with_tool_file_and_line(tmp_path, module, args, content, expected):
    path = tmp_path / "garbage.txt"
    path.write_text(content)
    result, output = ansible(module, dict(args, from_files=[str(path)]))
    assert result.get("failed") is not True
    assert result["health"] == "unknown"
    assert any(expected.format(path) in reason for reason in result["reasons"]), result["reasons"]
    assert "Traceback" not in output


PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - rackwright.infra.disk_health:
        from_files: {files}
      register: disks
    - ansible.builtin.debug:
        msg:
          worst: "{{{{ disks.disks | rackwright.infra.worst_health }}}}"
          fleet: "{{{{ {{'node1': disks.health
                     | rackwright.infra.result_record('health', 'node1', disks.reasons),
                   'node2': 'ok' | rackwright.infra.result_record('health', 'node2')}}
                   | rackwright.infra.record_rollup('health') }}}}"
          wear: "{{{{ disks.disks | rackwright.infra.disk_wear_forecast(today='2025-01-01') }}}}"
"""


def test_filters_in_a_playbook(tmp_path):
    files = fx("smartctl/nvme-wear-75pct-used-intel-p4510.json", "smartctl/nvme-media-errors-7.json")
    playbook = tmp_path / "filters.yml"
    playbook.write_text(PLAYBOOK.format(files=json.dumps(files)))
    proc = on_localhost(ANSIBLE_PLAYBOOK, str(playbook))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    msg = plays(proc)[0]["tasks"][1]["hosts"]["localhost"]["msg"]
    assert msg["worst"] == "warning"
    assert msg["fleet"]["warning"] == ["node1"] and msg["fleet"]["ok"] == ["node2"]
    assert msg["wear"][0]["replace_by"] == "2026-11-18"
    assert msg["wear"][1]["days_remaining"] > 0


def test_fifo_and_device_do_not_hang_the_real_module(tmp_path):
    """The probe's FIFO case blocked every module (and the Ansible worker) in open(); through the real
    ansible CLI it must now answer at once."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    result, output = ansible("raid_health", {"from_files": [str(fifo), "/dev/zero"]})
    assert result["health"] == "unknown"
    assert result["reasons"] == [
        f"cannot read {fifo}: it is a FIFO (named pipe), expected a regular file holding saved output",
        "cannot read /dev/zero: it is a character device, expected a regular file holding saved output",
    ]
    assert "Traceback" not in output


def test_evidence_collect_refuses_bad_input_and_takes_a_baseline(tmp_path):
    result, _ = ansible("evidence_collect", {"temp_dir": str(tmp_path / "absent")})
    assert result["failed"] and result["msg"] == (
        f"evidence_collect: temp_dir {tmp_path / 'absent'} is not a directory on the host"
    )
    result, _ = ansible("evidence_collect", {"temp_dir": str(tmp_path), "recent_days": 0})
    assert result["failed"] and "recent_days must be at least 1, got 0" in result["msg"]
    result, _ = ansible("evidence_collect", {"mode": "sideways"})
    assert result["failed"] and "mode" in result["msg"] and "collect, baseline" in result["msg"]
    result, _ = ansible("evidence_collect", {"mode": "baseline"}, "--check")
    assert result["changed"] is False and result["roots"][0] == "/usr/bin"
    paths = {entry["path"]: entry for entry in result["entries"]}
    assert paths["/usr/bin/env"]["type"] == "file" and len(paths["/usr/bin/env"]["sha256"]) == 64
    assert "/etc/passwd" not in result["files"] and any(path.startswith("/etc/") for path in result["files"])
    assert os.listdir(tmp_path) == []  # nothing written
