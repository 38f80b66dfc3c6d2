"""Every preset, shrunk to a few steps, still trains to the numbers recorded before the core refactor.

The fixture (``tests/fixtures/golden_runs.json``) was written by gankit 0.1.0's
core; ``python tests/golden_runs.py`` prints, per preset, whether the weights'
and losses' SHA-256 are still identical. Here the logged statistics are
compared to a float tolerance, so that the test also holds on a CPU whose
kernels round differently.
"""

import json
import math

import pytest
from golden_runs import FIXTURE, record_preset

RECORDED = json.loads(FIXTURE.read_text())["runs"]


@pytest.mark.parametrize("preset", sorted(RECORDED))
def test_preset_trains_to_its_recorded_numbers(preset, tmp_path):
    now = record_preset(preset, tmp_path)
    then = RECORDED[preset]
    assert len(now["losses"]) == len(then["losses"])
    for step_now, step_then in zip(now["losses"], then["losses"]):
        # A statistic may be added (InfoGAN's mutual_information_bound came after the recording); every recorded
        # one must still be logged, with the same value.
        missing = sorted(set(step_then) - set(step_now))
        assert not missing, f"{preset}: recorded statistics no longer logged: {missing}"
        for key, value in step_then.items():
            assert math.isclose(step_now[key], value, rel_tol=1e-4, abs_tol=1e-6), (preset, step_then["step"], key)
