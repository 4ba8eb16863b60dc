"""Non-neural estimators on affine maps of one data set (issue 10 "Scale"); not run in CI.
Run: ``python benchmarks/nonparam/affine_cases.py LABEL``; before/after tables in affine_cases.txt."""
import sys

import mibench
import numpy as np
from mibench.testing import conformance_data, affine_cases, _fresh
from mibench.registry import make_estimator
NAMES = ["ksg", "ksg2", "kl", "mixed-ksg", "logvar", "histogram", "kde", "mmd", "gaussian"]
x, y = conformance_data()
print(f"# affine cases [{sys.argv[1]}]: value on (x,y) and on each case, n=300, conformance_data")
for name in NAMES:
    base = _fresh(make_estimator(name)).estimate(x, y).value
    out = [f"{name:9s} base={base:+.6f}"]
    for label, (a, b, _) in affine_cases(x, y).items():
        try:
            v = _fresh(make_estimator(name)).estimate(a, b).value
            out.append(f"  {label[:28]:28s} {v:+.6f} (diff {v-base:+.1e})")
        except Exception as e:
            out.append(f"  {label[:28]:28s} {type(e).__name__}: {str(e)[:80]}")
    print("\n".join(out))
