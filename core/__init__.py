"""daogou's platform-neutral core.

Importing it first sizes the math libraries' thread pools, which are fixed when numpy,
faiss and torch load: OpenBLAS and OpenMP default to a thread per core that spins while
idle, so on a small server each search burned about twice its time in CPU (measured:
15.8 ms of CPU for a 9.6 ms search on 2 cores, 6.8 for 6.8 with one thread) and the
shared service saturated early.  DAOGOU_ENCODER_THREADS (default 1; 0 keeps the
libraries' defaults) sets them, unless OMP_NUM_THREADS and friends are already set.
"""

import os as _os

_threads = _os.environ.get("DAOGOU_ENCODER_THREADS", "1").strip() or "1"
if _threads != "0":
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        _os.environ.setdefault(_var, _threads)
