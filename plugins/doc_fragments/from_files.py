# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the ``from_files`` option every health module shares (rackwright_module.saved_paths)."""


class ModuleDocFragment:
    """``extends_documentation_fragment: rackwright.infra.from_files``; each module's description names the
    saved formats it reads."""

    DOCUMENTATION = r"""
options:
  from_files:
    description:
      - Paths of saved tool outputs to parse instead of running the tools on this host; the module's
        description names the formats it reads.
      - Only regular files up to 8 MiB are read; any file that is not, or does not parse, gives C(unknown)
        naming it beside the other files' verdicts. An empty list is an error, never live mode.
      - A list of paths or one string of comma-separated paths (checked by the module itself, so a wrong
        type is named as such rather than turned into a path).
    type: raw
"""
