# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where result records and reports live on the controller: the one definition of the reports directory."""

import os


def reports_dir(variables):
    """``rackwright_reports_dir`` when the inventory or ``-e`` sets it, else ``reports/`` beside
    ``playbooks/`` (the playbook's directory's parent), as an absolute path."""
    variables = variables or {}
    chosen = variables.get("rackwright_reports_dir")
    if chosen in (None, ""):
        chosen = os.path.join(variables.get("playbook_dir") or os.getcwd(), "..", "reports")
    return os.path.normpath(os.path.abspath(str(chosen)))
