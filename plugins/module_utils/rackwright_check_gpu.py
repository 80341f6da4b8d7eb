# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The gpu check of the gpu_health module, also run by health_sweep (one module run per host)."""

from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_health import Verdict
from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_module import (
    FROM_FILES_SPEC,
    finish,
    first_line,
    parse_safely,
    read_input,
    run_tool,
    saved_paths,
    thresholds_or_fail,
)
from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_nvidia_smi import (
    DEFAULT_THRESHOLDS,
    parse_nvidia_smi,
)

EXPECTED = "nvidia-smi -q -x output"


# The module's options (hw_inventory, disk_health, ...: AnsibleModule(**SPEC)); health_sweep validates a
# check's options against the same SPEC.
SPEC = dict(
    argument_spec=dict(
        from_files=FROM_FILES_SPEC,
        expect_gpus=dict(type="bool", default=False),
        thresholds=dict(type="dict", default={}),
    ),
    supports_check_mode=True,
)


def run(module):
    """Run the check with MODULE's params and end MODULE with its result (finish)."""
    thresholds = thresholds_or_fail(module, DEFAULT_THRESHOLDS)
    paths = saved_paths(module, EXPECTED)
    missing = "critical" if module.params["expect_gpus"] else "unknown"
    verdict = Verdict()
    gpus = []
    result = {"changed": False, "gpus": gpus}
    documents = []
    if paths is not None:
        for path in paths:
            text, problem = read_input(path)
            if problem is not None:
                verdict.add("unknown", problem)
            else:
                documents.append((text, path))
    else:
        binary = module.get_bin_path("nvidia-smi")
        if not binary:
            verdict.add(missing, "nvidia-smi not found in PATH: no NVIDIA driver installed")
        else:
            rc, out, err = run_tool(module, [binary, "-q", "-x"])
            if rc != 0 or "<nvidia_smi_log" not in out:
                verdict.add(missing, f"nvidia-smi failed (exit status {rc}): {first_line(out or err)}")
            else:
                documents = [(out, "nvidia-smi -q -x")]
    parsed_any = False
    for text, source in documents:
        parsed, problem = parse_safely(
            "nvidia-smi", source, EXPECTED, parse_nvidia_smi, text, source, thresholds
        )
        if problem is not None:
            verdict.add("unknown", problem)
            continue
        parsed_any = True
        result["driver_version"] = parsed["driver_version"]
        gpus.extend(parsed["gpus"])
    for gpu in gpus:
        verdict.absorb(gpu, "GPU {} {}".format(gpu["index"], gpu["name"]))
    if parsed_any and not gpus:
        verdict.add(missing, "nvidia-smi reports no GPUs")
    finish(module, verdict, **result)
