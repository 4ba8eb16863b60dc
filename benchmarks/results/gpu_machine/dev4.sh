export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1; R=$PWD
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site || exit 1
python3 -m pip install -q --no-index --no-deps --no-build-isolation . > $OUT/install.log 2>&1 || exit 1
cd /tmp; nvidia-smi --query-gpu=name,utilization.gpu,memory.used --format=csv
C="python3 -m mibench run -e infonce nwj --suite default -n 5000 --seeds 3 -q"
for cfg in "cpu 16 1" "cuda 8 8" "cuda 16 16" "cuda 4 4" "cpu 8 1"; do set -- $cfg
  l0=$(cut -d' ' -f1 /proc/loadavg); s=$(date +%s.%N)
  $C --device $1 --jobs $2 --gpu-jobs $3 --db /tmp/s_$1_$2.sqlite > /tmp/log_$1_$2 2>&1; rc=$?
  e=$(date +%s.%N); echo "device=$1 jobs=$2 gpu_jobs=$3 rc=$rc wall=$(python3 -c "print(round($e-$s,1))") load=$l0->$(cut -d' ' -f1 /proc/loadavg) $(tail -2 /tmp/log_$1_$2 | head -1)"
  python3 -c "import sqlite3,sys;c=sqlite3.connect(sys.argv[1]);print('  runs',c.execute(\"select count(*),round(sum(wall_time_s),1),round(avg(wall_time_s),2) from runs where status='ok'\").fetchall())" /tmp/s_$1_$2.sqlite
done
python3 - <<'P'
import sqlite3
a={r[:3]:r[3] for r in sqlite3.connect('/tmp/s_cpu_16.sqlite').execute("select estimator,task_id,seed,value from runs")}
b={r[:3]:r[3] for r in sqlite3.connect('/tmp/s_cuda_8.sqlite').execute("select estimator,task_id,seed,value from runs")}
d=sorted(abs(a[k]-b[k]) for k in a if k in b and a[k] is not None and b[k] is not None)
print('cpu vs cuda |diff| median',d[len(d)//2],'max',d[-1],'n',len(d))
P
cp /tmp/s_*.sqlite $OUT/ 2>/dev/null; ls $OUT
