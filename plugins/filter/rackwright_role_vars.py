# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The variables a role declares, for the one "reject unknown <role>_ variables" check.

A role's meta/argument_specs.yml types the variables it knows, but Ansible never sees a misspelt one
(`base_os_timezon`): it is simply unused. roles/common/tasks/check_vars.yml, imported at the start of
every role entry point, asks `unknown_role_vars` which of the host's `<role>_*` variables no entry point
declares. Every entry point counts, since an inventory sets the variables of all of them side by side
(storage's main and replace_disk, backup's main, server, archive_now and restore_test).
"""

# ruff: noqa: E402 - Ansible plugins keep DOCUMENTATION before the imports.

DOCUMENTATION = """
name: unknown_role_vars
short_description: The variable names that no entry point of a role's argument specs declares
description:
  - Takes a role's argument specs (the parsed meta/argument_specs.yml, or its C(argument_specs) mapping) and a
    list of variable names, and returns those names that are no option of any entry point, in the given order,
    each once.
  - Its sibling C(known_role_vars) returns the declared names, entry point by entry point, each once.
positional: names
options:
  _input:
    description: The parsed meta/argument_specs.yml, or its C(argument_specs) mapping.
    type: dict
    required: true
  names:
    description: Variable names, for example C(query('ansible.builtin.varnames', '^base_os_')).
    type: list
    elements: str
    required: true
"""

from collections.abc import Mapping, Sequence

from ansible.errors import AnsibleFilterError


def known_role_vars(specs):
    """Every option name of every entry point of SPECS, in file order, each once."""
    if not isinstance(specs, Mapping):
        raise AnsibleFilterError(
            f"known_role_vars: expected a role's argument specs (a mapping), got {type(specs).__name__}"
        )
    entry_points = specs.get("argument_specs", specs)
    if not isinstance(entry_points, Mapping):
        raise AnsibleFilterError("known_role_vars: argument_specs must map entry point names to their specs")
    known = []
    for name, entry in entry_points.items():
        options = entry.get("options") or {} if isinstance(entry, Mapping) else None
        if not isinstance(options, Mapping):
            raise AnsibleFilterError(f"known_role_vars: entry point {name!r} has no mapping of options")
        known.extend(key for key in options if key not in known)
    return known


def unknown_role_vars(specs, names):
    """The NAMES that no entry point of SPECS declares, in the given order, each once."""
    if isinstance(names, str) or not isinstance(names, Sequence):
        raise AnsibleFilterError(f"unknown_role_vars: names must be a list, got {type(names).__name__}")
    known = set(known_role_vars(specs))
    unknown = []
    for name in names:
        if name not in known and name not in unknown:
            unknown.append(name)
    return unknown


class FilterModule:
    """Role variable filters."""

    def filters(self):
        return {"known_role_vars": known_role_vars, "unknown_role_vars": unknown_role_vars}
