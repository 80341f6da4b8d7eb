"""The pull-request workflow (.github/workflows/ci.yml) read the way a bare hosted runner would run it.

Each job's `run:` steps must be make targets that install or depend on everything they need: a target that
relies on something only a developer's machine has fails here with the job and step named. Every job's steps
also run for real, in order, in pristine Debian containers (`make pristine`; `make test` runs the lint-unit
and molecule jobs that way and the lab job's target on the host).
"""

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
SHA = re.compile(r"^[\w.-]+/[\w.-]+@[0-9a-f]{40}$")
# What a target must do, on a runner that has only the checkout and Python, before its own work: the layer
# of the first target-name prefix that fits.
LAYER_OF = (
    ("lint", "setup"),
    ("unit", "unit"),
    ("integration", "integration"),
    ("test-lab", "lab"),
    ("molecule-", "molecule"),
)


def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def run_steps():
    """(job, step command, make target) for every run: step of every job, one per matrix value."""
    root_make = workflow()["env"]["ROOT_MAKE"]
    for job_name, job in workflow()["jobs"].items():
        matrix = job.get("strategy", {}).get("matrix", {}).get("scenario", [None])
        for step in job["steps"]:
            if "run" not in step:
                continue
            for scenario in matrix:
                command = step["run"].replace("$ROOT_MAKE", root_make)
                command = command.replace("${{ matrix.scenario }}", str(scenario))
                match = re.fullmatch(r"(?:sudo --preserve-env=\S+ )?make (\S+)", command.strip())
                assert match, (
                    f"job {job_name}: step `{step['run']}` is not one make target (as developers run)"
                )
                yield job_name, step["run"], match.group(1)


def scenarios() -> list[str]:
    return sorted(p.parent.name for p in (ROOT / "molecule").glob("*/molecule.yml"))


def test_workflow_is_valid_against_githubs_schema():
    check = Path(sys.executable).parent / "check-jsonschema"
    run = subprocess.run(
        [str(check), "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr


def test_matrix_follows_the_scenarios_that_exist():
    matrix = workflow()["jobs"]["molecule"]["strategy"]["matrix"]["scenario"]
    assert sorted(matrix) == scenarios(), f"molecule matrix {matrix} != scenarios in molecule/ {scenarios()}"


def test_actions_are_pinned_by_commit_and_superseded_runs_cancelled():
    flow = workflow()
    for job_name, job in flow["jobs"].items():
        for step in job["steps"]:
            if "uses" in step:
                assert SHA.match(step["uses"]), f"job {job_name}: {step['uses']} is not pinned to a commit"
        assert job.get("timeout-minutes"), f"job {job_name} has no timeout"
    assert flow["concurrency"]["cancel-in-progress"] is True
    assert flow["permissions"] == {"contents": "read"}


def dry_run(target: str) -> str:
    """What `make TARGET` would run on a runner with nothing installed and nothing built yet."""
    run = subprocess.run(
        ["make", "--dry-run", "--always-make", "--no-print-directory", target],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert run.returncode == 0, f"make {target}: {run.stderr}"
    return run.stdout


@pytest.mark.parametrize(("job", "step", "target"), list(run_steps()), ids=str)
def test_each_step_installs_what_it_needs(job, step, target):
    """From a bare runner, the step's target creates the venv and installs its layer's Debian packages."""
    commands = dry_run(target)
    where = f"job {job}, step `{step}`"
    assert "-m venv .venv" in commands, (
        f"{where}: make {target} never creates .venv (add `setup` to its prerequisites)"
    )
    layer = next(layer for prefix, layer in LAYER_OF if target.startswith(prefix))
    assert f"ensure_system.py packages {layer}" in commands, (
        f"{where}: make {target} never installs the {layer} layer's Debian packages "
        f"(add `system-{layer}` to its prerequisites)"
    )
    if layer in ("molecule",):
        assert "ensure_system.py docker" in commands and "build_images.py" in commands, (
            f"{where}: make {target} neither starts dockerd nor builds the images it boots"
        )


def test_a_removed_prerequisite_is_named(tmp_path):
    """The check above catches the failure issue 17 measured: test-lab without system-lab."""
    broken = tmp_path / "Makefile"
    text = (ROOT / "Makefile").read_text().replace("-include lab/lab.mk", f"-include {ROOT}/lab/lab.mk")
    broken.write_text(text)
    lab_mk = (ROOT / "lab" / "lab.mk").read_text().replace("test-lab: setup system-lab ##", "test-lab: ##")
    (tmp_path / "lab.mk").write_text(lab_mk)
    broken.write_text(text.replace(f"-include {ROOT}/lab/lab.mk", f"-include {tmp_path}/lab.mk"))
    run = subprocess.run(
        ["make", "-f", str(broken), "--dry-run", "--always-make", "test-lab"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert run.returncode == 0 and "ensure_system.py packages lab" not in run.stdout
    assert "ensure_system.py packages lab" in dry_run("test-lab")


def test_make_test_replays_the_workflow_jobs():
    """`make test` (the README's test command) is every job of the workflow, each replayed by
    scripts/pristine.py in bare containers (one per matrix value), the lab job included."""
    makefile = (ROOT / "Makefile").read_text()
    jobs = re.search(r"^JOBS := (.*)$", makefile, re.M).group(1).split()
    assert jobs == list(workflow()["jobs"]), f"Makefile JOBS {jobs} != the workflow's jobs"
    assert jobs == ["lint-unit", "molecule", "lab"], jobs
    # The jobs run as CI runs them, side by side: the lab in its own lane, the others one after another.
    test = re.search(r"^test:.*\n\t.*run_layers\.py --lanes (.*)$", makefile, re.M).group(1)
    lanes = [lane.split() for lane in shlex.split(test)]
    assert lanes == [["$(addprefix", "pristine-,$(filter-out", "lab,$(JOBS)))"], ["pristine-lab"]], lanes
    pristine = re.search(r"^pristine-%:.*\n\t(.*)$", makefile, re.M).group(1)
    assert "scripts/pristine.py --job $*" in pristine
    molecule_targets = {t for _, _, t in run_steps() if t.startswith("molecule-")}
    assert molecule_targets == {f"molecule-{s}" for s in scenarios()}


def test_pristine_replays_each_matrix_value_on_its_own_runner():
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import pristine
    finally:
        sys.path.pop(0)
    runs = dict(pristine.job_runs("molecule"))
    assert sorted(runs) == [f"molecule-{s}" for s in scenarios()]
    assert runs["molecule-backup"] == ["python3", "scripts/run_layers.py", "molecule-backup"]
    assert dict(pristine.job_runs("lab")) == {"lab": ["python3", "scripts/run_layers.py", "test-lab"]}
    with pytest.raises(SystemExit, match="no job 'nope'"):
        pristine.job_runs("nope")


def test_run_layers_runs_lanes_side_by_side_and_names_every_failure(tmp_path):
    """make test's lanes: each lane in order, stopping at its first failure; the other lane runs on."""
    (tmp_path / "Makefile").write_text(
        "ok1:\n\t@sleep 1; echo one\nbad:\n\t@echo broken; exit 3\nnever:\n\t@echo never\nok2:\n\t@echo two\n"
    )
    run = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "run_layers.py"), "--lanes", "ok1 bad never", "ok2"],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert run.returncode == 2  # make's status for a failed recipe
    assert "[ok1] one" in run.stdout and "[bad] broken" in run.stdout and "[ok2] two" in run.stdout
    assert "[never]" not in run.stdout
    assert re.search(r"lane 1: bad\s+\S+\s+FAILED", run.stdout)
    assert re.search(r"lane 1: never\s+-\s+not run", run.stdout)
    assert re.search(r"lane 2: ok2\s+\S+\s+ok", run.stdout)
    usage = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "run_layers.py"), "--lanes", "a", ""],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert usage.returncode == 2 and "usage:" in usage.stderr


def test_runners_side_by_side_keep_their_own_apt_cache(tmp_path):
    """apt locks its archive cache while it runs: two jobs of make test sharing one failed at once
    ("Unable to lock directory /var/cache/apt/archives/")."""
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import pristine
    finally:
        sys.path.pop(0)

    def apt_mount(label):
        args = pristine.docker_args("x", ["true"], tmp_path / label)
        return next(a for a in args if a.endswith(":/var/cache/apt/archives"))

    assert apt_mount("lab") != apt_mount("lint-unit")
