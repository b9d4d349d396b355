"""Hyperparameter searches across machines with Dask.

scikit-learn's :class:`~sklearn.model_selection.GridSearchCV` runs its fits
through joblib; joblib's ``"dask"`` backend sends them to the workers of a
``dask.distributed`` cluster. Nothing here replaces either: this module only
adds :class:`LimitThreads`, a worker plugin that keeps each fit to the
threads its worker was given, so that several workers on one machine do not
oversubscribe its cores. Needs the optional extra::

    pip install "fer-classifier[distributed]"

Usage::

    import joblib
    from dask.distributed import Client
    from fer_classifier.distributed import LimitThreads

    client = Client("tcp://scheduler-host:8786")   # or Client(LocalCluster(...))
    client.register_plugin(LimitThreads())
    with joblib.parallel_backend("dask"):
        search.fit(X, y)                            # GridSearchCV(..., error_score="raise")
"""

import os
import sys

try:
    from distributed import WorkerPlugin
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise ImportError(
        "fer_classifier.distributed needs Dask's distributed scheduler: "
        'pip install "fer-classifier[distributed]"'
    ) from exc

__all__ = ["LimitThreads", "thread_limits"]

_ENV_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
             "TF_NUM_INTRAOP_THREADS")


def thread_limits(n_threads):
    """Environment variables that cap a process's compute threads.

    TensorFlow, XLA (JAX) and the BLAS/OpenMP libraries read them when they
    start, so they must be set before Keras is first imported in the process.

    Parameters
    ----------
    n_threads : int
        Threads for numerical work (at least 1).

    Returns
    -------
    env : dict of str to str
    """
    if not isinstance(n_threads, int) or isinstance(n_threads, bool) or n_threads < 1:
        raise ValueError(f"n_threads must be a positive integer. Received: n_threads={n_threads!r}")
    env = {name: str(n_threads) for name in _ENV_VARS}
    env["TF_NUM_INTEROP_THREADS"] = "1"
    env["XLA_FLAGS"] = (
        f"--xla_cpu_multi_thread_eigen={'true' if n_threads > 1 else 'false'} "
        f"intra_op_parallelism_threads={n_threads}"
    )
    return env


class LimitThreads(WorkerPlugin):
    """Dask worker plugin: cap the compute threads of every fit on a worker.

    Register it once per cluster with ``client.register_plugin(LimitThreads())``;
    Dask runs it on every current and future worker. On each worker it sets
    the variables of :func:`thread_limits` (TensorFlow's intra-op threads,
    XLA's, OpenMP's and BLAS's) to the worker's number of threads (or
    ``n_threads``), before Keras is imported there. A worker that has already
    imported Keras keeps its threads, and the plugin says so in the worker's
    log and in :attr:`late`; restart such workers (``client.restart()``).

    Parameters
    ----------
    n_threads : int, default=None
        Threads per fit; default: the worker's ``nthreads``.

    Attributes
    ----------
    late : bool
        Set on a worker when Keras was imported there before the plugin ran.
    """

    idempotent = True  # registering it twice is harmless

    def __init__(self, n_threads=None):
        if n_threads is not None:
            thread_limits(n_threads)  # validates
        self.n_threads = n_threads
        self.late = False

    def setup(self, worker):
        n_threads = self.n_threads or max(int(worker.state.nthreads), 1)
        os.environ.update(thread_limits(n_threads))
        if "keras" in sys.modules or "tensorflow" in sys.modules:
            self.late = True
            import logging

            logging.getLogger("distributed.worker").warning(
                "fer_classifier LimitThreads: Keras was imported on this worker before the "
                "plugin ran, so its thread limit (%d) does not apply; restart the worker.",
                n_threads,
            )
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:  # pragma: no cover - scikit-learn depends on threadpoolctl
            return
        self._limits = threadpool_limits(limits=n_threads)
