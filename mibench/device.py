"""Which device (CPU or a CUDA GPU) the torch code of mibench runs on: ``--device cpu|cuda|auto``.

Three parts of mibench can use a GPU: the neural estimators (``estimators/neural.py``, their
``device`` hyperparameter), IB training (:mod:`mibench.ib`, ``train(..., device=)``) and the
brute-force k-NN engine (``estimators/knn.py``). Each takes ``"auto"`` by default: CUDA when
``torch.cuda.is_available()``, else the CPU — unless ``$MIBENCH_DEVICE`` (:data:`ENV`, set by
``--device`` and inherited by ``--jobs`` workers) says otherwise.

Reproducibility (the run key). A network trained on a GPU does not give bit-identical values to
the same network trained on the CPU (other kernels, other summation orders). So the device
joins a run's key, but only as CPU versus CUDA, and without changing the key of any CPU run
stored before this switch existed: :func:`key_device` writes a CPU run's ``device`` as
``"auto"`` (the value those runs were stored with) and a GPU run's as ``"cuda"``. A CPU machine
and a GPU machine sharing one store therefore keep their results side by side instead of
silently mixing them; ``--device cpu`` on a GPU machine reproduces (and resumes) the CPU cells.
The k-NN engine is exact on both devices (float64 max-norm distances and counts), so k-NN
estimators have no device in their key. The device a run actually used is recorded in its
diagnostics (``diagnostics["device"]``; for IB runs ``final["device"]``).

Nothing here imports torch on a CPU-only torch build (recognised from its version string).
"""

from __future__ import annotations

import os
import re

__all__ = ["ENV", "DEVICES", "cuda_available", "gpu_count", "resolve", "key_device",
           "is_device_string"]

#: Environment variable that ``"auto"`` follows when set (``cpu`` or ``cuda``).
ENV = "MIBENCH_DEVICE"
#: The values ``--device`` accepts.
DEVICES = ("auto", "cpu", "cuda")

_PATTERN = re.compile(r"auto|cpu|cuda(:\d+)?")


def is_device_string(value) -> bool:
    """``auto``, ``cpu``, ``cuda`` or ``cuda:N``."""
    return isinstance(value, str) and _PATTERN.fullmatch(value) is not None


def cuda_available() -> bool:
    """Whether torch sees a CUDA device. A CPU-only torch build (``+cpu`` in its version) and a
    missing torch answer False without importing torch (the import alone costs about a
    second)."""
    import sys

    if "torch" not in sys.modules:
        from importlib import metadata

        try:
            if "+cpu" in metadata.version("torch"):
                return False
        except metadata.PackageNotFoundError:
            return False
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def gpu_count() -> int:
    """CUDA devices visible to this process (0 without CUDA)."""
    if not cuda_available():
        return 0
    import torch

    return int(torch.cuda.device_count())


def resolve(device: str = "auto") -> str:
    """The device ``device`` means here: ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.

    ``"auto"`` follows ``$MIBENCH_DEVICE`` when set, else CUDA when available, else the CPU.
    Raises ValueError for anything else than :func:`is_device_string`, and for a CUDA device on
    a machine without CUDA."""
    if not is_device_string(device):
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}")
    if device == "auto":
        forced = os.environ.get(ENV, "").strip()
        if forced and forced != "auto":
            return resolve(forced)
        return "cuda" if cuda_available() else "cpu"
    if device.startswith("cuda"):
        if not cuda_available():
            raise ValueError(f"device {device!r}: CUDA is not available on this machine "
                             f"(no GPU, or a CPU-only torch build); use --device cpu or auto")
        if ":" in device and int(device.split(":")[1]) >= gpu_count():
            raise ValueError(f"device {device!r}: this machine has {gpu_count()} CUDA "
                             f"device(s)")
    return device


def key_device(device: str) -> str:
    """The ``device`` written in a run's key for a run on ``device`` (resolved first): ``"auto"``
    for the CPU (the key every CPU run had before the switch), ``"cuda"`` for any CUDA device
    (the index does not change the arithmetic)."""
    resolved = resolve(device)
    return "cuda" if resolved.startswith("cuda") else "auto"
