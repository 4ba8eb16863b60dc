"""mixed-ksg (k = 5) against known truths (issue 10 §2): constant, independent, rounded Gaussians
(truth of the rounded pair by exact summation), a 4×4 discrete toy, label and rate/distortion tasks.
Not run in CI. Run: ``python benchmarks/nonparam/mixed_ksg_truths.py LABEL``; the before (version
1) and after (version 2) tables are committed as ``mixed_ksg_truths.txt``."""
import sys, math, numpy as np
from scipy.stats import norm
from scipy.integrate import quad
import mibench

def rounded_gauss_truth(rho, half=8):
    s = math.sqrt(1 - rho**2)
    ks = np.arange(-half, half + 1)
    P = np.zeros((ks.size, ks.size))
    for a, i in enumerate(ks):
        for b, j in enumerate(ks):
            f = lambda x: norm.pdf(x) * (norm.cdf((j + .5 - rho * x) / s) - norm.cdf((j - .5 - rho * x) / s))
            P[a, b] = quad(f, i - .5, i + .5, epsabs=1e-14)[0]
    P /= P.sum()
    px, py = P.sum(1, keepdims=True), P.sum(0, keepdims=True)
    nz = P > 0
    return float((P[nz] * np.log(P[nz] / (px @ py)[nz])).sum())

def rounded_gauss(n, rho, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n)
    y = rho * x + math.sqrt(1 - rho**2) * rng.standard_normal(n)
    return np.round(x)[:, None], np.round(y)[:, None]

# discrete toy with exact MI: X uniform on {0..3}, Y = X with prob 0.7 else uniform on {0..3}
def toy(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 4, n)
    y = np.where(rng.random(n) < 0.7, x, rng.integers(0, 4, n))
    return x[:, None].astype(float), y[:, None].astype(float)
P = np.full((4, 4), 0.3 / 16) + np.eye(4) * 0.7 / 4
TOY_TRUTH = float((P * np.log(P / (P.sum(1, keepdims=True) @ P.sum(0, keepdims=True)))).sum())

rho = 0.8
RG = rounded_gauss_truth(rho)
rows = []
def run(label, truth, gen, seeds):
    vals = [mibench.estimate(*gen(s), "mixed-ksg").value for s in seeds]
    rows.append((label, truth, np.mean(vals), np.std(vals), np.mean(vals) - truth))

rng0 = np.random.default_rng
run("constant y, x~N(0,1), n=2000", 0.0,
    lambda s: (rng0(s).standard_normal((2000, 1)), np.ones((2000, 1))), range(3))
run("independent continuous N(0,1)^2, n=2000", 0.0,
    lambda s: (rng0(s).standard_normal((2000, 1)), rng0(s + 100).standard_normal((2000, 1))), range(3))
run("independent x in {0..4}, y~N(0,1), n=2000", 0.0,
    lambda s: (rng0(s).integers(0, 5, (2000, 1)).astype(float), rng0(s + 100).standard_normal((2000, 1))), range(3))
run("independent discrete {0..3}x{0..3}, n=5000", 0.0,
    lambda s: (rng0(s).integers(0, 4, (5000, 1)).astype(float), rng0(s + 100).integers(0, 4, (5000, 1)).astype(float)), range(3))
run(f"rounded Gaussians rho={rho}, n=200", RG, lambda s: rounded_gauss(200, rho, s), range(20))
run(f"rounded Gaussians rho={rho}, n=5000", RG, lambda s: rounded_gauss(5000, rho, s), range(3))
run("discrete toy 4x4 (p=0.7), n=5000", TOY_TRUTH, lambda s: toy(5000, s), range(3))
for tid in ("labels-4-2-2.0", "rd-toy-30-0.5", "labels-2-1-2.0"):
    t = mibench.make_task(tid)
    run(f"{tid}, n=5000", t.mutual_information, lambda s: t.sample(5000, seed=s), range(3))
print(f"# mixed-ksg k=5 [{sys.argv[1]}]")
print(f"{'case':48s} {'truth':>7s} {'mean':>8s} {'sd':>7s} {'error':>8s}")
for r in rows:
    print(f"{r[0]:48s} {r[1]:7.4f} {r[2]:8.4f} {r[3]:7.4f} {r[4]:+8.4f}")
