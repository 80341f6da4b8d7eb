"""What the progress callback (plugins/callback/progress.py) adds to a run: the same playbook on localhost,
TASKS tasks over HOSTS local hosts, run with the callback on and off (RACKWRIGHT_PROGRESS), alternating,
ROUNDS times each; prints the wall time of each run, the medians and the difference per task. Asserts nothing.

Run from the repository root: ``.venv/bin/python -m bench.bench_progress [tasks] [hosts] [rounds]``.
"""

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def page_write_ms(hosts=25, phases=10, writes=200):
    """The callback's own cost: one rewrite of progress.json and index.html, in milliseconds."""
    from ansible_collections.rackwright.infra.plugins.plugin_utils.rackwright_progress import Run

    run = Run(tempfile.mkdtemp(prefix="bench-progress-page-"), "bench", run_id="bench")
    run.declare([{"title": f"phase {i}", "match": f"^step {i}"} for i in range(phases)])
    run.play("play", [f"h{i}" for i in range(hosts)])
    start = time.perf_counter()
    for _write in range(writes):
        run.write(force=True)
    return 1000 * (time.perf_counter() - start) / writes


def main():
    tasks = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    hosts = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    work = Path(tempfile.mkdtemp(prefix="bench-progress-"))
    (work / "playbooks").mkdir()
    book = work / "playbooks" / "bench.yml"
    body = "".join(
        f"    - name: Step {i}\n      ansible.builtin.debug:\n        msg: step {i}\n" for i in range(tasks)
    )
    book.write_text(f"- name: Bench\n  hosts: all\n  gather_facts: false\n  tasks:\n{body}")
    inventory = work / "hosts.ini"
    inventory.write_text("".join(f"h{i} ansible_connection=local\n" for i in range(hosts)))
    cmd = [str(ROOT / ".venv" / "bin" / "ansible-playbook"), "-i", str(inventory), str(book)]
    times = {"on": [], "off": []}
    for _round in range(rounds):
        for mode in ("off", "on"):
            env = dict(
                os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), RACKWRIGHT_RUNS_DIR=str(work / "runs")
            )
            env["RACKWRIGHT_PROGRESS"] = "true" if mode == "on" else "false"
            start = time.perf_counter()
            subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, check=True)
            times[mode].append(time.perf_counter() - start)
            print(f"callback {mode:3}: {times[mode][-1]:6.2f} s", flush=True)
    on, off = statistics.median(times["on"]), statistics.median(times["off"])
    pages = len([p for p in (work / "runs").glob("*/progress.json") if not p.parent.is_symlink()])
    print(f"{tasks} tasks x {hosts} hosts, {rounds} rounds; {pages} progress pages written")
    rewrite = page_write_ms()
    print(f"one page rewrite (25 hosts, 10 phases): {rewrite:.1f} ms; rewritten at most once a second,")
    print("and at once on a new play, phase or failure")
    print(f"median without the callback {off:.2f} s, with it {on:.2f} s: {on - off:+.2f} s "
          f"({100 * (on - off) / off:+.1f}%, {1000 * (on - off) / tasks:+.1f} ms per task)")  # fmt: skip


if __name__ == "__main__":
    main()
