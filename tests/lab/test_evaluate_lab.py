"""playbooks/evaluate.yml on the lab: new-server's plan names Debian 12's end of regular support and of LTS
from its own distro-info-data, the updates the lab's apt repository offers, and a fill date for a filesystem
whose seeded history grows (a small ext4 volume past half full); old-server, with no history, gets no
forecast."""

import datetime
import json

import pytest
from conftest import ROOT, ensure_lab, guest, lab, playbook

pytestmark = pytest.mark.lab
MOUNT = "/mnt/evaluate-test"
# A 64 MiB ext4 volume on a loop device, filled to about 60 %: a filesystem evaluate samples like any other.
VOLUME = (
    f"truncate -s 64M /var/tmp/evaluate-test.img && mkfs.ext4 -q -F /var/tmp/evaluate-test.img && "
    f"mkdir -p {MOUNT} && mount -o loop /var/tmp/evaluate-test.img {MOUNT} && "
    f"dd if=/dev/zero of={MOUNT}/fill bs=1M count=36 status=none && sync && "
    f"stat -f -c '%b %f %S' {MOUNT}"
)
UNDO = (
    f"umount {MOUNT} 2>/dev/null; rm -rf {MOUNT} /var/tmp/evaluate-test.img; "
    "systemctl disable -q --now rackwright-lab-service 2>/dev/null; "
    "NEEDRESTART_SUSPEND=1 apt-get purge -y -q rackwright-lab-service rackwright-lab-firmware "
    ">/dev/null 2>&1; "
    "rm -f /run/reboot-required /run/reboot-required.pkgs; true"
)
HISTORY = ROOT / "reports" / "history"
GROWTH = 2 * 2**20  # bytes a day in the seeded history


def record(host):
    return json.loads((ROOT / "reports" / "evaluate" / f"{host}.json").read_text())


@pytest.fixture(scope="module")
def evaluated(lab_session):
    """new-server with the lab's 1.0 packages installed and 1.1 offered, the test volume and six days of
    seeded history on the line its present use continues; old-server with no history. All undone after."""
    ensure_lab()
    guest("new-server", UNDO)
    lab("apt-repo", "new-server", "old", timeout=300)
    guest("new-server", "NEEDRESTART_SUSPEND=1 DEBIAN_FRONTEND=noninteractive apt-get install -y -q "
                        "rackwright-lab-service rackwright-lab-firmware >/dev/null")  # fmt: skip
    lab("apt-repo", "new-server", "new", timeout=300)
    blocks, free, block = (int(x) for x in guest("new-server", VOLUME).split())
    size, used = blocks * block, (blocks - free) * block
    now = datetime.datetime.now(datetime.UTC)
    seeded = [
        {"time": (now - datetime.timedelta(days=d)).isoformat(timespec="seconds"),
         "filesystems": {MOUNT: {"size": size, "used": used - d * GROWTH}}}
        for d in (6, 5, 4, 3, 2, 1)
    ]  # fmt: skip
    HISTORY.mkdir(parents=True, exist_ok=True)
    (HISTORY / "new-server.jsonl").write_text("".join(json.dumps(s) + "\n" for s in seeded))
    (HISTORY / "old-server.jsonl").unlink(missing_ok=True)
    run = playbook("playbooks/evaluate.yml", "--limit", "new-server,old-server", timeout=600)
    yield run, size, used
    guest("new-server", UNDO)
    lab("apt-repo", "new-server", "off")


def test_the_os_support_dates_come_from_the_hosts_distro_info_data(evaluated):
    run = evaluated[0]
    assert run.returncode == 0, run.output[-4000:]
    details = record("new-server")["details"]
    support = details["support"]
    assert (support["eol"], support["eol_lts"]) == ("2026-07-11", "2028-06-30")
    assert support["source"].startswith("distro-info-data 0.58+deb12u") and support["source"].endswith(
        "new-server"
    )
    rows = {r["item"]: r for r in details["plan"]}
    assert rows["os eol"]["reason"].startswith("Debian 12 (Bookworm): regular (security) support ")
    assert rows["os eol_lts"]["date"] == "2028-06-30" and rows["os eol_lts"]["evidence"] == support["source"]
    report = (ROOT / "reports" / "evaluate" / "new-server.md").read_text()
    assert "LTS until 2028-06-30 (source: distro-info-data" in report


def test_the_pending_updates_are_named(evaluated):
    rows = {r["item"]: r for r in record("new-server")["details"]["plan"]}
    assert rows["updates"]["reason"] == (
        "2 other update(s) pending: rackwright-lab-firmware, rackwright-lab-service"
    )
    assert rows["updates"]["when"] == "this quarter"


def test_a_growing_filesystem_gets_its_fill_date(evaluated):
    size, used = evaluated[1:]
    [forecast] = [f for f in record("new-server")["details"]["forecasts"] if f["mount"] == MOUNT]
    assert forecast["points"] == 7 and forecast["r2"] >= 0.99, forecast
    days_left = (size - used) / GROWTH
    expected = (datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=days_left)).date()
    assert abs((datetime.date.fromisoformat(forecast["date"]) - expected).days) <= 1, (forecast, expected)
    row = next(r for r in record("new-server")["details"]["plan"] if r["item"] == f"filesystem {MOUNT}")
    assert row["date"] == forecast["date"] and "growing 2.0 MiB/day" in row["reason"]


def test_a_host_with_no_history_gets_no_invented_forecast(evaluated):
    details = record("old-server")["details"]
    assert details["forecasts"] and all(f["date"] is None for f in details["forecasts"])
    assert {f["reason"] for f in details["forecasts"]} == {
        "1 sample(s) in the history, 3 needed: no forecast"
    }
    assert not [r for r in details["plan"] if r["item"].startswith("filesystem")]
    assert len((HISTORY / "old-server.jsonl").read_text().splitlines()) == 1
