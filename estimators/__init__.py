"""Built-in estimators of mibench, one module per family.

This package installs as ``mibench.estimators``. ``BUILTIN`` maps each registered name to
``("module:Class", kind)`` (optionally with a dict of default keyword arguments); modules are
imported only when an estimator is made, so ``import mibench`` never imports torch. ``kind`` is
the class's ``kind`` tag, repeated here so that ``list estimators`` needs no import (a test
checks that they agree).

Adding an estimator: write the class in the module of its family (subclass
:class:`mibench.api.BaseEstimator`), add one line here, and the conformance suite tests it.
"""

if __name__ != "mibench.estimators":  # pragma: no cover - guard against a second copy
    raise ImportError(
        f"this package is mibench.estimators; import it as such, not as {__name__!r}"
    )

BUILTIN = {
    # k-nearest neighbours (Kraskov et al. 2004)
    "ksg": ("mibench.estimators.knn:KSG", "estimate"),
    "ksg2": ("mibench.estimators.knn:KSG2", "estimate"),
    "kl": ("mibench.estimators.knn:KL", "estimate"),
    "mixed-ksg": ("mibench.estimators.knn:MixedKSG", "estimate"),
    # surrogates, plug-in and kernel estimators (issue 4)
    "logvar": ("mibench.estimators.logvar:LogVar", "estimate"),
    "histogram": ("mibench.estimators.histogram:Histogram", "estimate"),
    "kde": ("mibench.estimators.kde:KDE", "estimate"),
    "mmd": ("mibench.estimators.kernel:HSIC", "dependence"),
    "hsic": ("mibench.estimators.kernel:HSIC", "dependence"),
    # closed form
    "gaussian": ("mibench.estimators.gaussian:GaussianMI", "estimate"),
    # neural variational bounds (PyTorch; formulas in mibench.bounds)
    "mine": ("mibench.estimators.neural:MINE", "lower_bound"),
    "dv": ("mibench.estimators.neural:DV", "lower_bound"),
    "nwj": ("mibench.estimators.neural:NWJ", "lower_bound"),
    "infonce": ("mibench.estimators.neural:InfoNCE", "lower_bound"),
    "tuba": ("mibench.estimators.neural:TUBA", "lower_bound"),
    "alpha": ("mibench.estimators.neural:Alpha", "lower_bound"),
    "js": ("mibench.estimators.neural:JS", "lower_bound"),
    "smile": ("mibench.estimators.neural:SMILE", "estimate"),
    "ba": ("mibench.estimators.neural:BA", "estimate"),
    "club": ("mibench.estimators.neural:CLUB", "estimate"),
    "l1out": ("mibench.estimators.neural:L1Out", "estimate"),
    # information-theoretic co-training over a discrete latent (McAllester 2018; issue 12)
    "infocotrain": ("mibench.estimators.infocotrain:InfoCotrain", "lower_bound"),
}
