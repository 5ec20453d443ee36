"""Timing one API request, and percentiles, for the benchmarks that drive a vsrv serve
(bench/cluster.py, bench/quota_density.py)."""
import json
import time


def pct(xs, p):
    """The p-th percentile of xs (nearest rank)."""
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p / 100))]


def timed(conn, tok, method, path, body=None, want=(200,)):
    """Seconds one request took on the http.client connection conn, as tok (raises when
    its status is not in want)."""
    h = {"Authorization": "Bearer " + tok}
    data = None
    if body is not None:
        data = json.dumps(body)
        h["Content-Type"] = "application/json"
    t0 = time.perf_counter()
    conn.request(method, path, data, h)
    r = conn.getresponse()
    out = r.read()
    dt = time.perf_counter() - t0
    if r.status not in want:
        raise RuntimeError("%s %s: %d %s" % (method, path, r.status, out[:200]))
    return dt
