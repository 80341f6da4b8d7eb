"""The guards every entry point rests on, tried the way a hurried user or an attacker would.

The inventory gate (playbooks/boilerplate.yml) and the typed confirmation (plugins/filter/rackwright_guard.py)
run against the example inventory with every host pointed at 127.0.0.1:1 and an ssh client that does not
exist: a guard that let a run through shows up as a failed ssh call, and nothing anywhere is touched.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOK = str(Path(sys.executable).parent / "ansible-playbook")
# No host is ever reachable: every host is 127.0.0.1:1 and the ssh client does not exist, so a run that got
# past a guard says "Unable to execute ssh command line" on the first task that would touch a host (and no
# test needs an ssh client installed).
NO_SSH = "Unable to execute ssh command line on a controller"
NOWHERE = [
    "-e",
    "ansible_host=127.0.0.1",
    "-e",
    "ansible_port=1",
    "-e",
    "ansible_ssh_executable=/nonexistent/ssh",
]
DISK = ["-e", "storage_replace_array=data", "-e", "storage_replace_new_device=/dev/disk/by-id/none"]
BROKEN = ROOT / "tests" / "unit" / "inventories" / "bad-ip"  # h1 has an invalid bmc_address, h2 is fine


def ansible_playbook(*args, inventory=ROOT / "inventories" / "example", cwd=ROOT):
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    run = subprocess.run(
        [PLAYBOOK, "-i", str(inventory), *args], cwd=cwd, env=env, capture_output=True, text=True,
        check=False, timeout=180,
    )  # fmt: skip
    run.output = run.stdout + run.stderr
    return run


def assert_refused_untouched(run, *expected):
    assert run.returncode != 0, run.output
    assert NO_SSH not in run.output and "UNREACHABLE" not in run.output and "Traceback" not in run.output, (
        run.output
    )
    for text in expected:
        assert text in run.output, run.output


# The bypasses measured on main (issue 8), and the other ways to type a confirmation wrongly.
@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["--limit", "fra1-db*", "-e", "confirm_replace=fra1-db*"],
            ["confirm_replace='fra1-db*' holds a host pattern", "-e confirm_replace=fra1-db01,fra1-db02"],
        ),
        (
            ["--start-at-task", "Fail, remove, add and rebuild", "-e", "confirm_replace=all"],
            ["confirm_replace='all' names a group, not hosts"],
        ),
        (
            ["-e", "confirm_replace=storage_servers"],
            ["names a group, not hosts", "-e confirm_replace=fra1-db01"],
        ),
        (["-e", '{"confirm_replace": ["fra1-db01"]}'], ["confirm_replace must be a string, got a list"]),
        (["-e", '{"confirm_replace": 1}'], ["confirm_replace must be a string, got a number"]),
        (["-e", "confirm_replace=fra1-db0[1:2]"], ["holds a host pattern"]),
        (["-e", "confirm_replace=~fra1-db.*"], ["holds a host pattern"]),
        (["-e", "confirm_replace=fra1-db01,"], ["holds a host pattern or an empty name"]),
        (["-e", "confirm_replace=fra1-db03"], ["names 'fra1-db03', not a host of this inventory"]),
        ([], ["confirm_replace is not set"]),
        (
            ["-e", "confirm_replace=fra1-db01,fra1-db02", "--limit", "fra1-db01"],
            ["fra1-db02 is not in this play (--limit?)", "type: -e confirm_replace=fra1-db01"],
        ),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) and v and v[0].startswith("-") else None,
)
def test_replace_disk_refuses_before_any_host_is_contacted(args, expected):
    run = ansible_playbook(*NOWHERE, *DISK, *args, "playbooks/replace_disk.yml")
    assert_refused_untouched(run, "Refusing to replace a RAID member", *expected)


def test_exact_confirmation_passes_the_guard():
    """The guard is not a wall: the exact host name gets through to the host (here: nobody listening)."""
    run = ansible_playbook(*NOWHERE, *DISK, "-e", "confirm_replace=fra1-db01", "playbooks/replace_disk.yml")
    assert "Refusing" not in run.output
    task = "TASK [rackwright.infra.storage : Fail and remove the old member, add the new disk]"
    assert task in run.output, run.output
    assert f'fatal: [fra1-db01]: FAILED! => {{"changed": false, "msg": "Task failed: {NO_SSH}' in run.output
    assert "fra1-db02" not in run.output


def play_importing_the_role(tmp_path, hosts):
    """Another play (an AWX template, a colleague's playbook) that imports the entry point statically."""
    path = tmp_path / "other.yml"
    path.write_text(
        yaml.safe_dump(
            [
                {
                    "name": "Validate",
                    "ansible.builtin.import_playbook": str(ROOT / "playbooks" / "boilerplate.yml"),
                },
                {
                    "name": "Someone else's play",
                    "hosts": hosts,
                    "gather_facts": False,
                    "tasks": [
                        {
                            "name": "Replace",
                            "ansible.builtin.import_role": {
                                "name": "rackwright.infra.storage",
                                "tasks_from": "replace_disk",
                            },
                        }
                    ],
                },
            ],
            sort_keys=False,
        )
    )
    return str(path)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["-e", "confirm_replace=fra1-db01"], ["this play would also change fra1-db02"]),
        (
            ["--tags", "all", "-e", "confirm_replace=storage_servers"],
            ["does not name exactly the hosts in play"],
        ),
        (
            [
                "--start-at-task",
                "Fail and remove the old member, add the new disk",
                "-e",
                "confirm_replace=all",
            ],
            ["confirm_replace='all' names a group, not hosts", "-e confirm_replace=fra1-db01,fra1-db02"],
        ),
        (
            ["--start-at-task", "Show the replacement commands (in check mode, those that would run)"],
            ["is not set"],
        ),
    ],
)
def test_role_entry_point_guards_every_task(tmp_path, args, expected):
    run = ansible_playbook(*NOWHERE, *DISK, *args, play_importing_the_role(tmp_path, "storage_servers"))
    assert_refused_untouched(run, "Refusing to replace a RAID member", *expected)


def test_role_entry_point_lets_the_exact_hosts_through(tmp_path):
    play = play_importing_the_role(tmp_path, "storage_servers")
    run = ansible_playbook(*NOWHERE, *DISK, "-e", "confirm_replace=fra1-db02,fra1-db01", play)
    assert "Refusing" not in run.output and run.output.count(NO_SSH) >= 2, run.output  # both hosts tried


@pytest.mark.parametrize(
    "args",
    [[], ["--limit", "h2"], ["--limit", "h1"], ["--tags", "nothing"], ["--start-at-task", "Nothing such"]],
    ids=["plain", "limit-to-a-sound-host", "limit-to-the-broken-host", "tags", "start-at-task"],
)
@pytest.mark.parametrize(
    "entry", ["validate_inventory.yml", "hardware_health.yml", "site.yml", "replace_disk.yml"]
)
def test_inventory_is_validated_whatever_the_options(entry, args):
    run = ansible_playbook(*NOWHERE, *args, f"playbooks/{entry}", inventory=BROKEN)
    assert_refused_untouched(
        run, "Inventory has 1 problem(s); nothing was run and no host was contacted",
        "host h1: bmc_address '10.20.8.300' is not a valid IP address",
    )  # fmt: skip


def test_inventory_is_checked_once_per_run(tmp_path):
    gate = str(ROOT / "playbooks" / "boilerplate.yml")
    play = tmp_path / "twice.yml"
    play.write_text(
        yaml.safe_dump(
            [{"name": "A", "ansible.builtin.import_playbook": gate}] * 2 + [{"import_playbook": gate}]
        )
    )
    run = ansible_playbook(*NOWHERE, str(play))
    assert run.returncode == 0, run.output
    assert run.output.count("Inventory ok: 7 hosts in 12 groups") == 1, run.output


def test_every_entry_playbook_starts_with_the_gate():
    for path in sorted((ROOT / "playbooks").glob("*.yml")):
        if path.name == "boilerplate.yml":
            continue
        first = yaml.safe_load(path.read_text())[0]
        assert first.get("ansible.builtin.import_playbook") == "boilerplate.yml", f"{path.name}: {first}"


def test_gate_needs_its_loading_play(tmp_path):
    """Copying only the gate play (not the play before it that loads hostvars) fails loudly, not silently."""
    gate = yaml.safe_load((ROOT / "playbooks" / "boilerplate.yml").read_text())[-1]
    gate["vars_files"] = [str(ROOT / "playbooks" / "vars" / "inventory_schema.yml")]
    play = tmp_path / "gate-only.yml"
    play.write_text(yaml.safe_dump([gate]))
    run = ansible_playbook(*NOWHERE, str(play))
    assert_refused_untouched(run, "hostvars is not defined yet: import playbooks/boilerplate.yml whole")


def test_host_keys_are_checked_except_in_the_lab():
    cfg = (ROOT / "ansible.cfg").read_text()
    assert "\nhost_key_checking = true\n" in cfg
    lab = yaml.safe_load((ROOT / "inventories" / "lab" / "group_vars" / "all.yml").read_text())
    assert lab["ansible_host_key_checking"] is False
    for inventory in (ROOT / "inventories").iterdir():
        if inventory.name != "lab":
            text = "".join(p.read_text() for p in inventory.rglob("*.yml"))
            assert "host_key_checking" not in text and "StrictHostKeyChecking=no" not in text, inventory
