"""Bad role input fails in the validation step, naming the variable and what was expected."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_role(role: str, extra_vars: list[str]) -> subprocess.CompletedProcess:
    """Run ROLE against localhost in check mode; validation fails before any change."""
    playbook = f"- hosts: localhost\n  gather_facts: false\n  roles: [{role}]\n"
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    cmd = [
        str(Path(sys.executable).parent / "ansible-playbook"),
        "-i",
        "localhost,",
        "-c",
        "local",
        "--check",
    ]
    for item in extra_vars:
        cmd += ["-e", item]
    cmd.append("/dev/stdin")
    return subprocess.run(
        cmd, input=playbook, cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=120
    )


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ('{"base_os_timezon": "Europe/Berlin"}', "unknown variable(s) ['base_os_timezon']"),
        ('{"base_os_sshd_port": "twenty-two"}', "base_os_sshd_port"),
        ('{"base_os_sshd_permit_root_login": "maybe"}', "base_os_sshd_permit_root_login must be one of"),
        ('{"base_os_reboot_window_start": "3am"}', "Expected base_os_reboot_window_start as HH:MM (got 3am)"),
        ('{"base_os_admin_users": [{"ssh_keys": []}]}', "missing required arguments: name"),
    ],
)
def test_base_os_rejects_bad_input(extra, expected):
    run = run_role("base_os", [extra])
    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert expected in output, output
    assert "Traceback" not in output
