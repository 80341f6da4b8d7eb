"""The pull-request workflow (.github/workflows/ci.yml) read the way a bare hosted runner would run it.

Each testing job's `run:` steps must be make targets that install or depend on everything they need: a target
that relies on something only a developer's machine has fails here with the job and step named. Every testing
job's steps also run for real, in order, in pristine Debian containers (`make pristine`, which `make test`
runs). The scenarios job only lists the molecule job's matrix (`make scenarios`), which nobody keeps by hand.
"""

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
SHA = re.compile(r"^[\w.-]+/[\w.-]+@[0-9a-f]{40}$")
# The molecule job's matrix: the scenarios job's output.
DERIVED = "${{ fromJSON(needs.scenarios.outputs.scenarios) }}"
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


def load_pristine():
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import pristine
    finally:
        sys.path.pop(0)
    return pristine


def jobs_that_test() -> list[str]:
    """The workflow's jobs but those that only derive another job's matrix (the scenarios job)."""
    flow = workflow()
    return [job for job in flow["jobs"] if job not in load_pristine().matrix_sources(flow)]


def run_steps():
    """(job, step command, make target) for every run: step of every testing job, one per matrix value (a
    derived matrix computed as its runner does, by scripts/pristine.py)."""
    flow = workflow()
    root_make = flow["env"]["ROOT_MAKE"]
    for job_name in jobs_that_test():
        job = flow["jobs"][job_name]
        key, values = load_pristine().matrix_values(flow, job_name)
        for step in job["steps"]:
            if "run" not in step:
                continue
            for value in values:
                command = step["run"].replace("$ROOT_MAKE", root_make)
                command = command.replace("${{ matrix." + str(key) + " }}", str(value))
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


def test_matrix_is_derived_from_the_scenarios_that_exist():
    """No hand-kept list: the molecule job's matrix is the scenarios job's output, `make scenarios`, which
    lists every molecule/*/molecule.yml; computed as the runner computes it, it is exactly the scenarios."""
    flow = workflow()
    molecule = flow["jobs"]["molecule"]
    assert molecule["needs"] == "scenarios"
    assert molecule["strategy"]["matrix"] == {"scenario": DERIVED}
    pristine = load_pristine()
    assert pristine.matrix_sources(flow) == {"scenarios": "molecule"}
    assert pristine.matrix_values(flow, "molecule") == ("scenario", scenarios())
    listed = subprocess.run(
        ["make", "--no-print-directory", "scenarios"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert json.loads(listed.stdout) == scenarios() == ["backup", "base_os", "hardware_health"]


def test_the_matrix_is_computed_alike_under_make(monkeypatch):
    """pristine runs under make (`make pristine-molecule`), whose MAKEFLAGS and MAKELEVEL would reach the
    scenarios step's make; a runner has none. With `n` among them, that make would print its recipe."""
    monkeypatch.setenv("MAKEFLAGS", "n")
    monkeypatch.setenv("MAKELEVEL", "1")
    assert load_pristine().matrix_values(workflow(), "molecule") == ("scenario", scenarios())


def test_a_new_scenario_gets_its_runner_without_editing_the_workflow(tmp_path, monkeypatch):
    """A copy of the tree with more scenarios (and a folder of molecule/ that is none): pristine, reading the
    unchanged workflow, starts one runner per scenario, the new ones included, in `make scenarios` order."""
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    shutil.copy(WORKFLOW, tmp_path / ".github" / "workflows" / "ci.yml")
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    for scenario in ("backup", "zz_new", "a-first"):
        (tmp_path / "molecule" / scenario).mkdir(parents=True)
        (tmp_path / "molecule" / scenario / "molecule.yml").write_text("---\n")
    (tmp_path / "molecule" / "files").mkdir()
    (tmp_path / "molecule" / "files" / "converge.yml").write_text("---\n")
    pristine = load_pristine()
    monkeypatch.setattr(pristine, "ROOT", tmp_path)
    monkeypatch.setattr(pristine, "WORKFLOW", tmp_path / ".github" / "workflows" / "ci.yml")
    runs = pristine.job_runs("molecule")
    assert [label for label, _ in runs] == ["molecule-a-first", "molecule-backup", "molecule-zz_new"]
    assert runs[2][1] == ["python3", "scripts/run_layers.py", "molecule-zz_new"]


def test_pristine_names_a_matrix_it_cannot_compute():
    pristine = load_pristine()
    checkout = {"uses": "actions/checkout@" + "0" * 40}

    def flow(step_run, needs="scenarios", output="${{ steps.list.outputs.scenarios }}"):
        return {
            "jobs": {
                "scenarios": {
                    "outputs": {"scenarios": output},
                    "steps": [checkout, {"id": "list", "run": step_run}],
                },
                "molecule": {
                    "needs": needs,
                    "strategy": {"matrix": {"scenario": DERIVED}},
                    "steps": [{"run": "make molecule-${{ matrix.scenario }}"}],
                },
            }
        }

    good = 'echo \'scenarios=["a", "b"]\' >> "$GITHUB_OUTPUT"'
    assert pristine.matrix_values(flow(good), "molecule") == ("scenario", ["a", "b"])
    with pytest.raises(SystemExit, match="a job it does not need"):
        pristine.matrix_values(flow(good, needs=[]), "molecule")
    with pytest.raises(SystemExit, match="no output 'scenarios' that a step writes"):
        pristine.matrix_values(flow(good, output="[a]"), "molecule")
    with pytest.raises(SystemExit, match="is not JSON"):
        pristine.matrix_values(flow('echo "scenarios=a b" >> "$GITHUB_OUTPUT"'), "molecule")
    with pytest.raises(SystemExit, match="is not a list of values"):
        pristine.matrix_values(flow('echo "scenarios=[]" >> "$GITHUB_OUTPUT"'), "molecule")
    with pytest.raises(SystemExit, match="wrote no output 'scenarios'"):
        pristine.matrix_values(flow('echo "other=[1]" >> "$GITHUB_OUTPUT"'), "molecule")
    with pytest.raises(SystemExit, match=r"failed \(exit 3\)"):
        pristine.matrix_values(flow("exit 3"), "molecule")


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
    """`make test` (the README's test command) is every job of the workflow that tests, each replayed by
    scripts/pristine.py in bare containers (one per matrix value), the lab job included; the scenarios job,
    which only lists the molecule job's matrix, is computed by pristine for that job."""
    makefile = (ROOT / "Makefile").read_text()
    jobs = re.search(r"^JOBS := (.*)$", makefile, re.M).group(1).split()
    assert jobs == jobs_that_test(), f"Makefile JOBS {jobs} != the workflow's testing jobs"
    assert jobs == ["lint-unit", "molecule", "lab"], jobs
    assert list(workflow()["jobs"]) == ["lint-unit", "scenarios", "molecule", "lab"]
    # The jobs run as CI runs them, side by side: the lab in its own lane, the others one after another.
    test = re.search(r"^test:.*\n\t.*run_layers\.py --lanes (.*)$", makefile, re.M).group(1)
    lanes = [lane.split() for lane in shlex.split(test)]
    assert lanes == [["$(addprefix", "pristine-,$(filter-out", "lab,$(JOBS)))"], ["pristine-lab"]], lanes
    pristine = re.search(r"^pristine-%:.*\n\t(.*)$", makefile, re.M).group(1)
    assert "scripts/pristine.py --job $*" in pristine
    molecule_targets = {t for _, _, t in run_steps() if t.startswith("molecule-")}
    assert molecule_targets == {f"molecule-{s}" for s in scenarios()}


def test_pristine_replays_each_matrix_value_on_its_own_runner():
    pristine = load_pristine()
    expected = [(f"molecule-{s}", ["python3", "scripts/run_layers.py", f"molecule-{s}"]) for s in scenarios()]
    assert pristine.job_runs("molecule") == expected
    assert dict(pristine.job_runs("lab")) == {"lab": ["python3", "scripts/run_layers.py", "test-lab"]}
    with pytest.raises(SystemExit, match="no job 'nope'"):
        pristine.job_runs("nope")
    with pytest.raises(SystemExit, match="job scenarios only lists job molecule's matrix"):
        pristine.job_runs("scenarios")


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
    pristine = load_pristine()

    def apt_mount(label):
        args = pristine.docker_args("x", ["true"], tmp_path / label)
        return next(a for a in args if a.endswith(":/var/cache/apt/archives"))

    assert apt_mount("lab") != apt_mount("lint-unit")
