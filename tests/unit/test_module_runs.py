"""A health sweep costs one module run per host (issue 15): counted by the progress callback, which records in
every run's progress.json how many modules each host ran (its round trips), on a real ansible-playbook run of
the hardware_health role against two hosts (local connections: the count is the same over SSH)."""

import json
import os
import subprocess
import sys

import pytest
from conftest import ROOT

from ansible_collections.rackwright.infra.plugins.plugin_utils.rackwright_progress import module_runs

PLAYBOOK = """
- name: A health sweep of two hosts
  hosts: all
  gather_facts: false
  roles:
    - role: rackwright.infra.hardware_health
      vars:
        hardware_health_result_dir: "{result_dir}"
"""


def sweep(tmp_path, result_dir=""):
    """Run the role on rack-a and rack-b; their module runs as the run's progress.json counts them."""
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(
        f"rack-a ansible_connection=local ansible_python_interpreter={sys.executable}\n"
        f"rack-b ansible_connection=local ansible_python_interpreter={sys.executable}\n"
    )
    playbook = tmp_path / "sweep.yml"
    playbook.write_text(PLAYBOOK.format(result_dir=result_dir))
    runs = tmp_path / "runs"
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    env["RACKWRIGHT_RUNS_DIR"] = str(runs)
    cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", str(inventory)]
    cmd += ["-e", json.dumps({"rackwright_reports_dir": str(tmp_path / "reports")}), str(playbook)]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    record = json.loads((runs / "latest" / "progress.json").read_text())
    assert record["status"] == "succeeded"
    return record["module_runs"], tmp_path / "reports"


def test_a_health_sweep_is_one_module_run_per_host(tmp_path):
    runs, reports = sweep(tmp_path)
    assert runs == {"rack-a": 1, "rack-b": 1}
    for host in ("rack-a", "rack-b"):  # and the controller did the rest: the record and the history
        assert json.loads((reports / "health" / f"{host}.json").read_text())["kind"] == "health"
        assert (reports / "history" / f"{host}.jsonl").read_text().count("\n") == 1


def test_a_copy_of_the_result_on_the_host_costs_two_more(tmp_path):
    runs, _reports = sweep(tmp_path, result_dir=str(tmp_path / "state"))
    assert runs == {"rack-a": 3, "rack-b": 3}
    assert json.loads((tmp_path / "state" / "latest.json").read_text())["host"] in ("rack-a", "rack-b")


@pytest.mark.parametrize(
    ("action", "delegated", "result", "outcome", "count"),
    [
        ("rackwright.infra.health_sweep", False, {"changed": False}, "ok", 1),
        ("ansible.builtin.copy", True, {"changed": True}, "ok", 0),  # the controller's work
        ("ansible.builtin.set_fact", False, {}, "ok", 0),
        ("assert", False, {}, "failed", 0),
        ("ansible.builtin.stat", False, {"skipped": True}, "skipped", 0),
        ("ansible.builtin.template", False, {"results": [{}, {"skipped": True}, {}]}, "ok", 2),
        ("ansible.builtin.command", False, {"rc": 1}, "failed", 1),
        ("ansible.builtin.command", False, {"attempts": 1}, "retry", 1),
    ],
)
def test_what_counts_as_a_module_run(action, delegated, result, outcome, count):
    assert module_runs(action, delegated, result, outcome) == count
