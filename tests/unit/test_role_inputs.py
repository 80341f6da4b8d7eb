"""Bad role input fails in the validation step, naming the variable and what was expected."""

import pytest
from conftest import run_role


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ('{"base_os_timezon": "Europe/Berlin"}', "unknown variable(s) ['base_os_timezon']"),
        (
            '{"base_os_sshd_port": "twenty-two"}',
            "argument 'base_os_sshd_port' is of type str and we were unable to convert to int",
        ),
        ('{"base_os_sshd_permit_root_login": "maybe"}', "base_os_sshd_permit_root_login must be one of"),
        ('{"base_os_reboot_window_start": "3am"}', "Expected base_os_reboot_window_start as HH:MM (got 3am)"),
        ('{"base_os_admin_users": [{"ssh_keys": []}]}', "missing required arguments: name"),
        (
            '{"base_os_umask": "rw-r-----"}',
            "Expected base_os_umask as three octal digits such as 027 (got rw-r-----)",
        ),
        ('{"base_os_umask": 27}', "Expected base_os_umask as three octal digits such as 027 (got 27)"),
        ('{"base_os_shell_timeout": -5}', "base_os_shell_timeout 0 or more seconds (got -5)"),
        ('{"base_os_sshd_max_sessions": 0}', "Expected base_os_sshd_max_sessions 1 or more (got 0)"),
        ('{"base_os_sshd_host_key_types": []}', "at least one of base_os_sshd_host_key_types (got [])"),
        ('{"base_os_sshd_host_key_types": ["ecdsa"]}', "base_os_sshd_host_key_types must be one or more of"),
        ('{"base_os_password_min_days": 400}', "base_os_password_max_days (got 400, 365)"),
        (
            '{"base_os_disabled_kernel_modules": ["usb storage"]}',
            "base_os_disabled_kernel_modules (got ['usb storage'])",
        ),
    ],
)
def test_base_os_rejects_bad_input(extra, expected):
    run = run_role("base_os", [extra])
    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert expected in output, output
    assert "Traceback" not in output
