"""Task sampler versions (``Task.version``): which built-in ids are past version 1, and the rule
by which a transformed task derives its version from its base and its transform."""

import numpy as np
import pytest

import mibench
from mibench.api import Task
from mibench.tasks import BMI_V1, BMI_V2, BUILTIN
from mibench.tasks import transforms as tr

#: The bmi-v1 ∪ bmi-v2 ids whose samples changed in commit fd2312c (sparse base on bmi's
#: correlation matrix; spiral speed 1/dim and bmi's rotation direction). Obtained once, by a
#: script outside the test suite: the ``mibench`` and ``tasks`` trees of 26b4663 (before the fix)
#: and of 2d7cec2 (after it) were extracted with ``git archive`` into two folders, each imported
#: in its own process (PYTHONPATH), and ``make_task(id).sample(500, seed=3)`` was compared
#: bit for bit for all 53 ids: exactly these 16 differ (``2v1-galaxy-…``, whose spiral was
#: rewritten as an equal map, and ``mult-sparse-w-inliers-…``, whose correlation matrix only
#: moved module, do not).
CHANGED_IN_FD2312C = {
    *[f"multinormal-sparse-{d}-{d}-2-2.0" for d in (2, 3, 5, 25)],
    *[f"{p}-multinormal-sparse-{d}-{d}-2-2.0"
      for p in ("normal_cdf", "half_cube", "spiral", "spiral-normal_cdf") for d in (3, 5, 25)],
}


def test_exactly_the_changed_bmi_ids_are_past_version_1():
    ids = set(BMI_V1) | set(BMI_V2)
    assert len(ids) == 53 and len(CHANGED_IN_FD2312C) == 16
    versions = {t: mibench.make_task(t).version for t in ids}
    assert {t for t, v in versions.items() if v > 1} == CHANGED_IN_FD2312C
    # base 2; normal_cdf/half_cube (version 1) keep it; the spiral (version 2) adds 1
    for t in CHANGED_IN_FD2312C:
        assert versions[t] == (3 if t.startswith("spiral-") else 2), t


def test_every_other_builtin_task_is_at_version_1():
    for tid in BUILTIN:
        if tid not in CHANGED_IN_FD2312C:
            assert mibench.make_task(tid).version == 1, tid


def _toy(version=1):
    def sampler(n, rng):
        z = rng.standard_normal((n, 3))
        return z[:, :2], z[:, 2:] + z[:, :1]
    return Task(id="toy-2-1", dim_x=2, dim_y=1, mutual_information=0.0, sampler=sampler,
                version=version)


def test_transformed_version_is_base_plus_transform_minus_one(monkeypatch):
    base = _toy(version=4)
    tx, ty = tr.TRANSFORMS["half_cube"]
    assert tr.transform_task(base, "half_cube", tx, ty).version == 4  # half_cube: version 1
    assert tr.transform_task(base, "half_cube", tx, ty, version=3).version == 6
    monkeypatch.setitem(tr.TRANSFORM_VERSIONS, "half_cube", 2)  # a bump of the transform
    assert tr.transform_task(base, "half_cube", tx, ty).version == 5
    assert tr.transform_task(_toy(), "half_cube", tx, ty).version == 2
    with pytest.raises(ValueError, match="version"):
        tr.transform_task(base, "half_cube", tx, ty, version=0)


def test_task_version_is_validated_described_and_not_compared():
    assert _toy(2).describe()["version"] == 2
    assert mibench.make_task("1v1-normal-0.75").describe()["version"] == 1
    assert _toy(1) == _toy(2)  # compare=False: the version is about the sampler, not identity
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="version must be an integer"):
            _toy(bad)
    x1, _ = _toy(1).sample(5, seed=0)
    x2, _ = _toy(2).sample(5, seed=0)
    assert np.array_equal(x1, x2)
