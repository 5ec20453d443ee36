"""The contended variants' load for the Python benchmarks: bench/lib/contend.sh (its `hold`
command) behind a context manager, so that the shell and Python benchmarks run one load.

    for v in variants():                 # "quiet", then each load of BENCH_CONTEND usable here
        with Load(v):                    # nothing for "quiet"
            ...interleaved runs of vsrv and the peer...
"""
import os, subprocess, sys

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "contend.sh")


def variants(name="bench"):
    """["quiet"] plus the kinds of BENCH_CONTEND (default "busy guests") this host can run;
    the others are named on stdout with the reason."""
    out = ["quiet"]
    for k in os.environ.get("BENCH_CONTEND", "busy guests").split():
        r = subprocess.run(["bash", SCRIPT, "why", k], capture_output=True, text=True)
        why = r.stdout.strip() or r.stderr.strip()
        if r.returncode == 0 and not why:
            out.append(k)
        else:
            print("%s: %s-contended variant skipped: %s" % (name, k, why or "failed"))
    return out


class Load:
    """The load of one variant while the block runs: `contend.sh hold KIND` started on entry
    (returns once every load process runs), stopped on exit (its stdin closed; waits until
    it says the load is gone). RuntimeError when the load cannot start."""

    def __init__(self, kind, n=None):
        self.kind, self.n, self.p = kind, n, None

    def __enter__(self):
        if self.kind == "quiet":
            return self
        cmd = ["bash", SCRIPT, "hold", self.kind] + ([str(self.n)] if self.n else [])
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.p.stdout.readline()
        if not line.startswith("contend: ready"):
            self.p.wait()
            raise RuntimeError("contend.sh hold %s did not start its load" % self.kind)
        return self

    def __exit__(self, *exc):
        if self.p:
            self.p.stdin.close()
            self.p.stdout.read()
            self.p.wait()
            self.p = None
        return False


if __name__ == "__main__":
    print(" ".join(variants(sys.argv[1] if len(sys.argv) > 1 else "contend")))
