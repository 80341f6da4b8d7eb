"""Run test layers one after another as `make LAYER`, with a timing per layer and a summary at the end.

    python3 scripts/run_layers.py LAYER...      (make test: pristine integration molecule test-lab)

Stops at the first layer that fails and names it. Standard library only: it runs before the virtualenv
exists (inside the pristine container it is the first thing that runs).
"""

import subprocess
import sys
import time


def fmt(seconds: float) -> str:
    return f"{int(seconds // 60)}m{seconds % 60:04.1f}s"


def main(layers: list[str]) -> int:
    if not layers:
        print("usage: run_layers.py LAYER... (make targets, e.g. lint unit)", file=sys.stderr)
        return 2
    done = []
    start = time.monotonic()
    rc = 0
    for layer in layers:
        print(f"\n===== layer {layer}: make {layer}", flush=True)
        began = time.monotonic()
        rc = subprocess.run(["make", "--no-print-directory", layer], check=False).returncode
        done.append((layer, time.monotonic() - began, rc))
        print(f"===== layer {layer}: {'passed' if rc == 0 else f'FAILED (exit {rc})'} in {fmt(done[-1][1])}")
        if rc != 0:
            break
    print("\n===== timing per layer")
    for layer, took, code in done:
        print(f"  {layer:<12} {fmt(took):>10}  {'ok' if code == 0 else 'FAILED'}")
    for layer in layers[len(done) :]:
        print(f"  {layer:<12} {'-':>10}  not run (an earlier layer failed)")
    print(f"  {'total':<12} {fmt(time.monotonic() - start):>10}")
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
