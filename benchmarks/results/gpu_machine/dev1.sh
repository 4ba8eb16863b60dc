set -o pipefail; export PYTHONUNBUFFERED=1 MPLBACKEND=Agg; R=$PWD; end=$((SECONDS+570))
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site || exit 1
python3 -m pip install -q --no-index --no-deps --no-build-isolation . > $OUT/install.log 2>&1 || { tail -20 $OUT/install.log; exit 1; }
cd /tmp; nvidia-smi -L; nproc; cat /proc/loadavg; python3 -c "import torch,numpy;print(torch.__version__,numpy.__version__,torch.cuda.get_device_name())"
python3 -m pytest $R/tests/test_device.py -q -p no:cacheprovider -rs 2>&1 | tail -5
python3 -m pytest $R/benchmarks/test_bench_device.py -p no:cacheprovider --benchmark-only --benchmark-json $OUT/bench_device.json --benchmark-columns=mean,rounds -q 2>&1 | tail -25
cat /proc/loadavg
taskset -c 0,1 python3 -m pytest $R/benchmarks/test_bench_parallel.py -p no:cacheprovider --benchmark-only --benchmark-json $OUT/bench_parallel_2cores.json --benchmark-columns=mean,min,max,rounds -q 2>&1 | tail -20
cat /proc/loadavg; echo "sweep starts with $((end-SECONDS)) s left"
timeout -s INT -k 30 $((end-SECONDS)) python3 -m mibench run -e dv mine nwj infonce tuba alpha js smile --suite default -n 10000 2500 1000 500 --seeds 3 --jobs 16 --device cpu --db $R/.nsweep/device.sqlite -q; echo "run rc=$?"
python3 -c "import sqlite3,sys;c=sqlite3.connect(sys.argv[1]);c.execute('pragma wal_checkpoint(TRUNCATE)');print(c.execute('select status,count(*) from runs group by status').fetchall())" $R/.nsweep/device.sqlite
cp $R/.nsweep/device.sqlite $OUT/
