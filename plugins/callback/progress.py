# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Live progress of every run for the people waiting on it (plugin_utils/rackwright_progress.py)."""

# ruff: noqa: E402 - Ansible plugins keep DOCUMENTATION before the imports.

DOCUMENTATION = r"""
name: progress
author: rackwright contributors (!UNKNOWN)
type: aggregate
short_description: A live progress page for every run, in plain words
description:
  - Writes C(<runs_dir>/<run id>/progress.json) and a self-contained C(index.html) that refreshes itself while
    the run lasts, both atomically, and points C(<runs_dir>/latest) at the newest run.
  - The page shows the entry playbook's phases (its first play declares C(rackwright_phases)), the step now
    running, hosts done out of the total, the elapsed time, a percentage and an estimate of the end where the
    work reports its own progress (C(rackwright_progress) in a task's result), what failed and why in one
    sentence, and, for incidents, the status word readers know (Investigating, Identified, Monitoring,
    Resolved).
  - A run interrupted before its recap says so; a run killed outright stops rewriting its page, which then
    says that it stopped answering (the page is rewritten at least every 10 seconds while the run lives).
requirements:
  - enable in ansible.cfg (C(callbacks_enabled)); rackwright's own ansible.cfg does
options:
  runs_dir:
    description:
      - Where the runs' pages go. Default C(runs/) in the reports directory (C(rackwright_reports_dir), else
        C(reports/) beside C(playbooks/)).
    type: path
    env:
      - name: RACKWRIGHT_RUNS_DIR
    ini:
      - section: rackwright
        key: runs_dir
  enabled:
    description: Set false to write no progress pages.
    type: bool
    default: true
    env:
      - name: RACKWRIGHT_PROGRESS
    ini:
      - section: rackwright
        key: progress
"""

import atexit
import os
import re
import threading

from ansible.plugins.callback import CallbackBase

from ansible_collections.rackwright.infra.plugins.plugin_utils import rackwright_progress as progress
from ansible_collections.rackwright.infra.plugins.plugin_utils.rackwright_reports import reports_dir


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "rackwright.infra.progress"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, display=None):
        super().__init__(display=display)
        self.run = None
        self.playbook = None
        self.phases = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.last_error = None
        # The error that ends a run before its recap (a refused confirmation in a play's hosts:, a syntax
        # error in an include) reaches no callback event; the display shows it, and the page takes it.
        shown = self._display.error

        def error(msg, *args, **kwargs):
            self.last_error = msg.message if hasattr(msg, "message") else str(msg)
            return shown(msg, *args, **kwargs)

        self._display.error = error

    # Helpers
    def _with_run(self, method, *args, **kwargs):
        if self.run is None:
            return
        with self.lock:
            try:
                getattr(self.run, method)(*args, **kwargs)
            except OSError as err:  # a full disk or a read-only reports dir must not stop the run
                self._display.warning(f"rackwright progress: cannot write {self.run.directory}: {err}")
            except Exception as err:  # pylint: disable=broad-except  # nor may a fault of the page's own
                self._display.warning(f"rackwright progress: {method}: {err!r}")

    def _start(self, play):
        if not self.get_option("enabled") or not os.path.isfile(self.playbook._file_name):
            return  # a playbook read from a pipe (tests' ad hoc plays) has no reports directory of its own
        variables = dict(play.get_variable_manager().extra_vars)
        variables["playbook_dir"] = os.path.dirname(os.path.abspath(self.playbook._file_name))
        root = self.get_option("runs_dir") or os.path.join(reports_dir(variables), "runs")
        name = os.path.splitext(os.path.basename(self.playbook._file_name))[0]
        self.run = progress.Run(None, name)
        self.run.directory = os.path.join(root, self.run.state["run_id"])
        try:
            self.run.declare(self.phases)
        except ValueError as err:
            self._display.warning(f"rackwright progress: {self.playbook._file_name}: {err}")
        self._with_run("write", force=True)
        latest = os.path.join(root, "latest")
        try:
            temp = f"{latest}.{os.getpid()}"
            os.symlink(self.run.state["run_id"], temp)
            os.replace(temp, latest)
        except OSError:
            pass
        threading.Thread(target=self._heartbeat, daemon=True).start()
        atexit.register(self._exit)

    def _heartbeat(self):
        while not self.stop.wait(progress.HEARTBEAT):
            self._with_run("write", force=True)

    def _exit(self):
        self.stop.set()
        if self.last_error:
            self._with_run("died", self.last_error, status="failed")
        else:
            self._with_run("died", "ansible-playbook ended before its recap (interrupted, or an error)")

    # Events
    def v2_playbook_on_start(self, playbook):
        """The phases: the first play's declaration (an entry playbook gives rackwright_phases as vars of its
        first import, so a playbook that imports another keeps its own), else one phase per play."""
        self.playbook = playbook
        plays = playbook.get_plays()
        for play in plays:
            declared = (play.vars or {}).get("rackwright_phases")
            if declared:
                self.phases = declared
                return
        names = list(dict.fromkeys(play.get_name() for play in plays))
        self.phases = [{"title": name, "match": f"^{re.escape(name)}$"} for name in names]

    def v2_playbook_on_play_start(self, play):
        if self.run is None and self.playbook is not None:
            self._start(play)
        try:
            # every host of the play, not only this batch's (serial restricts the inventory to the batch)
            inventory = play.get_variable_manager()._inventory
            hosts = [h.get_name() for h in inventory.get_hosts(play.hosts, ignore_restrictions=True)]
        except Exception:  # pylint: disable=broad-except  # the page must never break the run
            hosts = []
        self._with_run("play", play.get_name(), hosts)

    # A task's own name, without the role prefix get_name() adds: what the phases match and people read.
    def v2_playbook_on_task_start(self, task, is_conditional):
        self._with_run("task", task.name or task.get_name())

    def v2_playbook_on_handler_task_start(self, task):
        self._with_run("task", task.name or task.get_name())

    def _result(self, result, outcome, final=True):
        """A host's result; FINAL for a task's last word (not a loop item's), which counts its module runs
        (a retry is a module run of its own)."""
        task = result._task.name or result._task.get_name()
        host = result._host.get_name()
        self._with_run("result", host, task, result._result, outcome)
        if final:
            task_ = result._task
            ran = progress.module_runs(task_.action, bool(task_.delegate_to), result._result, outcome)
            self._with_run("count_module_runs", host, ran)

    def v2_runner_on_ok(self, result):
        self._result(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._result(result, "ok" if ignore_errors else "failed")

    def v2_runner_on_unreachable(self, result):
        self._result(result, "unreachable")

    def v2_runner_on_skipped(self, result):
        self._result(result, "skipped")

    def v2_runner_retry(self, result):
        self._result(result, "retry")

    def v2_runner_item_on_ok(self, result):
        self._result(result, "ok", final=False)

    def v2_playbook_on_stats(self, stats):
        recap = {host: stats.summarize(host) for host in sorted(stats.processed)}
        self.stop.set()
        self._with_run("finish", recap)
