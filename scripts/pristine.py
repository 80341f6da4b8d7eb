"""Run a command on a pristine Debian 12, the way a new machine or a hosted CI runner starts.

    python3 scripts/pristine.py --job JOB      (a job of .github/workflows/ci.yml: its make steps, in order)
    python3 scripts/pristine.py -- COMMAND...

The machine is a container of rackwright/pristine-debian12 (tests/pristine/image.yml: debootstrap's
minbase plus python3 and make, built by scripts/build_images.py and cached by recipe hash). It gets a copy
of the work tree (the files git tracks or would track, as a fresh clone has them) in /src, ../shared
read-only beside it (as CI has it), this machine's apt and pip configuration and the CA bundle pip's
configuration names (so it reaches the same package mirrors, which are named nowhere in the repo), and
nothing else that was installed here: a step that only works because this machine has something
installed by hand fails here first. The command runs as root in /src with `bash -e`.

Like a hosted runner it is root with what a VM allows (SYS_ADMIN: debootstrap mounts /proc; /dev/kvm where
the host has it) and a running Docker daemon (this machine's socket; the docker CLI is
not installed: `make docker` installs it). A job with a matrix gets one fresh container per matrix value, as
GitHub gives each its own runner. A matrix another job derives (`${{ fromJSON(needs.JOB.outputs.NAME) }}`:
the molecule job's scenarios) is that job's output, computed as on its runner: its run: steps, with bash in
this work tree (a checkout), here on this machine, since it only lists files. What the job writes under
reports/ (JUnit XML, the lab's consoles) comes back to reports/pristine/<job>[-<value>]/.

Caches, as a hosted runner keeps them with actions/cache, are kept between runs to save time; they hold
downloads and recipe-hashed build outputs, not installed state, so the container still starts bare: apt
archives (.cache/pristine/), pip's download cache, and the lab's VM images (keyed by their recipe hash).
Molecule's images live in the Docker daemon, keyed the same way.
"""

import configparser
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RECIPE = ROOT / "tests" / "pristine" / "image.yml"
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
IMAGE = "rackwright/pristine-debian12"
CACHE = ROOT / ".cache" / "pristine"
# This machine's package-client configuration, handed over read-only (only the files that exist here) and
# copied into place: a package the tests install may upgrade apt, whose dpkg writes into /etc/apt/apt.conf.d.
HOST_CONFIG = "/host-config"
CONFIG = ["/etc/apt/sources.list.d", "/etc/apt/apt.conf.d", "/etc/pip.conf", "/etc/xdg/pip"]
HOST_CA = "/opt/rackwright-host-ca.crt"
DOCKER_SOCKET = "/var/run/docker.sock"
REPORTS = ROOT / "reports" / "pristine"
PASS_ENV = ("PIP_", "http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "CI")
# A matrix another job derives, and where that job takes the output from.
NEEDS_OUTPUT = re.compile(r"\$\{\{\s*fromJSON\(\s*needs\.([\w-]+)\.outputs\.([\w-]+)\s*\)\s*\}\}")
STEP_OUTPUT = re.compile(r"\$\{\{\s*steps\.([\w-]+)\.outputs\.([\w-]+)\s*\}\}")


def say(message: str) -> None:
    print(f"pristine: {message}", flush=True)


def tree_files() -> list[str]:
    """Files of the work tree as a clone would have them: tracked plus untracked-but-not-ignored."""
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, check=True,
    )  # fmt: skip
    names = [n for n in out.stdout.decode().split("\0") if n]
    return [n for n in names if (ROOT / n).is_file() or (ROOT / n).is_symlink()]


def pip_cert() -> str | None:
    """The CA bundle this machine's pip configuration or environment names, if any."""
    if os.environ.get("PIP_CERT"):
        return os.environ["PIP_CERT"]
    found = None
    for conf in ["/etc/pip.conf", *sorted(str(p) for p in Path("/etc/xdg/pip").glob("*.conf"))]:
        parser = configparser.ConfigParser()
        try:
            parser.read(conf)
        except configparser.Error:
            continue
        found = parser.get("global", "cert", fallback=found)
    return found if found and Path(found).is_file() else None


def docker_args(name: str, command: list[str], reports: Path) -> list[str]:
    args = ["docker", "run", "--rm", "-i", "--name", name, "--network", "host", "--hostname", "pristine"]
    # A hosted runner is a VM with root: debootstrap mounts /proc (SYS_ADMIN), QEMU opens /dev/kvm. Not
    # --privileged: dockerd inside a microVM (like this project's CI machines) cannot grant every capability.
    args += ["--cap-add", "SYS_ADMIN", "--cap-add", "NET_ADMIN", "--security-opt", "seccomp=unconfined"]
    if Path("/dev/kvm").exists():
        args += ["--device", "/dev/kvm"]
    if not name.endswith("-lab"):
        # make test runs the lab job (the long pole, its VMs' CPU) beside the others: when both want the two
        # cores, the lab's container gets four fifths (a CPU weight, not a cap: alone, a job uses every core).
        args += ["--cpu-shares", "256"]
    if Path(DOCKER_SOCKET).exists():  # ...and a running dockerd (the CLI comes from `make docker`)
        args += ["-v", f"{DOCKER_SOCKET}:{DOCKER_SOCKET}"]
    sys.path.insert(0, str(ROOT / "lab"))  # the lab's own answer to where its images are cached
    from rackwright_lab.util import cache_dir

    lab_cache = cache_dir()
    lab_cache.mkdir(parents=True, exist_ok=True)
    args += ["-v", f"{lab_cache}:/root/.cache/rackwright/lab-images"]
    reports.mkdir(parents=True, exist_ok=True)
    args += ["-v", f"{reports}:/src/reports"]
    for path in CONFIG:
        if Path(path).exists():
            args += ["-v", f"{path}:{HOST_CONFIG}{path}:ro"]
    # apt's archive cache holds a lock while apt runs, so each runner keeps its own (make test runs jobs
    # side by side); pip's cache is safe to share.
    apt_cache = CACHE / "apt" / reports.name
    for path in (CACHE / "pip", apt_cache):
        path.mkdir(parents=True, exist_ok=True)
    args += ["-v", f"{CACHE / 'pip'}:/root/.cache/pip", "-v", f"{apt_cache}:/var/cache/apt/archives"]
    for key, value in os.environ.items():
        if key.startswith(PASS_ENV) and key != "PIP_CERT":
            args += ["-e", f"{key}={value}"]
    shared = ROOT.parent / "shared"
    if shared.is_dir():  # CI clones beside ../shared (the peers' test data the unit tests read); so does /src
        args += ["-v", f"{shared}:/shared:ro"]
    cert = pip_cert()
    if cert:  # the CA bundle pip's configuration names here (it may hold a site CA for the package mirror)
        args += ["-v", f"{cert}:{HOST_CA}:ro", "-e", f"PIP_CERT={HOST_CA}"]
    script = (
        # debootstrap's own sources.list names only the main suite; the mounted sources are this machine's.
        "rm -f /etc/apt/sources.list; mkdir -p /var/cache/apt/archives/partial /src; "
        f"for p in {shlex.join(CONFIG)}; do if [ -e {HOST_CONFIG}$p ]; then rm -rf $p; "
        f"mkdir -p $(dirname $p); cp -a {HOST_CONFIG}$p $p; fi; done; "
        # A machine whose package mirror needs a site CA has it in the system store, where every client finds
        # it, even one that drops PIP_CERT from its environment (ansible-test's pip does): it joins
        # /etc/ssl/certs/ca-certificates.crt when the ca-certificates package is installed (by make setup).
        f"if [ -f {HOST_CA} ]; then mkdir -p /usr/local/share/ca-certificates; "
        f"cp {HOST_CA} /usr/local/share/ca-certificates/rackwright-host-ca.crt; "
        "if command -v update-ca-certificates >/dev/null; then update-ca-certificates >/dev/null; fi; fi; "
        'tar -x -C /src; cd /src; echo "pristine: $(. /etc/os-release; echo $PRETTY_NAME), '
        '$(python3 --version), no venv, $(dpkg-query -f . -W | wc -c) packages"; exec ' + shlex.join(command)
    )
    return [*args, IMAGE, "bash", "-e", "-c", script]


def matrix_sources(flow: dict) -> dict[str, str]:
    """{job that derives a matrix: the job whose matrix it is}, from each `fromJSON(needs.JOB.outputs.N)`."""
    sources = {}
    for job, spec in flow["jobs"].items():
        matrix = spec.get("strategy", {}).get("matrix", {})
        for values in matrix.values() if isinstance(matrix, dict) else []:
            derived = NEEDS_OUTPUT.fullmatch(values.strip()) if isinstance(values, str) else None
            if derived:
                sources[derived.group(1)] = job
    return sources


def needed_output(flow: dict, job: str, needed: str, name: str) -> str:
    """Output NAME of the job NEEDED (which JOB needs), as its runner computes it: its run: steps in order,
    with bash in this work tree, each writing `key=value` lines to $GITHUB_OUTPUT. Only a job of a checkout
    and run: steps is replayed so, on this machine: one that lists files, not one that installs or tests."""
    needs = flow["jobs"][job].get("needs", [])
    if needed not in ([needs] if isinstance(needs, str) else needs) or needed not in flow["jobs"]:
        raise SystemExit(f"pristine: job {job}: its matrix reads needs.{needed}, a job it does not need")
    spec = flow["jobs"][needed]
    source = STEP_OUTPUT.fullmatch(str(spec.get("outputs", {}).get(name, "")).strip())
    if not source:
        raise SystemExit(
            f"pristine: job {needed}: no output {name!r} that a step writes (steps.ID.outputs.KEY)"
        )
    # A runner has no make around the step: a MAKELEVEL from `make pristine-JOB` would make make print
    # "Entering directory" into the output.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "MFLAGS"))}
    written = {}
    with tempfile.TemporaryDirectory() as tmp:
        for number, step in enumerate(spec["steps"]):
            if "uses" in step and not step["uses"].startswith("actions/checkout@"):
                raise SystemExit(
                    f"pristine: job {needed}: step uses {step['uses']}; only a checkout is replayed"
                )
            if "run" not in step:
                continue
            output = Path(tmp) / f"output-{number}"
            output.touch()
            env["GITHUB_OUTPUT"] = str(output)
            run = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=ROOT, env=env, check=False)
            if run.returncode != 0:
                raise SystemExit(
                    f"pristine: job {needed}: step {step['run']!r} failed (exit {run.returncode})"
                )
            lines = output.read_text().splitlines()
            if any("=" not in line for line in lines if line):
                raise SystemExit(
                    f"pristine: job {needed}: step {step['run']!r} wrote other than key=value lines"
                )
            written[step.get("id")] = dict(line.split("=", 1) for line in lines if line)
    step_id, key = source.groups()
    if key not in written.get(step_id, {}):
        raise SystemExit(f"pristine: job {needed}: step {step_id!r} wrote no output {key!r}")
    return written[step_id][key]


def matrix_values(flow: dict, job: str) -> tuple[str | None, list]:
    """JOB's matrix key and values, (None, [None]) for a job without a matrix; a derived matrix computed."""
    matrix = flow["jobs"][job].get("strategy", {}).get("matrix", {})
    if not isinstance(matrix, dict) or len(matrix) > 1:
        raise SystemExit(f"pristine: job {job}: a matrix other than one key ({matrix})")
    key, values = next(iter(matrix.items()), (None, [None]))
    if isinstance(values, str):
        derived = NEEDS_OUTPUT.fullmatch(values.strip())
        if not derived:
            raise SystemExit(
                f"pristine: job {job}: matrix.{key} is {values!r}, not a list nor fromJSON(needs...)"
            )
        text = needed_output(flow, job, *derived.groups())
        try:
            values = json.loads(text)
        except json.JSONDecodeError as error:
            raise SystemExit(f"pristine: job {job}: matrix.{key} {text!r} is not JSON ({error})") from None
        if not isinstance(values, list) or not values:
            raise SystemExit(f"pristine: job {job}: matrix.{key} {text!r} is not a list of values")
        say(f"job {job}: matrix.{key} from job {derived.group(1)}: {', '.join(map(str, values))}")
    return key, values


def job_runs(job: str) -> list[tuple[str, list[str]]]:
    """The runners JOB starts, as (label, command): one per matrix value, each running the make targets of
    the job's `run:` steps in .github/workflows/ci.yml, in order, as run_layers.py arguments.

    The container runs as root, so `$ROOT_MAKE target` (sudo make on a hosted runner) is plain make here.
    """
    import yaml  # the virtualenv's; only --job needs it

    flow = yaml.safe_load(WORKFLOW.read_text())
    if job not in flow.get("jobs", {}):
        raise SystemExit(
            f"pristine: no job {job!r} in {WORKFLOW.relative_to(ROOT)} (jobs: {', '.join(flow['jobs'])})"
        )
    if job in matrix_sources(flow):
        raise SystemExit(
            f"pristine: job {job} only lists job {matrix_sources(flow)[job]}'s matrix, which --job "
            f"{matrix_sources(flow)[job]} computes from it"
        )
    spec = flow["jobs"][job]
    key, values = matrix_values(flow, job)
    runs = []
    for value in values:
        targets = []
        for step in spec["steps"]:
            if "run" not in step:
                continue
            line = step["run"].replace("$ROOT_MAKE", "make")
            if key is not None:
                line = line.replace("${{ matrix." + key + " }}", str(value))
            words = line.split()
            if len(words) != 2 or words[0] != "make" or "${{" in line:
                raise SystemExit(f"pristine: job {job}: step {step['run']!r} is not `make TARGET`")
            targets.append(words[1])
        label = job if key is None else f"{job}-{value}"
        runs.append((label, ["python3", "scripts/run_layers.py", *targets]))
    return runs


def run_in_container(label: str, command: list[str]) -> int:
    """Run COMMAND in a fresh pristine container; its exit status."""
    start = time.monotonic()
    files = tree_files()
    name = f"rackwright-pristine-{os.getpid()}-{label}"
    say(f"[{label}] {len(files)} files of the work tree into a bare {IMAGE}; running: {shlex.join(command)}")
    docker = subprocess.Popen(docker_args(name, command, REPORTS / label), stdin=subprocess.PIPE)
    tar = subprocess.run(
        ["tar", "-c", "-C", str(ROOT), "--null", "-T", "-"], input="\0".join(files).encode(),
        stdout=docker.stdin, check=False,
    )  # fmt: skip
    docker.stdin.close()
    try:
        rc = docker.wait()
    except KeyboardInterrupt:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)
        raise
    took = time.monotonic() - start
    if tar.returncode != 0 and rc == 0:  # (a container that failed to start makes tar fail too: report that)
        say(f"[{label}] copying the work tree failed (tar exit {tar.returncode})")
        return tar.returncode
    verdict = "passed" if rc == 0 else f"FAILED (exit {rc}; the failing step is named above)"
    say(f"[{label}] {shlex.join(command)}: {verdict} in {took:.0f} s; reports in {REPORTS / label}")
    return rc


def main(argv: list[str]) -> int:
    if argv[:1] == ["--job"] and len(argv) == 2:
        runs = job_runs(argv[1])
    elif "--" in argv and argv.index("--") < len(argv) - 1:
        runs = [("command", argv[argv.index("--") + 1 :])]
    else:
        print(
            "usage: pristine.py --job JOB | -- COMMAND...  (e.g. --job lint-unit, or -- make unit)",
            file=sys.stderr,
        )
        return 2
    build = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "build_images.py"), str(RECIPE)], check=False
    )
    if build.returncode != 0:
        say("building the pristine image failed (see above)")
        return build.returncode
    results = [(label, run_in_container(label, command)) for label, command in runs]
    failed = [label for label, rc in results if rc != 0]
    if len(results) > 1:
        say(
            f"{len(results) - len(failed)} of {len(results)} runners passed"
            + (f"; FAILED: {', '.join(failed)}" if failed else "")
        )
    return next((rc for _, rc in results if rc != 0), 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
