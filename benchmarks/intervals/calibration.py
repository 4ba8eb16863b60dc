"""Calibration of the default 95 % interval (``estimate(ci=None)``), per estimator and task.

Over S seeds at sample size n: cover(mean) is the fraction of intervals containing the mean of
the S values (a proxy for E[Î]: does the interval measure the sampling spread?), cover(truth)
the fraction containing the true MI (fails where bias dominates), sd the sd of the S values
against mean_se, the mean se the intervals used. Output of the committed run:
``calibration.txt``, made by

    OMP_NUM_THREADS=1 python benchmarks/intervals/calibration.py \
        gaussian,histogram,ksg,mixed-ksg,kl,kde,logvar \
        1v1-normal-0.75,multinormal-dense-5-5-0.5,independent-normal-5-5 1000 100
"""
import sys, time
import numpy as np, mibench
names = sys.argv[1].split(",")
tasks = sys.argv[2].split(",")
n = int(sys.argv[3]); S = int(sys.argv[4])
for task in tasks:
    T = mibench.make_task(task)
    for name in names:
        t0 = time.time()
        vals, lo, hi, se = [], [], [], []
        for s in range(S):
            x, y = T.sample(n, s)
            est = mibench.make_estimator(name)
            if "seed" in est.get_params():
                est.set_params(seed=s)
            e = est.estimate(x, y)
            vals.append(e.value); lo.append(e.ci_low); hi.append(e.ci_high); se.append(e.stderr)
        vals, lo, hi = map(np.array, (vals, lo, hi))
        c = vals.mean()
        print(f"{task:28s} {name:10s} n={n} method={e.ci_method:9s} cover(mean)={np.mean((lo<=c)&(c<=hi)):.2f} "
              f"cover(truth)={np.mean((lo<=T.mutual_information)&(T.mutual_information<=hi)):.2f} "
              f"sd={vals.std(ddof=1):.4f} mean_se={np.mean(se):.4f} width={np.mean(hi-lo):.4f} "
              f"bias={c-T.mutual_information:+.4f} {time.time()-t0:.0f}s", flush=True)
