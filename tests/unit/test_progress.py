"""The progress callback (plugins/callback/progress.py) and its state (plugin_utils/rackwright_progress.py):
phases in plain words, hosts done, an estimate from the work's own progress, what failed in one sentence,
a run that dies; then a real ansible-playbook run on localhost with the callback enabled."""

import json
import os
import re
import subprocess
import sys
import textwrap

import pytest
from conftest import ANSIBLE_PLAYBOOK, ROOT

from ansible_collections.rackwright.infra.plugins.plugin_utils import rackwright_progress as progress

PHASES = [
    {"title": "Checking the server's disks", "status": "Investigating"},
    {"title": "Locating the failed disk", "match": "^Locate", "status": "Identified"},
    {"title": "Rebuilding the array", "match": "rebuild", "status": "Monitoring"},
]
T0 = 1_800_000_000.0


def new_run(tmp_path):
    run = progress.Run(str(tmp_path / "run"), "incident_disk", run_id="r1", now=T0, pid=1)
    run.declare(PHASES)
    run.play("Handle a failed disk", ["new-server", "old-server"], now=T0)
    return run


def test_phases_move_forward_with_the_tasks_and_say_the_incident_status(tmp_path):
    run = new_run(tmp_path)
    assert run.state["incident_status"] == "Investigating"
    run.task("Check the RAID arrays", now=T0 + 5)
    assert run.state["phase"] == 0
    run.task("Locate the failed member by serial", now=T0 + 10)
    assert [p["state"] for p in run.state["phases"]] == ["done", "running", "pending"]
    assert run.state["incident_status"] == "Identified"
    run.task("Wait for the rebuild", now=T0 + 20)
    run.task("Locate it again", now=T0 + 30)  # phases never move back
    assert run.state["phase"] == 2 and run.state["incident_status"] == "Monitoring"
    run.result("new-server", "Wait for the rebuild", {"changed": False}, "ok", now=T0 + 31)
    run.finish({"new-server": {"ok": 9, "failures": 0, "unreachable": 0}}, now=T0 + 40)
    state = json.loads((tmp_path / "run" / "progress.json").read_text())
    assert state["status"] == "succeeded" and state["incident_status"] == "Resolved"
    assert state["summary"] == "Completed - step 3 of 3: Rebuilding the array; 1 of 2 host(s) done"
    html = (tmp_path / "run" / "index.html").read_text()
    assert "Resolved" in html and 'http-equiv="refresh"' not in html  # an ended run stops refreshing


def test_the_estimate_comes_from_the_rate_of_the_work_s_own_progress(tmp_path):
    run = new_run(tmp_path)
    run.task("Wait for the rebuild", now=T0)
    for seconds, percent in ((0, 10.0), (60, 20.0), (120, 30.0)):
        result = {"rackwright_progress": {"percent": percent, "what": "md127 rebuild"}}
        run.result("new-server", "Wait for the rebuild", result, "retry", now=T0 + seconds)
    estimate = run.state["progress"]
    assert estimate["percent"] == 30.0 and estimate["rate_per_min"] == 10.0
    assert estimate["eta"] == T0 + 120 + 7 * 60  # 70 % left at 10 %/min
    run.write(now=T0 + 121, force=True)
    summary = json.loads((tmp_path / "run" / "progress.json").read_text())["summary"]
    assert "new-server: md127 rebuild 30.0%, expected done " + progress.iso(T0 + 540) in summary
    assert progress.estimate([(T0, 40.0)], T0)["eta"] is None  # one sample: no rate, no invented end


def test_a_refused_argument_is_named():
    run = progress.Run("/nonexistent", "evaluate", run_id="r5", now=T0, pid=1)
    run.write = lambda *a, **k: True
    error = "argument 'evaluate_kernel_max_age_days' is of type str and we were unable to convert to int"
    refused = {"msg": f"Validation of arguments failed:\n{error}", "argument_errors": [error]}
    run.result("web1", "Validating arguments against arg spec 'main'", refused, "failed", now=T0)
    why = run.state["failures"][0]["why"]
    assert why.startswith(
        "Validation of arguments failed: argument 'evaluate_kernel_max_age_days' is of type str"
    )
    assert progress.one_sentence("Something failed:\n  the reason\nmore") == "Something failed: the reason"


def test_a_failure_is_said_in_one_sentence_and_fails_the_step(tmp_path):
    run = new_run(tmp_path)
    run.task("Locate the failed member", now=T0 + 1)
    why = "new-server: no member of md127 is missing or faulty\nTraceback (most recent call last): ..."
    run.result("new-server", "Locate the failed member", {"msg": why}, "failed", now=T0 + 2)
    run.finish({"new-server": {"ok": 3, "failures": 1, "unreachable": 0}}, now=T0 + 3)
    state = run.state
    assert state["status"] == "failed" and state["incident_status"] == "Identified"
    assert [p["state"] for p in state["phases"]] == ["done", "failed", "pending"]
    assert state["failures"][0]["why"] == "new-server: no member of md127 is missing or faulty"
    html = (tmp_path / "run" / "index.html").read_text()
    assert "no member of md127 is missing or faulty" in html and "Traceback" not in html


def test_each_batch_of_a_rolling_play_goes_through_the_phases_and_only_the_last_phase_resolves(tmp_path):
    run = progress.Run(str(tmp_path / "run"), "maintenance", run_id="r3", now=T0, pid=1)
    gates = {"title": "Gates", "match": "^Maintain the hosts", "status": "x"}
    run.declare([{"title": "Inventory"}, gates, {"title": "Updates", "match": "^Install"},
                 {"title": "Reboot", "match": "^Reboot"}])  # fmt: skip
    run.play("Maintain the hosts in rolling batches", ["a", "b"], now=T0 + 1)  # its name starts a phase
    assert run.state["phase"] == 1
    run.task("Install the updates", now=T0 + 2)
    run.result("a", "Install the updates", {"changed": True}, "ok", now=T0 + 2)
    run.play("Maintain the hosts in rolling batches", ["a", "b"], now=T0 + 3)  # the second batch starts over
    assert (
        run.state["phase"] == 1
        and run.state["batches"]["Maintain the hosts in rolling batches"]["batch"] == 2
    )
    assert [p["state"] for p in run.state["phases"]] == ["done", "running", "pending", "pending"]
    assert run.state["hosts"]["a"]["state"] == "done" and run.state["hosts"]["b"]["state"] == "waiting"
    run.task("Install the updates", now=T0 + 4)
    run.finish({"a": {"failures": 0}, "b": {"failures": 0}}, now=T0 + 5)
    # the run ended before the reboot phase: not Resolved, and the phase says it was not needed
    assert [p["state"] for p in run.state["phases"]] == ["done", "done", "done", "skipped"]
    assert run.state["incident_status"] == "x"


def test_a_run_that_dies_says_so(tmp_path):
    run = new_run(tmp_path)
    run.task("Locate the failed member", now=T0 + 1)
    run.died("ansible-playbook ended before its play recap", now=T0 + 2)
    assert progress.read_run(str(tmp_path / "run"))["status"] == "interrupted"
    killed = progress.Run(str(tmp_path / "killed"), "maintenance", run_id="r2", now=T0, pid=1)
    killed.write(now=T0, force=True)  # then SIGKILL: nothing rewrites it
    assert progress.read_run(str(tmp_path / "killed"), now=T0 + 30)["status"] == "running"
    assert progress.read_run(str(tmp_path / "killed"), now=T0 + progress.STALE_AFTER + 1)["status"] == "died"


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        ([{"match": "x"}], r"rackwright_phases\[0\]: expected \{title, match, status\}"),
        (["ok", {"title": "t", "match": "("}], r"rackwright_phases\[1\]\.match: not a regular expression"),
    ],
)
def test_bad_phases_are_named(spec, error):
    with pytest.raises(ValueError, match=error):
        progress.phases_from(spec)


INNER = """\
- name: Get ready
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Prepare
      ansible.builtin.debug:
        msg: ready
"""
PLAYBOOK = """\
- name: First, as every entry playbook does, an import that carries the phases
  ansible.builtin.import_playbook: inner.yml
  vars:
    rackwright_phases:
      - {title: Getting ready, status: Investigating}
      - {title: Doing the work, match: "^Work", status: Monitoring}

- name: The work
  hosts: "{{ 'localhost' if not refuse | default(false) | bool else no_such_host_variable }}"
  gather_facts: false
  tasks:
    - name: Work in three steps
      ansible.builtin.debug:
        var: rackwright_progress
      vars:
        rackwright_progress: {percent: "{{ item }}", what: copy}
      loop: [10, 50, 90]
    - name: Work that fails
      ansible.builtin.command:
        argv: [/bin/false]
      when: fail_it | default(false) | bool
"""


def playbook(tmp_path, *args):
    book = tmp_path / "playbooks" / "demo.yml"
    book.parent.mkdir(exist_ok=True)
    book.write_text(PLAYBOOK)
    (book.parent / "inner.yml").write_text(INNER)
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    del env["RACKWRIGHT_RUNS_DIR"]  # the default: runs/ in the reports directory
    cmd = [
        ANSIBLE_PLAYBOOK,
        "-i",
        "localhost,",
        "-c",
        "local",
        "-e",
        f"ansible_python_interpreter={sys.executable}",
    ]
    proc = subprocess.run(
        [*cmd, *args, str(book)], cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=120
    )
    runs = tmp_path / "reports" / "runs"  # reports/ beside the playbook's playbooks/ directory
    return proc, runs


def test_a_real_run_writes_its_page_beside_the_playbooks(tmp_path):
    proc, runs = playbook(tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "callback" not in proc.stderr.lower(), proc.stderr  # no callback warning
    state = json.loads((runs / "latest" / "progress.json").read_text())
    assert state["status"] == "succeeded" and state["playbook"] == "demo"
    assert [p["state"] for p in state["phases"]] == ["done", "done"]
    assert state["hosts"] == {"localhost": {"state": "done", "task": "Work in three steps"}}
    assert state["recap"]["localhost"]["ok"] >= 2
    assert re.fullmatch(r"\d{8}T\d{6}Z-demo-\d+", state["run_id"])
    failed, runs = playbook(tmp_path, "-e", "fail_it=true")
    assert failed.returncode == 2
    state = json.loads((runs / "latest" / "progress.json").read_text())
    assert state["status"] == "failed" and state["failures"][0]["task"] == "Work that fails"
    assert state["phases"][1]["state"] == "failed" and len(list(runs.iterdir())) == 3  # two runs and latest
    html = (runs / "latest" / "index.html").read_text()
    assert "Work that fails" in html and "Failed" in html
    assert textwrap.dedent(html).count("<script>") == 1  # self-contained: no external script or style
    assert not re.search(r"(src|href)=\"https?:", html)
    refused, runs = playbook(tmp_path, "-e", "refuse=true")  # an error before any host: no callback event
    assert refused.returncode != 0
    state = json.loads((runs / "latest" / "progress.json").read_text())
    assert state["status"] == "failed" and "no_such_host_variable" in state["failures"][0]["why"], state


def test_hosts_only_the_inventory_check_listed_are_not_counted(tmp_path):
    run = progress.Run(str(tmp_path / "run"), "maintenance", run_id="r4", now=T0, pid=1)
    run.play("Validate the inventory", ["a", "b", "backup-host"], now=T0)
    run.result("a", "Check", {}, "ok", now=T0)  # a host the first play worked on stays
    run.play("Maintain the hosts", ["b"], now=T0 + 1)
    assert sorted(run.state["hosts"]) == ["a", "b"] and run.state["hosts"]["a"]["state"] == "done"
