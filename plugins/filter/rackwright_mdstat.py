# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Jinja filter mdstat_arrays: /proc/mdstat through the collection's one mdstat parser.

Playbooks that watch an array (the storage role's rebuild wait) read it the way raid_health does, instead of
matching /proc/mdstat with regexes of their own.
"""

# ruff: noqa: E402 - the plugin's DOCUMENTATION comes before the imports.

DOCUMENTATION = r"""
name: rackwright_mdstat
short_description: Parse /proc/mdstat with the collection's mdstat parser
description:
  - C(mdstat_arrays) turns the text of C(/proc/mdstat) into a list of arrays, each C({name, level, state,
    rebuild_percent, members, raid_disks, active_disks, read_only, health, reasons}) as raid_health reports
    them. C(state) is C(optimal), C(degraded), C(rebuilding), C(resyncing), C(reshaping), C(checking),
    C(inactive) or C(failed); C(rebuild_percent) is set while a recovery, resync or reshape runs.
  - Text that is not /proc/mdstat (or is cut off) is an error naming what was expected, never an empty list.
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_health import ParseError
from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_mdstat import parse_mdstat


def mdstat_arrays(text):
    """The arrays of /proc/mdstat TEXT (raid_health's view of each)."""
    if not isinstance(text, str):
        raise AnsibleFilterError(f"mdstat_arrays expects the text of /proc/mdstat, not {type(text).__name__}")
    try:
        return parse_mdstat(text, source="/proc/mdstat")
    except ParseError as error:
        raise AnsibleFilterError(f"mdstat_arrays: {error}") from None


class FilterModule:
    def filters(self):
        return {"mdstat_arrays": mdstat_arrays}
