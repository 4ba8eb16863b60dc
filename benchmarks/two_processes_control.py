"""Control for results/performance.md: is a second core free right now? Run it alone, then two
copies at once (``python benchmarks/two_processes_control.py & python
benchmarks/two_processes_control.py; wait``): on two free cores each copy takes as long as alone.
Three InfoNCE fits (500 steps) in one plain process, without mibench's sweep machinery; run it
with ``OMP_NUM_THREADS=1``."""

import os
import time

import mibench

task = mibench.make_task("multinormal-dense-2-2-0.5")
x, y = task.sample(2000, 0)
mibench.estimate(x, y, "infonce", max_steps=5)  # warm-up: imports, first call
cpu, wall = time.process_time(), time.perf_counter()
for seed in range(3):
    mibench.estimate(x, y, "infonce", max_steps=500, seed=seed)
print(f"pid {os.getpid()}: wall {time.perf_counter() - wall:.2f} s, "
      f"CPU {time.process_time() - cpu:.2f} s")
