# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A run's progress in plain words, for the people waiting on it: the state the progress callback keeps
(``plugins/callback/progress.py``) and writes to ``reports/runs/<run id>/progress.json`` and ``index.html``.

Pure but for the clock and the files: the callback feeds events in (a play starts, a task starts, a host's
result, a retry with its progress, the recap) and ``Run.write()`` writes both files atomically. Each entry
playbook declares its phases in its first play's vars::

    rackwright_phases:
      - {title: Checking the server's disks, status: Investigating}
      - {title: Locating the failed disk, match: "^Locate", status: Identified}

A phase begins when a task whose name matches ``match`` (a regular expression, searched, case-insensitive)
starts; phases only move forward. ``status`` is the incident status word readers know (Investigating,
Identified, Monitoring, Resolved) shown while the phase runs; a run that ends well says Resolved. Work that
knows its own progress returns ``rackwright_progress: {percent, what}`` in its result (raid_health while an
array rebuilds, the copy's progress check): the page shows the percentage and an estimate of the end from the
rate seen so far.
"""

import json
import os
import re
import tempfile
import time
from datetime import UTC, datetime

STATES = ("running", "succeeded", "failed", "interrupted")
WORDS = {"running": "In progress", "succeeded": "Completed", "failed": "Failed", "interrupted": "Stopped"}
# A run whose page was not rewritten for this long while it says it is running has died: the callback
# rewrites it at least every HEARTBEAT seconds while the controller lives.
HEARTBEAT = 10
STALE_AFTER = 60


def iso(epoch):
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


def one_sentence(text, limit=300):
    """The first line of TEXT, at most LIMIT characters: what failed, said once."""
    lines = [ln.strip() for ln in str(text or "").splitlines() if ln.strip()] or ["failed"]
    line = lines[0]
    if line.endswith(":") and len(lines) > 1:  # "Validation of arguments failed:" says why on the next line
        line = f"{line} {lines[1]}"
    return line if len(line) <= limit else line[: limit - 1] + "…"


def phases_from(spec):
    """The declared phases as [{title, match, status}]; an error names the bad entry."""
    phases = []
    for index, entry in enumerate(spec or []):
        entry = {"title": entry} if isinstance(entry, str) else entry
        if not isinstance(entry, dict) or not isinstance(entry.get("title"), str) or not entry["title"]:
            raise ValueError(f"rackwright_phases[{index}]: expected {{title, match, status}}, got {entry!r}")
        try:
            re.compile(entry.get("match") or "")
        except re.error as err:
            raise ValueError(f"rackwright_phases[{index}].match: not a regular expression ({err})") from err
        phases.append(
            {"title": entry["title"], "match": entry.get("match") or "", "status": entry.get("status")}
        )
    return phases


def estimate(samples, now):
    """{percent, eta, rate_per_min} from [(time, percent)] samples of one piece of work; eta (epoch) only
    when the percentage has grown since the first sample."""
    if not samples:
        return None
    (first_t, first_p), (last_t, last_p) = samples[0], samples[-1]
    out = {"percent": round(last_p, 1), "eta": None, "rate_per_min": None}
    if last_t > first_t and last_p > first_p:
        rate = (last_p - first_p) / (last_t - first_t)
        out["rate_per_min"] = round(rate * 60, 2)
        out["eta"] = round(now + (100 - last_p) / rate)
    return out


# Actions that run on the controller only (no module is sent to the host).
CONTROLLER_ACTIONS = {
    "rackwright.infra.controller_file",
    "add_host",
    "assert",
    "debug",
    "fail",
    "group_by",
    "import_role",
    "import_tasks",
    "include_role",
    "include_tasks",
    "include_vars",
    "meta",
    "pause",
    "set_fact",
    "set_stats",
    "validate_argument_spec",
}


def module_runs(action, delegated, result, outcome):
    """How many modules a task's result ran on its own host: 0 for a skipped task, one delegated elsewhere
    (the controller's work) or a controller-only action; a loop's items that were not skipped; else 1."""
    builtin = action.startswith(("ansible.builtin.", "ansible.legacy."))
    short = action.rsplit(".", 1)[-1] if builtin else action
    if outcome == "skipped" or delegated or short in CONTROLLER_ACTIONS or not isinstance(result, dict):
        return 0
    if isinstance(result.get("results"), list):
        return sum(1 for item in result["results"] if isinstance(item, dict) and not item.get("skipped"))
    return 0 if result.get("skipped") else 1


class Run:
    """One ansible-playbook run's progress."""

    def __init__(self, directory, playbook, run_id=None, now=None, pid=None):
        now = time.time() if now is None else now
        self.directory = directory
        self.last_write = 0.0
        self.samples = {}
        self.state = {
            "run_id": run_id
            or f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime(now))}-{playbook}-{os.getpid()}",
            "playbook": playbook,
            "pid": os.getpid() if pid is None else pid,
            "status": "running",
            "started": iso(now),
            "updated": iso(now),
            "updated_epoch": now,
            "finished": None,
            "phases": [],
            "phase": None,
            "incident_status": None,
            "play": None,
            "task": None,
            "hosts": {},
            "failures": [],
            "progress": None,
            "recap": None,
        }

    # Events
    def declare(self, spec, now=None):
        """The entry playbook's phases; the first begins now. A later declaration is ignored."""
        if self.state["phases"] or not spec:
            return
        self.state["phases"] = [dict(p, state="pending", started=None) for p in phases_from(spec)]
        self._enter(0, time.time() if now is None else now)

    def play(self, name, hosts, now=None):
        """A play starts, or the next batch of a rolling play (serial): the batch goes through the phases
        from where the play's first batch began."""
        now = time.time() if now is None else now
        for state in self.state["hosts"].values():  # a new play or batch: the hosts that worked are done
            if state["state"] == "working":
                state["state"] = "done"
        # The hosts counted are the ones a play worked on and the ones the play now starting targets: a host
        # only an earlier play listed (the inventory check's plays target every host) is not part of the work.
        for host in [h for h, s in self.state["hosts"].items() if s["state"] == "waiting" and h not in hosts]:
            del self.state["hosts"][host]
        for host in hosts:
            self.state["hosts"].setdefault(host, {"state": "waiting", "task": None})
        self.state["play"] = name
        batches = self.state.setdefault("batches", {})
        if name in batches and self.state["phases"]:
            batches[name]["batch"] += 1
            for later in self.state["phases"][batches[name]["phase"] + 1 :]:
                later["state"] = "pending"
            self._enter(batches[name]["phase"], now)
        else:
            self._advance(name, now)
            batches[name] = {"phase": self.state["phase"] or 0, "batch": 1}
        self.write(now, force=True)

    def task(self, name, now=None):
        now = time.time() if now is None else now
        self.state["task"] = name
        return self.write(now, force=self._advance(name, now))

    def result(self, host, task, result, outcome, now=None):
        """A host's result: outcome ok | changed | skipped | failed | unreachable | retry."""
        now = time.time() if now is None else now
        entry = self.state["hosts"].setdefault(host, {"state": "waiting", "task": None})
        if outcome == "skipped":
            return self.write(now)  # not a step the host took
        entry["task"] = task
        if outcome in ("failed", "unreachable"):
            entry["state"] = "failed"
            why = result.get("msg") or result.get("stderr") or result.get("reason") or outcome
            if result.get("argument_errors"):  # a role's argument spec refused: name the argument
                head = str(why).splitlines()[0].rstrip(":")
                why = f"{head}: {'; '.join(map(str, result['argument_errors']))}"
            self.state["failures"].append(
                {"host": host, "task": task, "why": one_sentence(why), "time": iso(now)}
            )
        elif entry["state"] != "failed":
            entry["state"] = "working"
        progress = result.get("rackwright_progress") if isinstance(result, dict) else None
        if isinstance(progress, dict) and isinstance(progress.get("percent"), (int, float)):
            key = f"{host}: {progress.get('what') or task}"
            self.samples.setdefault(key, []).append((now, float(progress["percent"])))
            self.state["progress"] = dict(estimate(self.samples[key], now), what=key)
            if self.state["progress"]["eta"]:
                self.state["progress"]["eta_iso"] = iso(self.state["progress"]["eta"])
        return self.write(now, force=outcome in ("failed", "unreachable"))

    def count_module_runs(self, host, count):
        """COUNT more modules ran on HOST (module_runs): the round trips a run made, per host."""
        if count:
            runs = self.state.setdefault("module_runs", {})
            runs[host] = runs.get(host, 0) + count

    def finish(self, recap, now=None):
        """The play recap {host: {ok, changed, failures, unreachable, ...}}."""
        now = time.time() if now is None else now
        failed = any(s.get("failures") or s.get("unreachable") for s in recap.values()) or bool(
            self.state["failures"] and not recap
        )
        for host, stats in recap.items():
            entry = self.state["hosts"].setdefault(host, {"state": "waiting", "task": None})
            entry["state"] = "failed" if stats.get("failures") or stats.get("unreachable") else "done"
        self.state["recap"] = recap
        self._end("failed" if failed else "succeeded", now)

    def died(self, why, now=None, status="interrupted"):
        """The controller is going away before the recap: interrupted, or an error (STATUS failed) that
        reached no host, such as a refused confirmation."""
        if self.state["status"] == "running":
            when = iso(time.time() if now is None else now)
            self.state["failures"].append({"host": None, "task": self.state["task"], "why": one_sentence(why),
                                           "time": when})  # fmt: skip
            self._end(status, now)

    # Inner workings
    def _advance(self, name, now):
        """Enter the first later phase whose match finds NAME (a task or a play); True when one did."""
        phases = self.state["phases"]
        current = self.state["phase"] or 0
        for index in range(current + 1, len(phases)):
            if phases[index]["match"] and re.search(phases[index]["match"], name or "", re.I):
                self._enter(index, now)
                return True
        return False

    def _enter(self, index, now):
        phases = self.state["phases"]
        for earlier in phases[:index]:
            if earlier["state"] in ("pending", "running"):
                earlier["state"] = "done" if earlier["state"] == "running" else "skipped"
        phases[index].update(state="running", started=iso(now))
        self.state["phase"] = index
        self.state["incident_status"] = phases[index]["status"] or self.state["incident_status"]
        self.samples, self.state["progress"] = {}, None

    def _end(self, status, now):
        now = time.time() if now is None else now
        self.state["status"] = status
        self.state["finished"] = iso(now)
        phases = self.state["phases"]
        if phases and self.state["phase"] is not None:
            current = phases[self.state["phase"]]
            current["state"] = "done" if status == "succeeded" else "failed"
            for later in phases[self.state["phase"] + 1 :]:  # a run that ends early did not reach them
                later["state"] = "skipped" if status == "succeeded" else "pending"
            # Resolved only when the run went through its last phase: an incident that stopped short of the
            # repair (no confirmation) keeps the status it reached.
            if status == "succeeded" and self.state["incident_status"] and current is phases[-1]:
                self.state["incident_status"] = "Resolved"
        for entry in self.state["hosts"].values():
            if entry["state"] == "working":
                entry["state"] = "done" if status == "succeeded" else "stopped"
        self.write(now, force=True)

    def summary(self):
        """One line: what the page says first."""
        st = self.state
        done = sum(1 for h in st["hosts"].values() if h["state"] == "done")
        phase = st["phases"][st["phase"]] if st["phases"] and st["phase"] is not None else None
        step = (
            f"step {st['phase'] + 1} of {len(st['phases'])}: {phase['title']}" if phase else st["task"] or ""
        )
        line = f"{WORDS[st['status']]} - {step}; {done} of {len(st['hosts'])} host(s) done"
        if st["progress"] and st["status"] == "running":
            line += f"; {st['progress']['what']} {st['progress']['percent']}%"
            if st["progress"].get("eta_iso"):
                line += f", expected done {st['progress']['eta_iso']}"
        if st["failures"]:
            first = st["failures"][0]
            named = not first["host"] or first["why"].startswith(f"{first['host']}:")
            line += f"; failed: {'' if named else first['host'] + ': '}{first['why']}"
        return line

    def write(self, now=None, force=False):
        """Both files, atomically (a reader never sees half a page), at most once a second unless FORCE."""
        now = time.time() if now is None else now
        if not force and now - self.last_write < 1:
            return False
        self.state["updated"], self.state["updated_epoch"] = iso(now), now
        self.state["summary"] = self.summary()
        os.makedirs(self.directory, exist_ok=True)
        from ansible_collections.rackwright.infra.plugins.plugin_utils.rackwright_html import render

        atomic_write(os.path.join(self.directory, "progress.json"), json.dumps(self.state, indent=2) + "\n")
        atomic_write(os.path.join(self.directory, "index.html"), render("progress.html.j2", run=self.state,
                                                                        stale_after=STALE_AFTER))  # fmt: skip
        self.last_write = now
        return True


def atomic_write(path, text):
    handle, temp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise


def read_run(directory, now=None):
    """A run's progress record as written, with status ``died`` when it says running but its controller has
    not rewritten it for STALE_AFTER seconds (killed, or the machine went away)."""
    with open(os.path.join(directory, "progress.json"), encoding="utf-8") as handle:
        state = json.load(handle)
    now = time.time() if now is None else now
    if state.get("status") == "running" and now - float(state.get("updated_epoch") or 0) > STALE_AFTER:
        state["status"] = "died"
    return state
