# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin controller_file: write a report file on the controller without running a module."""

import os
import tempfile

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible.plugins.action import ActionBase


class ActionModule(ActionBase):
    """A file on the controller: CONTENT at PATH (parents made), written atomically only when it differs.

    What ``copy: content=`` delegated to localhost does for a report, without the local module run it costs
    (a Python process per host and file: on a fleet, most of a sweep's controller time)."""

    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("path", "content", "mode"))
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = self._task.args
        path, content = args.get("path"), args.get("content")
        if not isinstance(path, str) or not path.strip():
            raise AnsibleActionFail(f"path: expected the file's path on the controller, got {path!r}")
        if not isinstance(content, str):
            raise AnsibleActionFail(f"content: expected the file's text, got {type(content).__name__}")
        mode = args.get("mode", "0644")
        try:
            mode = int(str(mode), 8)
        except ValueError as err:
            raise AnsibleActionFail(f"mode: expected an octal mode such as '0644', got {mode!r}") from err
        path = os.path.abspath(os.path.expanduser(path))
        data = to_bytes(content)
        try:
            with open(path, "rb") as handle:
                before = handle.read()
        except FileNotFoundError:
            before = None
        except OSError as err:
            raise AnsibleActionFail(f"path: cannot read {path}: {err.strerror}") from err
        changed = before != data or (before is not None and (os.stat(path).st_mode & 0o7777) != mode)
        result.update(changed=changed, path=path)
        if self._task.diff and before != data:
            result["diff"] = {
                "before": to_text(before or b"", errors="surrogate_or_replace"),
                "after": content,
                "before_header": path,
                "after_header": path,
            }
        if changed and not self._task.check_mode:
            directory = os.path.dirname(path)
            try:
                os.makedirs(directory, mode=0o755, exist_ok=True)
                fd, temp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.")
                try:
                    with os.fdopen(fd, "wb") as handle:
                        handle.write(data)
                    os.chmod(temp, mode)
                    os.replace(temp, path)
                finally:
                    if os.path.exists(temp):
                        os.unlink(temp)
            except OSError as err:
                raise AnsibleActionFail(f"path: cannot write {path}: {err.strerror}") from err
        return result
