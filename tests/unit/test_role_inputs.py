"""Bad role input fails in the validation step, naming the variable and what was expected."""

import pytest
from conftest import run_role


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
