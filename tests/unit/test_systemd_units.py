"""systemd_units refuses bad input before it touches a unit (what it does on a real systemd is proven in the
Molecule backup scenario, converge and idempotence, and on the lab by site.yml): every problem at once, each
naming the option."""

import pytest

from ansible_collections.rackwright.infra.plugins.modules import systemd_units


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            {"units": [{"name": "../evil.service", "content": ""}]},
            "units[0].name: '../evil.service' is not a unit",
        ),
        ({"units": [{"name": "job", "content": ""}]}, "units[0].name: 'job' has no unit type suffix"),
        (
            {"units": [{"name": "a.timer", "content": "x"}, {"name": "a.timer", "content": "y"}]},
            "units[1].name: a.timer is given twice",
        ),
        ({"started": ["a.timer"], "absent": ["a.timer"]}, "absent: a.timer also wanted"),
        ({"keep": [".hidden.timer"]}, "keep: '.hidden.timer' is not a unit file name"),
        ({"unit_dir": "/nonexistent/units"}, "unit_dir: /nonexistent/units is not a directory"),
    ],
)
def test_bad_input_is_refused_naming_the_option(run_module, tmp_path, args, expected):
    args = dict({"unit_dir": str(tmp_path)}, **args)
    result = run_module(systemd_units, args)
    assert result["failed"] is True
    assert expected in result["msg"], result["msg"]
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_every_problem_is_named_at_once(run_module, tmp_path):
    result = run_module(
        systemd_units,
        {"unit_dir": str(tmp_path), "units": [{"name": "x", "content": ""}], "started": ["y/z.timer"]},
    )
    assert "units[0].name" in result["msg"] and "started: 'y/z.timer'" in result["msg"], result["msg"]


def test_a_started_unit_that_is_nowhere_is_refused(run_module, tmp_path):
    result = run_module(systemd_units, {"unit_dir": str(tmp_path), "started": ["ghost.timer"]})
    assert result["failed"] is True
    assert result["msg"] == f"started: ghost.timer neither in units nor installed in {tmp_path}"
