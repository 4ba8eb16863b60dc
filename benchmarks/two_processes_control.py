"""Control for results/performance.md: is a second core free right now? Run it alone, then two
copies at once (``python benchmarks/two_processes_control.py & python
benchmarks/two_processes_control.py; wait``): on two free cores each copy takes as long as alone.
Three InfoNCE fits (500 steps) in one plain process, no mibench sweep machinery."""
import os, time, resource
import mibench
t = mibench.make_task("multinormal-dense-2-2-0.5"); x, y = t.sample(2000, 0)
mibench.estimate(x, y, "infonce", max_steps=5)  # warm-up: imports
c0 = time.process_time(); w0 = time.perf_counter()
for s in range(3):
    mibench.estimate(x, y, "infonce", max_steps=500, seed=s)
print(f"pid {os.getpid()}: wall {time.perf_counter()-w0:.2f} s cpu {time.process_time()-c0:.2f} s")
