"""Time peer signature libraries on sigvwap's benchmark shapes (peers only; never a runtime dependency).

Reads a JSON list of shapes on stdin, prints one JSON object on stdout:
{"versions": {...}, "rows": [{"peer", "threads", "shape", "dir", "dtype", "medianMs", "minMs", "maxMs"}],
 "checks": [{"shape", "peer", "path": [...], "sig": [...]}]}
Each timing: one warm-up call, then the median of `repeats` calls (time.perf_counter).
Paths: random walks from numpy.random.default_rng(seed), same law as bench/signature.bench.ts.

`peers.py --serve`: pysiglib only, one timing per request, for bench/peers.ts to interleave
with its own (rounds of peer, sigvwap, peer, sigvwap... on the same shapes): each stdin line
{"shape": {batch, length, channels, depth, id}, "dtype", "dir", "threads", "repeats"} gets one
stdout line {"medianMs", "minMs", "maxMs"} (or {"error": ...}).
"""
import json
import os
import sys
import time

import numpy as np


def walks(batch, length, channels, seed):
    rng = np.random.default_rng(seed)
    scale = 1.0 / np.sqrt(max(1, length - 1))
    inc = rng.uniform(-1, 1, size=(batch, length, channels)) * scale
    return np.cumsum(inc, axis=1) + rng.uniform(-0.5, 0.5, size=(batch, 1, channels))


def timed(fn, repeats):
    fn()
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t0) * 1e3)
    ts.sort()
    return {"medianMs": float(np.median(ts)), "minMs": ts[0], "maxMs": ts[-1]}


def main():
    shapes = json.load(sys.stdin)
    repeats = int(os.environ.get("PEERS_REPEATS", "5"))
    threads_all = os.cpu_count() or 1
    rows, checks, versions = [], [], {}
    peers = {}
    try:
        import iisignature
        peers["iisignature"] = iisignature
        versions["iisignature"] = iisignature.version()
    except Exception as e:  # noqa: BLE001
        versions["iisignature"] = f"unavailable: {e}"
    try:
        import pysiglib
        peers["pysiglib"] = pysiglib
        versions["pysiglib"] = getattr(pysiglib, "__version__", "installed")
    except Exception as e:  # noqa: BLE001
        versions["pysiglib"] = f"unavailable: {e}"
    try:
        import esig
        peers["esig"] = esig
    except Exception as e:  # noqa: BLE001
        versions["esig"] = f"unavailable: {e}"

    if "esig" in peers:
        try:
            from importlib.metadata import version as dist_version
            versions["esig"] = dist_version("esig")
        except Exception:  # noqa: BLE001
            versions["esig"] = "installed"

    for s in shapes:
        b, L, d, m, sid = s["batch"], s["length"], s["channels"], s["depth"], s["id"]
        x64 = walks(b, L, d, 1)
        siglen = sum(d ** k for k in range(1, m + 1))
        w64 = np.sin(np.arange(b * siglen, dtype=np.float64)).reshape(b, siglen)
        for dtype in ("f64", "f32"):
            x = x64 if dtype == "f64" else x64.astype(np.float32)
            w = w64 if dtype == "f64" else w64.astype(np.float32)
            if "iisignature" in peers:
                ii = peers["iisignature"]
                rows.append({"peer": "iisignature", "threads": 1, "shape": sid, "dir": "forward", "dtype": dtype, **timed(lambda: ii.sig(x, m), repeats)})
                rows.append({"peer": "iisignature", "threads": 1, "shape": sid, "dir": "backward", "dtype": dtype, **timed(lambda: ii.sigbackprop(w, x, m), repeats)})
            if "pysiglib" in peers:
                ps = peers["pysiglib"]
                for nj in sorted({1, threads_all}):
                    sig = ps.sig(x, m, n_jobs=nj)
                    rows.append({"peer": "pysiglib", "threads": nj, "shape": sid, "dir": "forward", "dtype": dtype, **timed(lambda: ps.sig(x, m, n_jobs=nj), repeats)})
                    rows.append({"peer": "pysiglib", "threads": nj, "shape": sid, "dir": "backward", "dtype": dtype,
                                 **timed(lambda: ps.sig_backprop(x, sig, w, m, n_jobs=nj), repeats)})
            if "esig" in peers and dtype == "f64" and L <= 1000:
                es = peers["esig"]
                rows.append({"peer": "esig", "threads": 1, "shape": sid, "dir": "forward", "dtype": dtype,
                             **timed(lambda: [es.stream2sig(x[i], m) for i in range(b)], max(1, repeats // 2))})
        check = {"shape": sid, "path": x64[0].ravel().tolist()}
        if "iisignature" in peers:
            check["iisignature"] = peers["iisignature"].sig(x64[0], m).tolist()
        if "pysiglib" in peers:
            check["pysiglib"] = peers["pysiglib"].sig(x64[0:1], m)[0].tolist()
        if "esig" in peers:
            check["esig"] = list(peers["esig"].stream2sig(x64[0], m)[1:])
        checks.append(check)
        print(f"peers: shape {sid} done", file=sys.stderr, flush=True)
    json.dump({"versions": versions, "threadsAll": threads_all, "rows": rows, "checks": checks}, sys.stdout)


def serve():
    import pysiglib as ps

    cache = {}
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            q = json.loads(line)
            s = q["shape"]
            b, L, d, m = s["batch"], s["length"], s["channels"], s["depth"]
            key = (b, L, d, m, q["dtype"])
            if key not in cache:
                x = walks(b, L, d, 1)
                siglen = sum(d ** k for k in range(1, m + 1))
                w = np.sin(np.arange(b * siglen, dtype=np.float64)).reshape(b, siglen)
                if q["dtype"] == "f32":
                    x, w = x.astype(np.float32), w.astype(np.float32)
                cache[key] = (x, w, ps.sig(x, m, n_jobs=q["threads"]))
            x, w, sig = cache[key]
            nj, reps = q["threads"], q["repeats"]
            if q["dir"] == "forward":
                r = timed(lambda: ps.sig(x, m, n_jobs=nj), reps)
            else:
                r = timed(lambda: ps.sig_backprop(x, sig, w, m, n_jobs=nj), reps)
        except Exception as e:  # noqa: BLE001
            r = {"error": repr(e)}
        print(json.dumps(r), flush=True)


if __name__ == "__main__":
    if "--serve" in sys.argv[1:]:
        serve()
    else:
        main()
