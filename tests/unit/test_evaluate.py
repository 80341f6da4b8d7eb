"""Upgrade planning (module_utils/rackwright_evaluate.py) on real inputs: distro-info-data's debian.csv, apt's
simulated dist-upgrade, a health record captured from the lab; fill forecasts only where the history, the fit
and the level all say so. The whole evaluation runs on the lab (tests/lab/test_evaluate_lab.py)."""

import datetime
import json

import pytest
from conftest import FIXTURES

from ansible_collections.rackwright.infra.plugins.filter.rackwright_evaluate import evaluation
from ansible_collections.rackwright.infra.plugins.module_utils import rackwright_evaluate as evaluate

CSV = (FIXTURES / "evaluate" / "distro-info-data-0.58+deb12u6-debian.csv").read_text()
APT = (FIXTURES / "evaluate" / "apt-get-s-dist-upgrade-debian12.txt").read_text()
TODAY = datetime.date(2026, 12, 7)
GIB = 2**30


def history(days, used_gib, size_gib=10, mount="/srv/data", start="2026-11-01T00:00:00+00:00"):
    """Samples DAYS apart (a list of offsets in days) with USED_GIB used of SIZE_GIB."""
    t0 = datetime.datetime.fromisoformat(start)
    return [{"time": (t0 + datetime.timedelta(days=d)).isoformat(),
             "filesystems": {mount: {"size": size_gib * GIB, "used": int(u * GIB)}}}
            for d, u in zip(days, used_gib, strict=True)]  # fmt: skip


def test_debian_12_support_dates_come_from_distro_info_data_named_as_the_source():
    support = evaluate.distro_support(CSV, "12.12", "distro-info-data 0.58+deb12u6 on web1")
    assert (support["codename"], support["eol"], support["eol_lts"]) == (
        "Bookworm",
        "2026-07-11",
        "2028-06-30",
    )
    rows = {r["item"]: r for r in evaluate.support_rows(support, TODAY)}
    assert rows["os eol"]["when"] == "now" and rows["os eol"]["severity"] == "high"
    assert rows["os eol"]["reason"] == "Debian 12 (Bookworm): regular (security) support ended 2026-07-11"
    assert rows["os eol_lts"]["when"] == "watch" and rows["os eol_lts"]["date"] == "2028-06-30"
    assert {r["evidence"] for r in rows.values()} == {"distro-info-data 0.58+deb12u6 on web1"}
    assert evaluate.distro_support(CSV, "bookworm", "x")["version"] == "12"
    assert evaluate.distro_support(CSV, "99", "x") is None
    assert evaluate.support_rows(None, TODAY)[0]["severity"] == "unknown"


def test_pending_and_security_updates_from_apts_simulation():
    updates = evaluate.apt_simulation(APT)
    assert len(updates["pending"]) == 144 and len(updates["security"]) == 93
    assert "apt" in updates["security"] and "bash" not in updates["security"]
    rows = evaluate.updates_rows(updates["pending"], updates["security"])
    assert [(r["when"], r["item"]) for r in rows] == [
        ("now", "security updates"),
        ("this quarter", "updates"),
    ]
    assert rows[1]["reason"].startswith("51 other update(s) pending")
    assert evaluate.apt_simulation("Reading package lists...\n") == {"pending": [], "security": []}


def test_needrestart_batch_output_names_the_reboot_and_the_services():
    # needrestart -b's batch format (needrestart's README, "Batch mode").
    out = ("NEEDRESTART-VER: 3.6\nNEEDRESTART-KCUR: 6.1.0-37-amd64\nNEEDRESTART-KEXP: 6.1.0-41-amd64\n"
           "NEEDRESTART-KSTA: 3\nNEEDRESTART-SVC: ssh.service\nNEEDRESTART-SVC: cron.service\n")  # fmt: skip
    rows = {r["item"]: r for r in evaluate.restart_rows(out)}
    assert "older than the installed 6.1.0-41-amd64" in rows["reboot"]["reason"]
    assert rows["restarts"]["reason"] == "2 service(s) run old libraries: cron.service, ssh.service"
    assert evaluate.restart_rows("NEEDRESTART-VER: 3.6\nNEEDRESTART-KSTA: 1\n") == []
    assert evaluate.restart_rows(None)[0]["severity"] == "unknown"


def test_the_kernel_build_date_is_read_from_debians_proc_version():
    text = "Linux version 6.1.0-41-amd64 (debian-kernel@lists.debian.org) (gcc-12 (Debian 12.2.0-14+deb12u1) 12.2.0) #1 SMP PREEMPT_DYNAMIC Debian 6.1.158-1 (2025-11-09)\n"  # noqa: E501
    assert evaluate.kernel_build_date(text) == "2025-11-09"
    assert (
        evaluate.kernel_rows("2026-11-09", TODAY) == []
        and evaluate.kernel_build_date("Linux version x #1") is None
    )
    assert evaluate.kernel_rows("2025-12-31", TODAY)[0]["reason"].endswith("341 days ago")


def test_a_filesystem_growing_steadily_past_half_full_gets_a_fill_date():
    samples = history([0, 1, 2, 3, 4, 5], [6.0, 6.2, 6.4, 6.6, 6.8, 7.0])  # 0.2 GiB/day, 70 % full
    forecast = evaluate.fill_forecast(samples, "/srv/data")
    assert forecast["date"] == "2026-11-21" and forecast["days"] == 15.0 and forecast["r2"] == 1.0
    [row] = evaluate.fill_rows([forecast])
    assert (row["when"], row["severity"], row["item"]) == ("now", "high", "filesystem /srv/data")
    assert "70% full, growing 204.8 MiB/day over 5.0 days" in row["reason"]


@pytest.mark.parametrize(
    ("days", "used", "reason"),
    [
        ([0, 1], [6.0, 6.5], "2 sample(s) in the history, 3 needed: no forecast"),
        ([0, 0.1, 0.2], [6.0, 6.1, 6.2], "the history spans 0.20 days, 1.0 needed: no forecast"),
        ([0, 1, 2, 3], [7.0, 6.9, 6.8, 6.7], "use is not growing: no fill date"),
        (
            [0, 1, 2, 3, 4],
            [6.0, 8.0, 6.1, 8.1, 6.3],
            "the growth is irregular (r^2 0.01 < 0.8): no fill date",
        ),
        ([0, 1, 2, 3], [1.0, 1.5, 2.0, 2.5], "25% full, under the 50% level: no fill date"),
    ],
)
def test_no_fill_date_unless_the_history_the_fit_and_the_level_all_say_so(days, used, reason):
    forecast = evaluate.fill_forecast(history(days, used), "/srv/data")
    assert forecast["date"] is None and forecast["reason"] == reason
    assert evaluate.fill_rows([forecast]) == []


def test_a_host_with_no_history_gets_no_invented_forecast():
    facts = {"updates": {"pending": [], "security": []}, "distro_csv": CSV, "os_version": "12.12",
             "distro_source": "distro-info-data on web1", "needrestart": "NEEDRESTART-KSTA: 1\n",
             "cpus": 2}  # fmt: skip
    health = json.loads((FIXTURES / "evaluate" / "health-record-lab-new-server.json").read_text())
    result = evaluation(facts, health, [], TODAY.isoformat())
    assert result["forecasts"] == []
    assert not [r for r in result["plan"] if r["item"].startswith("filesystem")]
    one = history([0], [9.0])
    [forecast] = evaluation(facts, health, one, TODAY.isoformat())["forecasts"]
    assert forecast["date"] is None and forecast["points"] == 1
    plan = result["plan"]
    assert [r["when"] for r in plan] == sorted((r["when"] for r in plan), key=evaluate.WHEN.index)
    assert plan[0]["item"] == "os eol" and evaluate.status(plan) == "critical"
    bios = next(r for r in plan if r["item"] == "bios")
    assert bios["reason"].startswith("BIOS SeaBIOS 1.16.2-debian-1.16.2-1 is dated 2014-04-01")
    report = evaluate.report_markdown({"host": "new-server", "status": "critical", "details": result})
    assert "## now" in report and "LTS until 2028-06-30 (source: distro-info-data on web1)" in report


def test_bad_input_is_refused_with_what_was_expected():
    with pytest.raises(Exception, match="expected rackwright.infra.evaluate_facts' result"):
        evaluation("not facts")
    assert evaluate.history('{"time": "2026-01-01"}\nnot json\n[1]\n', 5) == [{"time": "2026-01-01"}]
    assert evaluate.history('{"time": "t"}\n', 0) == []


def test_an_apt_list_that_is_gone_or_dangling_is_left_out_of_the_lists_age(tmp_path):
    # A file: source's list is a symlink into its repository; with the repository removed it dangles (the
    # lab's apt-repo off left one, and evaluate failed on it with ENOENT).
    from ansible_collections.rackwright.infra.plugins.modules import evaluate_facts

    kept = tmp_path / "deb.example_dists_bookworm_main_binary-amd64_Packages"
    kept.write_text("Package: x\n")
    dangling = tmp_path / "_srv_repo_._Packages"
    dangling.symlink_to(tmp_path / "gone" / "Packages")
    assert evaluate_facts._mtime(str(kept)) == kept.stat().st_mtime
    assert evaluate_facts._mtime(str(dangling)) is None
    assert evaluate_facts._mtime(str(tmp_path / "never-there")) is None
