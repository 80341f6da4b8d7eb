"""The one "reject unknown <role>_ variables" check: the filters (plugins/filter/rackwright_role_vars.py) and
that every role entry point calls roles/common/tasks/check_vars.yml first."""

import pathlib

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.rackwright.infra.plugins.filter import rackwright_role_vars

ROOT = pathlib.Path(__file__).resolve().parents[2]
FILTERS = rackwright_role_vars.FilterModule().filters()
SPECS = {
    "argument_specs": {
        "main": {"options": {"demo_a": {"type": "str"}, "demo_b": {"type": "int"}}},
        "other": {"options": {"demo_b": {"type": "int"}, "demo_c": {"type": "bool"}}},
        "bare": {"short_description": "an entry point without options"},
    }
}


def test_known_vars_cover_every_entry_point_in_order_each_once():
    assert FILTERS["known_role_vars"](SPECS) == ["demo_a", "demo_b", "demo_c"]
    assert FILTERS["known_role_vars"](SPECS["argument_specs"]) == ["demo_a", "demo_b", "demo_c"]


@pytest.mark.parametrize(
    ("names", "unknown"),
    [
        ([], []),
        (["demo_a", "demo_c"], []),  # demo_c belongs to another entry point: known
        (["demo_a", "demo_x", "demo_y", "demo_x"], ["demo_x", "demo_y"]),
    ],
)
def test_unknown_vars(names, unknown):
    assert FILTERS["unknown_role_vars"](SPECS, names) == unknown


@pytest.mark.parametrize(
    ("specs", "names"),
    [
        ("not a mapping", []),
        ({"argument_specs": ["main"]}, []),
        ({"argument_specs": {"main": {"options": ["demo_a"]}}}, []),
        ({"argument_specs": {"main": None}}, []),
        (SPECS, "demo_a"),
    ],
)
def test_bad_input_is_an_ansible_error(specs, names):
    with pytest.raises(AnsibleFilterError):
        FILTERS["unknown_role_vars"](specs, names)


# roles/common's entry points are the plumbing itself (check_vars among them): their common_ parameters come
# from the importing task's vars, never from an inventory, and Ansible validates them against their specs.
ENTRY_POINTS = [
    (spec.parent.parent.name, entry)
    for spec in sorted(ROOT.glob("roles/*/meta/argument_specs.yml"))
    for entry in yaml.safe_load(spec.read_text(encoding="utf-8"))["argument_specs"]
    if spec.parent.parent.name != "common"
]


@pytest.mark.parametrize(("role", "entry"), ENTRY_POINTS)
def test_every_entry_point_checks_its_variables_first(role, entry):
    """The first task of each entry point (inside replace_disk's confirmation block) imports check_vars."""
    tasks = yaml.safe_load((ROOT / "roles" / role / "tasks" / f"{entry}.yml").read_text(encoding="utf-8"))
    first = tasks[0]["block"][0] if "block" in tasks[0] else tasks[0]
    assert first.get("ansible.builtin.import_role") == {
        "name": "rackwright.infra.common",
        "tasks_from": "check_vars",
    }, first
    assert first.get("vars") == {"common_role": role}


def test_the_check_exists_once():
    """No task file outside roles/common queries the <role>_ variable names itself."""
    copies = [
        str(path.relative_to(ROOT))
        for path in ROOT.glob("roles/*/tasks/*.yml")
        if "varnames" in path.read_text(encoding="utf-8") and path.parent.parent.name != "common"
    ]
    assert copies == []
