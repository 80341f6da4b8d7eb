#!/usr/bin/python
# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the controller_file action plugin (plugins/action/controller_file.py), the code."""

DOCUMENTATION = r"""
---
module: controller_file
short_description: Write a report file on the controller, without running a module
description:
  - Writes I(content) to I(path) on the controller (the machine running Ansible), making its parent
    directories, atomically and only when the content or mode differs; whatever host the task runs for.
  - What C(ansible.builtin.copy) with C(content) delegated to localhost does for a report, without the local
    module run that costs a Python process per host and file.
author: rackwright contributors (!UNKNOWN)
version_added: "1.0.0"
options:
  path:
    description: The file's path on the controller.
    type: path
    required: true
  content:
    description: The file's text.
    type: str
    required: true
  mode:
    description: The file's mode, octal.
    type: str
    default: "0644"
notes:
  - Supports check mode and diff mode. Runs on the controller only (an action plugin); no module is sent to
    the host.
"""

EXAMPLES = r"""
- name: Publish the record
  rackwright.infra.controller_file:
    path: "{{ reports_dir }}/health/{{ inventory_hostname }}.json"
    content: "{{ record | to_nice_json }}\n"
"""

RETURN = r"""
path:
  description: The file's absolute path.
  returned: always
  type: str
"""
