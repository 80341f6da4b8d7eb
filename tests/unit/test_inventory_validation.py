"""The inventory validation play: the example inventory passes, malformed ones fail clearly."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BAD = Path(__file__).parent / "inventories"


def run_validation(inventory: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    cmd = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory)]
    cmd.append(str(ROOT / "playbooks" / "validate_inventory.yml"))
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)


def test_example_inventory_is_valid():
    run = run_validation(ROOT / "inventories" / "example")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Inventory ok: 7 hosts" in run.stdout


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("typo-group", ["group 'storge_servers' is not a known group", "did you mean 'storage_servers'?"]),
        ("bad-ip", ["host h1: bmc_address '10.20.8.300' is not a valid IP address"]),
        (
            "missing-var",
            [
                "host h1: required variable 'rackwright_acceptance' is not set",
                "host h2: must be in exactly one 'rack_*' group, is in ['rack_x1', 'rack_x2']",
            ],
        ),
        (
            "bad-cidr",
            [
                "rackwright_networks.x.mgmt '10.20.0.5/22' has host bits set (did you mean 10.20.0.0/22?)",
                "rackwright_networks.x.bmc '10.20.8.0' is not a network in CIDR form",
            ],
        ),
        (
            "bad-network",
            [
                "host h1: network_interfaces[lan0].gateway '10.30.0.1' is outside its subnets",
                "host h1: network_interfaces[lan1] subnet 10.20.1.0/24 overlaps network_interfaces[lan0]",
                "host h1: network_interfaces[lan1].mtu 9000 is larger than site x's MTU 1500",
                "host h2: network_interfaces[lan0.20].mtu 1600 is larger than its parent lan0's MTU 1500",
                "host h2: network_interfaces[lan0.20]: unknown key 'adresses' (did you mean 'addresses'?)",
                "host h2: network_interfaces[lan0] 10.20.0.11 is already host h1's network_interfaces[lan0]",
                "host h2: bmc_address 10.20.8.11 is already host h1's bmc_address",
                "host h2: rackwright_acceptance: unknown key 'memory' (did you mean 'memory_gb'?)",
                "Inventory has 8 problem(s); nothing was run and no host was contacted",
            ],
        ),
        (
            "bad-window",
            [
                "host h1: rackwright_maintenance_window[0].days[0]: expected one of mon, tue, wed, thu, fri, "
                "sat, sun, daily, weekdays, weekends, got 'monday' (did you mean 'mon'?)",
                "host h1: rackwright_maintenance_window[0].start: expected HH:MM (24-hour) in quotes, got "
                "the number 1320 (YAML reads an unquoted 22:00 as 1320: write '22:00')",
                "host h1: rackwright_maintenance_window[0].timezone: unknown time zone 'Europe/Berln' "
                "(expected an IANA time zone such as Europe/Berlin or UTC; did you mean 'Europe/Berlin'?)",
                "host h1: rackwright_maintenance_window[1]: start and end are both '03:00', which is no "
                "window",
                "host h2: rackwright_maintenance_window: expected a list of windows",
                "(one window is still a list of one: put '- ' before days)",
                "host h3: rackwright_maintenance_window[0]: unknown key 'ends' (did you mean 'end'?)",
                "host h3: rackwright_maintenance_window[0].end: missing",
                "host h3: rackwright_maintenance_window[0].days: empty; name at least one day",
                "host h3: rackwright_maintenance_window[0].start: expected HH:MM (24-hour), got '25:00'",
                "Inventory has 9 problem(s); nothing was run and no host was contacted",
            ],
        ),
    ],
)
def test_malformed_inventory_fails_with_named_problem(case, expected):
    run = run_validation(BAD / case)
    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert "Traceback" not in output
    for text in expected:
        assert text in output, output
