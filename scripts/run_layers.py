"""Run test layers as `make LAYER`, with a timing per layer and a summary at the end.

    python3 scripts/run_layers.py LAYER...                 one after another, stopping at the first failure
    python3 scripts/run_layers.py --lanes LANE...          lanes side by side, each LANE "LAYER LAYER ..."
                                                           run in order (make test: the lab job beside the
                                                           lint-unit and molecule jobs, as CI runs its jobs)

A lane stops at its first failing layer; the other lanes run to their end, so one run names every failure.
Lines of lanes running side by side carry the layer's name, and the last lines of each failing layer are
printed again at the end, beside the timings, where a reader of only the tail of the log finds them. Exit
status: 0 when every layer passed, else the first failure's. Standard library only: it runs before the
virtualenv exists (inside the pristine container it is the first thing that runs).
"""

import collections
import subprocess
import sys
import threading
import time

PRINT = threading.Lock()


def fmt(seconds: float) -> str:
    return f"{int(seconds // 60)}m{seconds % 60:04.1f}s"


def say(line: str) -> None:
    with PRINT:
        print(line, flush=True)


TAIL_LINES = 60


def run_layer(layer: str, tagged: bool) -> tuple[int, list[str]]:
    """`make LAYER`; with TAGGED, every output line is prefixed with the layer's name and the last lines are
    returned with the exit status."""
    say(f"\n===== layer {layer}: make {layer}")
    command = ["make", "--no-print-directory", layer]
    if not tagged:
        return subprocess.run(command, check=False).returncode, []
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
    )
    tail = collections.deque(maxlen=TAIL_LINES)
    for line in proc.stdout:
        tail.append(line.rstrip())
        say(f"[{layer}] {tail[-1]}")
    return proc.wait(), list(tail)


def run_lane(layers: list[str], done: list, tagged: bool) -> None:
    for layer in layers:
        began = time.monotonic()
        rc, tail = run_layer(layer, tagged)
        done.append((layer, time.monotonic() - began, rc, tail))
        say(f"===== layer {layer}: {'passed' if rc == 0 else f'FAILED (exit {rc})'} in {fmt(done[-1][1])}")
        if rc != 0:
            return


def main(argv: list[str]) -> int:
    lanes_mode = bool(argv) and argv[0] == "--lanes"
    lanes = [lane.split() for lane in argv[1:]] if lanes_mode else [argv]
    if not any(lanes) or not all(lanes):
        print(
            "usage: run_layers.py LAYER... | --lanes 'LAYER LAYER' 'LAYER' (make targets, e.g. lint unit)",
            file=sys.stderr,
        )
        return 2
    start = time.monotonic()
    results = [[] for _lane in lanes]
    tagged = len(lanes) > 1
    threads = [
        threading.Thread(target=run_lane, args=(lane, results[i], tagged)) for i, lane in enumerate(lanes)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for done in results:
        for layer, _took, code, tail in done:
            if code != 0 and tail:
                print(f"\n===== why {layer} failed: its last {len(tail)} lines")
                print("\n".join(tail))
    print("\n===== timing per layer" + (f" ({len(lanes)} lanes side by side)" if tagged else ""))
    rc = 0
    for number, (lane, done) in enumerate(zip(lanes, results, strict=True), start=1):
        prefix = f"lane {number}: " if tagged else ""
        for layer, took, code, _tail in done:
            print(f"  {prefix}{layer:<20} {fmt(took):>10}  {'ok' if code == 0 else 'FAILED'}")
            rc = rc or code
        for layer in lane[len(done) :]:
            print(f"  {prefix}{layer:<20} {'-':>10}  not run (an earlier layer of its lane failed)")
    print(f"  {'total':<20} {fmt(time.monotonic() - start):>10}")
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
