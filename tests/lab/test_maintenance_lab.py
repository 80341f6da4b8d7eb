"""playbooks/maintenance.yml on the lab, after site.yml (backup jobs, new-server's RAID1): a stale backup
stops the roll at the first host, naming it and the gate; check mode lists what a run would update, restart
and reboot, changing nothing; then the roll installs the lab repository's updates
on both hosts, restarts what needrestart names, leaves new-server's reboot pending outside its window,
changes nothing when run again, and reboots new-server only, once the window is open (an override stands in
for the clock).

Marked breaks_lab: it reboots new-server, so it runs after every other test."""

import json
import re
import time

import pytest
from conftest import ROOT, SITE_WITH_PROOF, ensure_lab, extra, guest, lab, play_recap, playbook

pytestmark = [pytest.mark.lab, pytest.mark.breaks_lab]
HOSTS = ("old-server", "new-server")
CONFIRM = ["-e", "confirm_maintenance=" + ",".join(HOSTS)]
# The full gates (hardware_health and acceptance included) run in the main roll; the other runs keep to the
# quick ones, to keep the lab's time down.
QUICK = extra({"maintenance_gates": ["free_space", "backup", "raid"]})
VERSION = "dpkg-query --showformat='${Version}' --show rackwright-lab-service"
UNDO = (
    "systemctl disable -q --now rackwright-lab-service; NEEDRESTART_SUSPEND=1 apt-get purge -y -q "
    "rackwright-lab-service rackwright-lab-firmware >/dev/null 2>&1; rm -f /run/reboot-required*"
)
SERVICE_PID = "systemctl show -p MainPID --value rackwright-lab-service"
# The controller's writes (publish_result: the record, its renderings), which a run reports as changes.
CONTROLLER_WRITES = ("Publish the result record", "Publish the result's renderings beside the record")


def record(host):
    return json.loads((ROOT / "reports" / "maintenance" / f"{host}.json").read_text())


def closed_window():
    """-e of a window that is closed while the tests run (an hour, twelve hours from now): the lab's own
    window (01:00-05:00 UTC) is open when CI happens to run at night, and "outside the window" must not depend
    on the clock. The reboot test opens it with maintenance_window_override."""
    start = (time.gmtime().tm_hour + 12) % 24
    window = {
        "days": "daily",
        "start": f"{start:02d}:00",
        "end": f"{(start + 1) % 24:02d}:00",
        "timezone": "UTC",
    }
    return extra({"rackwright_maintenance_window": [window]})


def maintain(*args):
    return playbook("playbooks/maintenance.yml", *CONFIRM, *closed_window(), *args, timeout=1800)


def changed_tasks(run, host):
    """The tasks of RUN that report HOST changed: "TASK [name]" headers and their "changed: [host" lines."""
    changed = []
    for block in run.stdout.split("\nTASK [")[1:]:
        name = block.split("]", 1)[0]
        if re.search(rf"^changed: \[{re.escape(host)}[\] ]", block, re.M):
            changed.append(name)
    return changed


@pytest.fixture(scope="module")
def lab_repo(site_run):
    """Both hosts on the lab's apt repository with the 1.0 packages running and 1.1 offered; new-server also
    has the package whose upgrade asks for a reboot. On a lab restarted since the site run (a test that broke
    it), site.yml runs again: the gates need its backup jobs and new-server's RAID1."""
    if ensure_lab()["lab_id"] != site_run.lab_id:
        run = playbook(*SITE_WITH_PROOF, timeout=1800)
        assert run.returncode == 0, run.output[-5000:]
    for host in HOSTS:
        lab("apt-repo", host, "old", timeout=300)
        packages = "rackwright-lab-service" + (" rackwright-lab-firmware" if host == "new-server" else "")
        guest(host, f"NEEDRESTART_SUSPEND=1 DEBIAN_FRONTEND=noninteractive apt-get install -y -q {packages} "
                    ">/dev/null && systemctl enable -q --now rackwright-lab-service")  # fmt: skip
        lab("apt-repo", host, "new", timeout=300)
    yield
    for host in HOSTS:
        guest(host, UNDO)
        lab("apt-repo", host, "off")


def test_a_failing_gate_stops_the_roll_at_that_host(lab_repo):
    run = maintain(*QUICK, "-e", "maintenance_backup_max_age_hours=0")  # every backup is too old
    assert run.returncode != 0
    stopped = re.search(
        r"(\S+): maintenance stopped before the work, gate failed - backup: job \S+'s last backup is",
        run.output,
    )
    assert stopped, run.output[-3000:]
    first = stopped.group(1)
    [other] = set(HOSTS) - {first}
    assert record(first)["status"] == "critical"
    roll = run.stdout.split("PLAY [Maintain the hosts in rolling batches]", 1)[1]
    assert f"[{other}]" not in roll  # the roll stopped before the next host's batch
    # Nothing installed anywhere: the first host stopped at its gate, the other never began.
    for host in HOSTS:
        assert guest(host, VERSION) == "1.0"


def test_check_mode_lists_what_would_be_updated_restarted_and_rebooted_and_changes_nothing(lab_repo):
    pids = {host: guest(host, SERVICE_PID) for host in HOSTS}
    paths = {host: ROOT / "reports" / "maintenance" / f"{host}.json" for host in HOSTS}
    records = {host: path.exists() and path.read_text() for host, path in paths.items()}
    run = maintain(*QUICK, "--check")
    assert run.returncode == 0, run.output[-4000:]
    service = "would restart: rackwright-lab-service.service"  # the running unit the updated package ships
    for host, updates, reboot in (
        ("old-server", "rackwright-lab-service", "would not reboot: nothing asks for it"),
        ("new-server", "rackwright-lab-firmware, rackwright-lab-service", "would leave the reboot pending ("
         "the update of rackwright-lab-firmware (maintenance_reboot_packages)): "),
    ):  # fmt: skip
        said = run.stdout.split(f"{host}: check mode, nothing changed", 1)[1][:1500]
        assert f"would update: {updates}" in said and service in said and reboot in said, said
        assert guest(host, VERSION) == "1.0" and guest(host, SERVICE_PID) == pids[host]
        assert (paths[host].exists() and paths[host].read_text()) == records[host]  # check mode writes none


def test_the_roll_updates_restarts_and_leaves_the_reboot_for_the_window(lab_repo):
    pids = {host: guest(host, SERVICE_PID) for host in HOSTS}
    boots = {host: guest(host, "cat /proc/sys/kernel/random/boot_id") for host in HOSTS}
    run = maintain()
    assert run.returncode == 0, run.output[-4000:]
    for host in HOSTS:
        assert guest(host, VERSION) == "1.1"
        assert guest(host, SERVICE_PID) != pids[host]  # needrestart named it; the role restarted it
        assert "(deleted)" not in guest(host, f"readlink /proc/{guest(host, SERVICE_PID).strip()}/exe")
        assert (
            guest(host, "cat /proc/sys/kernel/random/boot_id") == boots[host]
        )  # outside the window: no reboot
        assert record(host)["details"]["restarted"] == ["rackwright-lab-service.service"]
    new = record("new-server")
    assert new["status"] == "warning" and new["details"]["reboot"].startswith("pending: "), new
    assert "a package asks for it (/run/reboot-required)" in new["reasons"][0]
    assert record("old-server")["details"]["reboot"] == "not needed"
    assert sorted(new["details"]["updated"]) == ["rackwright-lab-firmware", "rackwright-lab-service"]
    gates = {g["gate"]: g for g in new["details"]["gates"]["after"]}
    assert gates["services"]["ok"] and gates["raid"]["ok"] and gates["backup"]["ok"], gates


def test_a_second_run_changes_nothing(lab_repo):
    run = maintain(*QUICK)
    assert run.returncode == 0, run.output[-4000:]
    for host in HOSTS:
        # Nothing changes on the host; on the controller the record is rewritten, as it reports this run.
        changed = changed_tasks(run, host)
        assert all(name.endswith(CONTROLLER_WRITES) for name in changed), (changed, run.output[-4000:])
        assert play_recap(run, host)["changed"] == len(changed), run.output[-4000:]
        assert record(host)["details"]["updated"] == [] and record(host)["details"]["restarted"] == []


def test_the_reboot_happens_only_for_the_host_that_needs_it_inside_its_window(lab_repo):
    boots = {host: guest(host, "cat /proc/sys/kernel/random/boot_id") for host in HOSTS}
    run = maintain(*QUICK, "-e", "maintenance_window_override=lab test: the window is simulated")
    assert run.returncode == 0, run.output[-4000:]
    guest(
        "new-server", f"date -s @{time.time():.3f} >/dev/null"
    )  # the RTC counts whole seconds: the lab's clock back
    assert guest("new-server", "cat /proc/sys/kernel/random/boot_id") != boots["new-server"]
    assert guest("old-server", "cat /proc/sys/kernel/random/boot_id") == boots["old-server"]
    assert record("new-server")["details"]["reboot"].startswith("rebooted: a package asks for it")
    assert record("new-server")["status"] == "ok"
    assert guest("new-server", "test -e /run/reboot-required && echo yes || echo no").strip() == "no"
