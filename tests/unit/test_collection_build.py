"""The collection as a user gets it: `ansible-galaxy collection build`, an offline install into an empty
directory, and a playbook run from a scratch directory outside the repository, with neither the repository's
ansible.cfg nor its collections path in reach."""

import json
import os
import subprocess
import sys
import tarfile

import pytest
import yaml
from conftest import FIXTURES, ROOT

BIN = os.path.dirname(sys.executable)
GALAXY = yaml.safe_load((ROOT / "galaxy.yml").read_text(encoding="utf-8"))

PLAYBOOK = """
- name: Health verdicts from saved tool output, through the installed collection
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Judge saved smartctl output
      rackwright.infra.disk_health:
        from_files: {disks}
      register: disks
    - name: Judge a saved /proc/mdstat
      rackwright.infra.raid_health:
        from_files: {raid}
      register: raid
    - name: Combine them with the collection's filters
      ansible.builtin.debug:
        msg:
          summary: "{{{{ {{'disk': disks, 'raid': raid}} | rackwright.infra.health_summary }}}}"
          worst: "{{{{ disks.disks | rackwright.infra.worst_health }}}}"
"""


def run(cmd, cwd, env):
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, f"{cmd}\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """Build the tarball and install it offline into an empty directory; (tarball, collections dir, env)."""
    scratch = tmp_path_factory.mktemp("scratch")
    dist, collections = scratch / "dist", scratch / "collections"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}  # the Makefile exports some
    env.update(ANSIBLE_COLLECTIONS_PATH=str(collections), ANSIBLE_NOCOLOR="1", HOME=str(scratch))
    galaxy = os.path.join(BIN, "ansible-galaxy")
    run([galaxy, "collection", "build", str(ROOT), "--output-path", str(dist)], scratch, env)
    tarball = dist / f"{GALAXY['namespace']}-{GALAXY['name']}-{GALAXY['version']}.tar.gz"
    assert tarball.is_file(), sorted(p.name for p in dist.iterdir())
    run([galaxy, "collection", "install", "--offline", "-p", str(collections), str(tarball)], scratch, env)
    return tarball, collections, env, scratch


def test_tarball_holds_the_collection_and_leaves_out_the_rest(installed):
    tarball = installed[0]
    with tarfile.open(tarball) as tar:
        names = set(tar.getnames())
    for needed in (
        "MANIFEST.json",
        "LICENSE",
        "meta/runtime.yml",
        "plugins/modules/disk_health.py",
        "plugins/doc_fragments/from_files.py",  # the modules' documentation extends it
        "plugins/module_utils/rackwright_health.py",
        "plugins/filter/rackwright_health.py",
        "roles/hardware_health/tasks/main.yml",
        "roles/common/tasks/check_vars.yml",  # every role entry point imports it
        "plugins/filter/rackwright_role_vars.py",
        "playbooks/site.yml",
        "playbooks/vars/targets.yml",
    ):
        assert needed in names, needed
    for left_out in (
        "ansible_collections",
        "lab",
        "bench",
        "scripts",
        "molecule",
        ".config",
        "tests/lab",
        ".venv",
    ):
        assert not any(n == left_out or n.startswith(left_out + "/") for n in names), left_out
    manifest = json.loads(tar_member(tarball, "MANIFEST.json"))["collection_info"]
    assert manifest["license"] == ["GPL-3.0-or-later"]
    assert set(manifest["dependencies"]) == {"ansible.posix", "community.crypto", "community.general"}


def tar_member(tarball, name):
    with tarfile.open(tarball) as tar:
        return tar.extractfile(name).read().decode()


def test_installed_collection_runs_from_a_scratch_directory(installed):
    collections, env, scratch = installed[1:]
    galaxy = os.path.join(BIN, "ansible-galaxy")
    listed = run([galaxy, "collection", "list", "--format", "json"], scratch, env)
    found = [path for path, names in json.loads(listed.stdout).items() if "rackwright.infra" in names]
    assert found == [str(collections / "ansible_collections")], found  # the installed copy, nothing else
    playbook = scratch / "health.yml"
    playbook.write_text(
        PLAYBOOK.format(
            disks=json.dumps(
                [
                    str(FIXTURES / "smartctl" / "sata-hdd-reallocated-sectors-304.json"),
                    str(FIXTURES / "smartctl" / "nvme-healthy-samsung-970-evo-plus.json"),
                ]
            ),
            raid=json.dumps([str(FIXTURES / "mdstat" / "raid5-failed-member-degraded.txt")]),
        )
    )
    env = dict(
        env,
        ANSIBLE_STDOUT_CALLBACK="json",
        ANSIBLE_PYTHON_INTERPRETER=sys.executable,
        ANSIBLE_LOCALHOST_WARNING="0",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="0",
    )
    cmd = [os.path.join(BIN, "ansible-playbook"), "-i", "localhost,", "-c", "local", str(playbook)]
    proc = run(cmd, scratch, env)
    tasks = json.loads(proc.stdout[proc.stdout.index("{") :])["plays"][0]["tasks"]
    disks, raid, combined = (task["hosts"]["localhost"] for task in tasks)
    assert disks["health"] == "warning" and [d["health"] for d in disks["disks"]] == ["warning", "ok"]
    assert raid["health"] == "critical"
    assert combined["msg"]["worst"] == "warning"
    assert combined["msg"]["summary"]["health"] == "critical"
    assert any(r.startswith("disk: ") for r in combined["msg"]["summary"]["reasons"])


ROLE_PLAYBOOK = """
- name: The hardware_health role from the installed collection, judging a customer's saved tool output
  hosts: localhost
  gather_facts: false
  roles:
    - role: rackwright.infra.hardware_health
      vars:
        hardware_health_saved_output: {saved}
        hardware_health_result_dir: {state}
        rackwright_reports_dir: {reports}
"""


def test_installed_hardware_health_role_judges_saved_output(installed):
    """The role, not only its modules: every check reads the saved output it was given (none runs a tool: a
    check that did would answer unknown here, with no disks, BMC or GPU to ask), the verdicts combine, and the
    result record lands in the reports directory the run names."""
    collections, env, scratch = installed[1:]
    saved = {
        "disk": [
            str(FIXTURES / "smartctl" / "sata-hdd-reallocated-sectors-304.json"),
            str(FIXTURES / "smartctl" / "nvme-healthy-samsung-970-evo-plus.json"),
        ],
        "raid": [str(FIXTURES / "mdstat" / "raid5-failed-member-degraded.txt")],
        "bmc": [str(FIXTURES / "ipmitool" / "ipmitool-sdr-type-power-supply-csv.txt")],
        "gpu": [str(FIXTURES / "nvidia-smi" / "a100-sxm4-80gb-driver-535.xml")],
        "inventory": [str(FIXTURES / "dmidecode" / "dell-poweredge-r640.txt")],
    }
    state, reports = scratch / "host-state", scratch / "role-reports"
    playbook = scratch / "role.yml"
    playbook.write_text(ROLE_PLAYBOOK.format(saved=json.dumps(saved), state=state, reports=reports))
    env = dict(env, ANSIBLE_PYTHON_INTERPRETER=sys.executable, ANSIBLE_LOCALHOST_WARNING="0")
    env["ANSIBLE_INVENTORY_UNPARSED_WARNING"] = "0"
    cmd = [os.path.join(BIN, "ansible-playbook"), "-i", "localhost,", "-c", "local", str(playbook)]
    run(cmd, scratch, env)
    result = json.loads((state / "latest.json").read_text())
    checks = {check: verdict["health"] for check, verdict in result["checks"].items()}
    assert checks == {"disk": "warning", "raid": "critical", "bmc": "ok", "gpu": "ok"}
    assert {name: result["checks"][name]["sources"] for name in ("bmc", "raid")} == {
        name: saved[name] for name in ("bmc", "raid")
    }
    assert len(result["checks"]["disk"]["disks"]) == 2 and len(result["checks"]["gpu"]["gpus"]) == 1
    assert result["health"] == "critical" and result["not_applicable"] == []
    assert result["reasons"][0] == "disk: /dev/sda: reallocated sectors 304 > 0"
    # The R640's dmidecode cannot tell its PSUs' state (the BMC can): unknown, with the reason, never ok.
    assert (result["inventory"]["vendor"], result["inventory"]["model"]) == ("Dell Inc.", "PowerEdge R640")
    assert result["inventory"]["health"] == "unknown"
    record = json.loads((reports / "health" / "localhost.json").read_text())
    assert (record["kind"], record["host"], record["status"]) == ("health", "localhost", "critical")
    assert record["reasons"] == result["reasons"]
