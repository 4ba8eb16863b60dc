"""Built-in estimators of mibench, one module per family.

This package installs as ``mibench.estimators``. ``BUILTIN`` maps each registered name to
``"module:Class"`` (or ``("module:Class", default_kwargs)``); modules are imported only when an
estimator is made, so ``import mibench`` never imports torch.

Adding an estimator: write the class in the module of its family (subclass
:class:`mibench.api.BaseEstimator`), add one line here, and the conformance suite tests it.
"""

if __name__ != "mibench.estimators":  # pragma: no cover - guard against a second copy
    raise ImportError(
        f"this package is mibench.estimators; import it as such, not as {__name__!r}"
    )

BUILTIN = {
    # k-nearest neighbours (Kraskov et al. 2004)
    "ksg": "mibench.estimators.knn:KSG",
    "ksg2": "mibench.estimators.knn:KSG2",
    "kl": "mibench.estimators.knn:KL",
    "mixed-ksg": "mibench.estimators.knn:MixedKSG",
    # surrogates, plug-in and kernel estimators (issue 4)
    "logvar": "mibench.estimators.logvar:LogVar",
    "histogram": "mibench.estimators.histogram:Histogram",
    "kde": "mibench.estimators.kde:KDE",
    "mmd": "mibench.estimators.kernel:HSIC",
    "hsic": "mibench.estimators.kernel:HSIC",
    # closed form
    "gaussian": "mibench.estimators.gaussian:GaussianMI",
    # neural variational bounds (PyTorch; formulas in mibench.bounds)
    "mine": "mibench.estimators.neural:MINE",
    "dv": "mibench.estimators.neural:DV",
    "nwj": "mibench.estimators.neural:NWJ",
    "infonce": "mibench.estimators.neural:InfoNCE",
    "tuba": "mibench.estimators.neural:TUBA",
    "alpha": "mibench.estimators.neural:Alpha",
    "js": "mibench.estimators.neural:JS",
    "smile": "mibench.estimators.neural:SMILE",
    "ba": "mibench.estimators.neural:BA",
    "club": "mibench.estimators.neural:CLUB",
    "l1out": "mibench.estimators.neural:L1Out",
}
