"""molecule/base_os/lynis_report.py reads Lynis's report and log for Molecule's verify.

The log lines are real Lynis 3.0.8 output from the base_os container (Debian 12); the report
lines follow the format of the same run's /var/log/lynis-report.dat.
"""

import json

import pytest
from conftest import ROOT, load_script

lynis_report = load_script(ROOT / "molecule" / "base_os" / "lynis_report.py")

LOG = (
    "2026-12-01 08:18:23 Performing test ID KRNL-5820 (Checking core dumps configuration)\n"
    "2026-12-01 08:18:24 Hardening: assigned maximum number of hardening points for this"
    " item (1). Currently having 12 points (out of 16)\n"
    "2026-12-01 08:18:39 Performing test ID USB-3000 (Check for presence of USBGuard)\n"
    "2026-12-01 08:18:39 Hardening: assigned partial number of hardening points (0 of"
    " 8). Currently having 114 points (out of 132)\n"
    "2026-12-01 08:19:23 Performing test ID SSH-7408 (Check SSH specific defined options)\n"
    "2026-12-01 08:19:24 Hardening: assigned maximum number of hardening points for this"
    " item (3). Currently having 138 points (out of 159)\n"
    "2026-12-01 08:19:27 Hardening: assigned partial number of hardening points (1 of"
    " 3). Currently having 166 points (out of 189)\n"
    "2026-12-01 08:19:28 Hardening: assigned partial number of hardening points (0 of"
    " 3). Currently having 175 points (out of 201)\n"
)
REPORT = (
    "# Lynis Report\n"
    "lynis_version=3.0.8\n"
    "warning[]=PKGS-7388|Can't find any security repository in /etc/apt/sources.list or"
    " sources.list.d directory|-|-|\n"
    "suggestion[]=DEB-0810|Install apt-listbugs to display a list of critical bugs prior"
    " to each APT installation.|-|-|\n"
    "hardening_index=83\n"
)


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_summary_reads_index_findings_and_lost_points(tmp_path):
    result = lynis_report.summary(write(tmp_path, "report.dat", REPORT), write(tmp_path, "lynis.log", LOG))
    assert result["hardening_index"] == 83
    assert result["lynis_version"] == "3.0.8"
    assert result["warning"] == [
        "PKGS-7388: Can't find any security repository in /etc/apt/sources.list or sources.list.d directory"
    ]
    assert result["suggestion"] == [
        "DEB-0810: Install apt-listbugs to display a list of critical bugs prior to each APT installation."
    ]
    # Full marks (KRNL-5820) lose nothing; partial marks add up per test, largest first.
    assert result["lost_points"] == {"USB-3000": 8, "SSH-7408": 5}
    assert list(result["lost_points"]) == ["USB-3000", "SSH-7408"]


def test_summary_without_an_index_says_lynis_did_not_finish(tmp_path):
    report = write(tmp_path, "report.dat", REPORT.replace("hardening_index=83\n", ""))
    with pytest.raises(SystemExit, match="no hardening_index in .*report.dat; did Lynis finish"):
        lynis_report.summary(report, write(tmp_path, "lynis.log", LOG))


def test_sysctl_compares_the_role_file_with_the_profile(tmp_path):
    profile = write(
        tmp_path,
        "default.prf",
        # Real lines of Lynis 3.0.8's default.prf.
        "config-data=sysctl;kernel.kptr_restrict;2;1;Restrict access to kernel symbols;"
        "sysctl -a;url:https;//kernel.org/doc/Documentation/sysctl/kernel.txt;"
        "category:security;\n"
        "config-data=sysctl;fs.protected_symlinks;1;1;"
        "Restrict symlink following behavior;sysctl -a;url:https;"
        "//www.kernel.org/doc/Documentation/sysctl/fs.txt;category:security;\n"
        "config-data=sysctl;net.ipv4.tcp_timestamps;0|1;1;"
        "Disable TCP time stamps or enable them with different offsets;-;"
        "category:security;\n"
        "config-data=sysctl;kernel.exec-shield;1;1;No description;sysctl -a;url:https;"
        "//kernel.org/doc/Documentation/sysctl/kernel.txt;category:security;\n"
        "config-data=sysctl;security.bsd.see_other_uids;0;1;"
        "Users only see their own processes;sysctl -a;-;category:security;\n",
    )
    role = write(
        tmp_path, "90-rackwright.conf", "# managed\nkernel.kptr_restrict = 1\nfs.protected_symlinks = 1\n"
    )
    result = lynis_report.sysctl(profile, role)
    # Keys this kernel does not have (exec-shield, the BSD ones) are not checked.
    assert result["checked"] == ["kernel.kptr_restrict", "fs.protected_symlinks", "net.ipv4.tcp_timestamps"]
    assert result["differ"] == {
        "kernel.kptr_restrict": {"expected": "2", "role": "1"},
        "net.ipv4.tcp_timestamps": {"expected": "0|1", "role": "(not set)"},
    }


def test_command_line_prints_json_and_rejects_bad_usage(tmp_path, capsys, monkeypatch):
    report, log = write(tmp_path, "report.dat", REPORT), write(tmp_path, "lynis.log", LOG)
    monkeypatch.setattr("sys.argv", ["lynis_report.py", "summary", report, log])
    lynis_report.main()
    assert json.loads(capsys.readouterr().out)["hardening_index"] == 83
    monkeypatch.setattr("sys.argv", ["lynis_report.py", "summary", report])
    with pytest.raises(SystemExit, match="usage: lynis_report.py summary REPORT LOG"):
        lynis_report.main()
