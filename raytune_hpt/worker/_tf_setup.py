"""TensorFlow set-up inside a worker: thread pools, the GPUs Ray gave, memory caps, strategy.

Ray books logical resources only; TensorFlow in the worker must be told the same story
before it creates its first tensor: thread pools sized to the trial's CPUs, only the GPUs Ray
gave the trial, and for a trial that shares a GPU (``gpu: 0.5``) a cap on the memory it takes
(otherwise each of two trials on one GPU grabs all of its memory and one dies; Ray issue
13680). A reused worker keeps this set-up for every later trial, which is right because Ray
reuses a worker only for trials with the same resource request, and the worker keeps its GPUs.

The GPU set-up is split in two so that it can be checked without a GPU:

* :func:`plan_gpus` is pure: from what Ray assigned (GPU ids, the share per trial) and how
  many GPUs TensorFlow lists, it returns a :class:`GpuPlan` (which GPUs stay visible, a memory
  limit or memory growth, the distribution strategy);
* :func:`apply_gpu_plan` hands the plan to ``tf.config`` and nothing else.

The plan is recorded in every report of the trial as ``tf_*`` keys (see :meth:`GpuPlan.record`).
"""

from __future__ import annotations

import gc
import logging
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CUDA_CONTEXT_RESERVE_MB",
    "GpuPlan",
    "apply_gpu_plan",
    "configure_tensorflow",
    "import_keras_lean",
    "parse_nvidia_smi_memory",
    "plan_gpus",
    "trial_strategy",
]

logger = logging.getLogger(__name__)

#: GPU memory each TensorFlow process uses outside its allocator (the CUDA context, cuDNN and
#: cuBLAS handles). A trial with a share ``s`` of a GPU with ``M`` MB gets a limit of
#: ``s * M - CUDA_CONTEXT_RESERVE_MB``, so that ``1/s`` such trials fit on the GPU together.
CUDA_CONTEXT_RESERVE_MB = 512


# -- GPUs ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class GpuPlan:
    """What one trial asks TensorFlow for; made by :func:`plan_gpus`, applied by
    :func:`apply_gpu_plan`.

    Attributes:
        gpu_ids: the GPU ids Ray gave the trial (what it put in ``CUDA_VISIBLE_DEVICES``).
        tf_indices: which of the GPUs TensorFlow lists stay visible (positions in
            ``tf.config.list_physical_devices("GPU")``).
        memory_limit_mb: a logical device with this memory limit on each visible GPU, or None.
        memory_growth: allocate GPU memory as needed instead of all of it at once.
        strategy: ``"default"`` (no GPU or one GPU: Keras places the model itself) or
            ``"mirrored"`` (``tf.distribute.MirroredStrategy`` over ``strategy_devices``).
        strategy_devices: TensorFlow's logical device names the strategy mirrors over.
        tf_gpus_listed: how many GPUs TensorFlow listed when the plan was made.
    """

    gpu_ids: tuple[str, ...] = ()
    tf_indices: tuple[int, ...] = ()
    memory_limit_mb: int | None = None
    memory_growth: bool = False
    strategy: str = "default"
    strategy_devices: tuple[str, ...] = ()
    tf_gpus_listed: int = 0

    @property
    def applicable(self) -> bool:
        """Whether TensorFlow lists the GPUs the plan is about (not so with Ray's logical
        GPUs on a machine without one; the trial then trains on the CPU)."""
        return bool(self.tf_indices) and max(self.tf_indices) < self.tf_gpus_listed

    def record(self) -> dict[str, Any]:
        """The plan as flat report fields (prefixed ``tf_`` by the trainable)."""
        return {
            "gpu_plan_ids": ",".join(self.gpu_ids),
            "visible_gpus": ",".join(f"GPU:{i}" for i in self.tf_indices),
            "gpu_memory_limit_mb": self.memory_limit_mb or 0,
            "gpu_memory_growth": self.memory_growth,
            "strategy": self.strategy,
            "strategy_devices": ",".join(self.strategy_devices),
            "gpus_listed": self.tf_gpus_listed,
            "gpu_applied": self.applicable,
        }


def plan_gpus(
    gpu_ids: Sequence[str | int],
    gpu_share: float,
    tf_gpus_listed: int,
    *,
    gpu_memory_mb: int | None = None,
) -> GpuPlan:
    """Decide what TensorFlow should see and use, from what Ray assigned. Pure.

    Ray sets ``CUDA_VISIBLE_DEVICES`` to the trial's GPU ids, so TensorFlow normally lists
    exactly those GPUs, renumbered from 0. If it lists more (``CUDA_VISIBLE_DEVICES`` was not
    set), the ids are CUDA's own numbers and pick the GPUs. If it lists none (Ray's logical
    GPUs on a machine without one), the plan is made as if the GPUs were there and is not
    :attr:`~GpuPlan.applicable`.

    Args:
        gpu_ids: ``ray.get_gpu_ids()`` in the trial.
        gpu_share: the trial's ``gpu`` request (0.5, 1, 2...).
        tf_gpus_listed: ``len(tf.config.list_physical_devices("GPU"))``.
        gpu_memory_mb: memory of one GPU, if known; a fractional trial without it gets
            memory growth instead of a limit.

    Raises:
        ValueError: TensorFlow lists some GPUs but not those Ray gave, or the share of the
            GPU's memory is too small to hold a TensorFlow process.

    Example:
        >>> plan_gpus(["1"], 0.5, 1, gpu_memory_mb=16384).memory_limit_mb
        7680
        >>> plan_gpus(["2", "3"], 2, 2).strategy_devices
        ('/gpu:0', '/gpu:1')
    """
    ids = tuple(str(g) for g in gpu_ids)
    if not ids:
        return GpuPlan(tf_gpus_listed=tf_gpus_listed)
    indices = _tf_indices(ids, tf_gpus_listed)
    limit, growth = _memory_cap(gpu_share, gpu_memory_mb)
    devices = tuple(f"/gpu:{k}" for k in range(len(indices)))
    strategy = "mirrored" if len(indices) > 1 else "default"
    return GpuPlan(
        gpu_ids=ids,
        tf_indices=indices,
        memory_limit_mb=limit,
        memory_growth=growth,
        strategy=strategy,
        strategy_devices=devices if strategy == "mirrored" else (),
        tf_gpus_listed=tf_gpus_listed,
    )


def _tf_indices(ids: tuple[str, ...], tf_gpus_listed: int) -> tuple[int, ...]:
    """TensorFlow's indices of the GPUs Ray gave (see :func:`plan_gpus`)."""
    if tf_gpus_listed in (0, len(ids)):
        return tuple(range(len(ids)))
    if tf_gpus_listed > len(ids) and all(g.isdigit() and int(g) < tf_gpus_listed for g in ids):
        return tuple(int(g) for g in ids)
    raise ValueError(
        f"Ray gave this trial GPU(s) {','.join(ids)} but TensorFlow lists {tf_gpus_listed} "
        f"GPU(s) (CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES')!r}); it must "
        "list exactly those GPUs, or all of the machine's."
    )


def _memory_cap(gpu_share: float, gpu_memory_mb: int | None) -> tuple[int | None, bool]:
    """``(memory limit in MB or None, memory growth)`` for a trial's share of one GPU."""
    if gpu_share >= 1:
        return None, False
    if not gpu_memory_mb:
        return None, True  # no size known: at least do not grab the whole GPU up front
    limit = int(gpu_memory_mb * gpu_share) - CUDA_CONTEXT_RESERVE_MB
    if limit < 256:
        raise ValueError(
            f"A share of {gpu_share} of a {gpu_memory_mb} MB GPU leaves {limit} MB for "
            f"TensorFlow after its CUDA context ({CUDA_CONTEXT_RESERVE_MB} MB); ask "
            "for a larger gpu share."
        )
    return limit, False


def parse_nvidia_smi_memory(text: str) -> dict[str, int]:
    """``nvidia-smi --query-gpu=index,memory.total --format=csv,noheader,nounits`` output as
    ``{gpu index: MB}``."""
    sizes = {}
    for line in text.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 2 and parts[0].isdigit() and parts[1].isdigit():
            sizes[parts[0]] = int(parts[1])
    return sizes


def _gpu_memory_mb(gpu_ids: Sequence[str]) -> int | None:
    """The smallest memory among ``gpu_ids`` according to nvidia-smi, or None."""
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=index,memory.total", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    sizes = parse_nvidia_smi_memory(out)  # nvidia-smi numbers GPUs as Ray does (PCI order)
    known = [sizes[g] for g in gpu_ids if g in sizes]
    return min(known) if known and len(known) == len(gpu_ids) else None


def apply_gpu_plan(plan: GpuPlan, tf: Any) -> bool:
    """Tell TensorFlow which GPUs it sees and how much of their memory it takes.

    Must run before TensorFlow initialises its GPUs; the strategy is made later, by
    :func:`trial_strategy` (a ``MirroredStrategy`` initialises them).

    Returns:
        Whether the plan's GPUs were set up (False: no GPU listed, training on the CPU).
    """
    gpus = tf.config.list_physical_devices("GPU")
    if plan.gpu_ids and not plan.applicable:
        logger.warning(
            "Ray gave this trial GPU(s) %s but TensorFlow lists no GPU; training on the CPU.",
            ",".join(plan.gpu_ids),
        )
        return False
    if not plan.gpu_ids:
        if gpus:  # a CPU trial on a GPU machine must not take a GPU another trial booked
            tf.config.set_visible_devices([], "GPU")
        return False
    visible = [gpus[i] for i in plan.tf_indices]
    tf.config.set_visible_devices(visible, "GPU")
    for gpu in visible:
        if plan.memory_limit_mb:
            tf.config.set_logical_device_configuration(
                gpu, [tf.config.LogicalDeviceConfiguration(memory_limit=plan.memory_limit_mb)]
            )
        elif plan.memory_growth:
            tf.config.experimental.set_memory_growth(gpu, True)
    return True


# -- the worker's TensorFlow ------------------------------------------------------------------
_configured: dict[str, Any] | None = None
_THREAD_VARIABLES = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")
_plan: GpuPlan | None = None
_strategy: Any = None


def _ray_gpu_ids() -> list[str]:
    try:
        import ray

        return [str(g) for g in ray.get_gpu_ids()] if ray.is_initialized() else []
    except Exception:  # outside a Ray worker
        return []


def configure_tensorflow(
    cpus: float, meta_optimizer: bool = False, *, gpu: float = 0.0,
    gpu_memory_mb: int | None = None, defer: bool = False
) -> dict[str, Any]:
    """Set TensorFlow up for this worker once, before TensorFlow runs anything.

    Args:
        cpus: the trial's CPUs; TensorFlow's thread pools get as many threads.
        meta_optimizer: keep TensorFlow's graph meta-optimizer (grappler) on. Off by
            default: for the small and mid-sized models tuned many times over, its
            per-trace cost outweighs what it saves (docs/performance.md, "meta-optimizer").
        gpu: the trial's GPU share; with the GPU ids Ray gave this worker it makes the
            :class:`GpuPlan`.
        gpu_memory_mb: memory of one GPU (default: from nvidia-smi when the trial shares one).
        defer: for a trial that may never use TensorFlow (a custom ``run_trial``): when
            TensorFlow is not imported yet and the trial has no GPU, it stays unimported
            (about 4 s of a worker's start) and its thread pools are sized through
            ``TF_NUM_INTRAOP_THREADS``/``TF_NUM_INTEROP_THREADS``, which TensorFlow reads if
            the trial imports it later.

    Returns:
        What was set, with the GPU plan (recorded in the trial's results).
    """
    global _configured, _plan
    if _configured is not None:
        return _configured
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    threads = max(1, int(cpus))
    if defer and gpu <= 0 and "tensorflow" not in sys.modules:
        return _deferred(threads)
    import tensorflow as tf

    _size_thread_pools(tf, threads)
    tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": not meta_optimizer})
    gpu_ids = _ray_gpu_ids()
    if gpu_ids and 0 < gpu < 1 and gpu_memory_mb is None:
        gpu_memory_mb = _gpu_memory_mb(gpu_ids)
    plan = plan_gpus(
        gpu_ids, gpu, len(tf.config.list_physical_devices("GPU")), gpu_memory_mb=gpu_memory_mb
    )
    applied = apply_gpu_plan(plan, tf)
    _plan = plan if applied else None
    # Long-lived objects (TensorFlow, Keras, Ray) stay out of every later collection, which
    # makes the clear_session() between trials on a reused worker cheap.
    import keras  # noqa: F401  (imported now so that its module objects are frozen too)

    gc.collect()
    gc.freeze()
    _configured = {
        "threads": threads,
        "meta_optimizer": meta_optimizer,
        "pid": os.getpid(),
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES", ""),
        **plan.record(),
        "strategy_used": "MirroredStrategy"
        if applied and plan.strategy == "mirrored"
        else "default",
    }
    return _configured


def _size_thread_pools(tf: Any, threads: int) -> None:
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError as error:  # TensorFlow already ran in this process
        if not all(os.environ.get(name) == str(threads) for name in _THREAD_VARIABLES):
            logger.warning("TensorFlow thread pools were already fixed: %s", error)


def _deferred(threads: int) -> dict[str, Any]:
    """TensorFlow left unimported; the thread pools it would get, set where it reads them."""
    for name in _THREAD_VARIABLES:  # this worker process's own environment
        os.environ.setdefault(name, str(threads))
    return {"threads": threads, "pid": os.getpid(), "tensorflow": "not imported"}


#: Libraries ``import keras`` loads only for features a trial does not use (its scikit-learn
#: wrappers, its image-gallery plots), and copes without: about 1.5 of the 4.5 s of Keras's
#: import on 2 cores (docs/performance.md).
KERAS_EXTRAS_NOT_IMPORTED = ("sklearn", "matplotlib")


def import_keras_lean(*, in_worker: bool | None = None) -> None:
    """Import Keras (and TensorFlow) in a trial's worker without :data:`KERAS_EXTRAS_NOT_IMPORTED`.

    Only in a Ray worker process where Keras is not imported yet; anywhere else it does
    nothing (``in_worker=True``: the caller knows it is one, as a warm worker's preload,
    which runs before Ray counts the process as connected). The libraries are held back
    for Keras's own import only: the trial's code may import them afterwards as usual
    (Keras's scikit-learn wrappers and plot utilities stay unavailable in that worker).
    """
    from raytune_hpt import _ray_compat

    if in_worker is None:
        in_worker = _ray_compat.in_ray_worker()
    if "keras" in sys.modules or not in_worker:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    held = [name for name in KERAS_EXTRAS_NOT_IMPORTED if name not in sys.modules]
    for name in held:
        sys.modules[name] = None  # type: ignore[assignment]  # "import name" raises ImportError
    try:
        import keras  # noqa: F401
    finally:
        for name in held:
            if sys.modules.get(name, 0) is None:
                del sys.modules[name]


def trial_strategy() -> Any:
    """The ``tf.distribute`` strategy of this worker's GPU plan, or None for the default.

    A ``MirroredStrategy`` over exactly the plan's GPUs when the trial has several; made
    once, on first use, after :func:`configure_tensorflow` set the GPUs up.
    """
    global _strategy
    if _strategy is None and _plan is not None and _plan.strategy == "mirrored":
        import tensorflow as tf

        _strategy = tf.distribute.MirroredStrategy(devices=list(_plan.strategy_devices))
    return _strategy
