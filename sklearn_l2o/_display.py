"""Plots in scikit-learn's Display style: NMSE per layer, and training history.

A Display holds the numbers of one plot; ``from_estimator`` (or
``from_predictions``) computes them and draws, ``plot`` draws them again on any
axes, and the matplotlib objects are kept as ``ax_``, ``figure_`` and
``lines_`` for further styling.
"""

import numpy as np

from ._metrics import nmse_db

#: line styles of curves 1-10, 11-20, ...: with twenty colours, every curve
#: up to forty differs from every other in colour or style
_LINESTYLES = ("-", "--", ":", "-.")


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - matplotlib is an extra
        raise ImportError(
            "Plotting needs matplotlib: pip install 'sklearn-l2o[plots]'."
        ) from exc
    return plt


def _axes(ax):
    if ax is None:
        _, ax = _pyplot().subplots()
    return ax


def curve_styles(names):
    """Colour and line style per curve name, no two alike up to forty.

    Up to ten curves take matplotlib's ``tab10`` colours; more take the twenty
    of ``tab20`` (its ten dark shades, then the ten light ones), so no two of
    the first twenty share a colour. Curves 11 to 20 are dashed, 21 to 30
    dotted, and so on. Passing the same names gives the same styles, so that
    several plots of the same solvers match.
    """
    from matplotlib import colormaps

    names = list(dict.fromkeys(names))
    if len(names) <= 10:
        colours = list(colormaps["tab10"].colors)
    else:
        tab20 = colormaps["tab20"].colors
        colours = list(tab20[0::2]) + list(tab20[1::2])
    return {
        name: {
            "color": colours[i % len(colours)],
            "linestyle": _LINESTYLES[(i // 10) % len(_LINESTYLES)],
        }
        for i, name in enumerate(names)
    }


def _legend_outside(ax):
    ax.legend(
        loc="upper left",
        bbox_to_anchor=(1.02, 1.0),
        borderaxespad=0.0,
        fontsize=7,
        frameon=False,
    )


class NMSECurveDisplay:
    """NMSE (dB) after each layer or iteration, one curve per solver.

    Use :meth:`from_estimator` for a fitted unrolled solver next to ISTA and
    FISTA on the same measurements, or :meth:`from_predictions` for any
    solvers' staged estimates; or build it from curves already computed.

    Parameters
    ----------
    curves : dict of str to array-like of shape (n_steps,)
        NMSE in dB after step 1, 2, ... of each solver.
    title : str, default=None
        Title of the plot.

    Attributes
    ----------
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure
    lines_ : dict of str to matplotlib Line2D
        The curve of each solver.

    See Also
    --------
    TrainingHistoryDisplay : The validation score along training.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn_l2o import ALISTA
    >>> from sklearn_l2o.datasets import make_sparse_recovery
    >>> from sklearn_l2o.metrics import NMSECurveDisplay
    >>> B, X, A = make_sparse_recovery(1200, n_components=64, n_features=32,
    ...                                random_state=0)
    >>> model = ALISTA(dictionary=A, n_layers=4, max_steps_per_stage=50,
    ...                refinement_steps=0, device="cpu",
    ...                random_state=0).fit(B[:1000], X[:1000])
    >>> display = NMSECurveDisplay.from_estimator(model, B[1000:], X[1000:],
    ...                                           n_iter=50)
    >>> sorted(display.curves)
    ['ALISTA', 'FISTA', 'ISTA']
    >>> len(display.curves["ALISTA"]), len(display.curves["FISTA"])
    (4, 50)
    """

    def __init__(self, curves, *, title=None):
        self.curves = {name: np.asarray(c, dtype=float) for name, c in curves.items()}
        self.title = title

    def plot(
        self,
        ax=None,
        *,
        log_x=False,
        title=None,
        styles=None,
        legend=True,
        ylabel="NMSE (dB)",
        yscale="linear",
    ):
        """Draw the curves.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; a new figure when None.
        log_x : bool, default=False
            A logarithmic layer / iteration axis (for long classic runs).
        title : str, default=None
            Replaces the display's title.
        styles : dict of str to dict, default=None
            Line properties per curve name (colour, line style); by default
            no two of the first forty curves look alike. Passing the same
            styles to several plots makes their curves match.
        legend : bool, default=True
            Draw a legend right of the axes.
        ylabel : str, default="NMSE (dB)"
            The y axis' label, for curves of another quantity.
        yscale : {"linear", "log"}, default="linear"

        Returns
        -------
        display : NMSECurveDisplay
        """
        ax = _axes(ax)
        styles = curve_styles(self.curves) if styles is None else styles
        self.lines_ = {}
        for name, curve in self.curves.items():
            if curve.size == 1:
                # a solver with one final estimate: a level, not a curve
                self.lines_[name] = ax.axhline(
                    curve[0],
                    color=styles[name]["color"],
                    linestyle=":",
                    linewidth=1.2,
                    label=f"{name} (final)",
                )
                continue
            (self.lines_[name],) = ax.plot(
                np.arange(1, curve.size + 1),
                curve,
                label=name,
                marker="o" if curve.size <= 64 else None,
                markersize=3,
                **styles[name],
            )
        if log_x:
            ax.set_xscale("log")
        ax.set_yscale(yscale)
        ax.set_xlabel("layer / iteration")
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
        title = self.title if title is None else title
        if title:
            ax.set_title(title, fontsize=9)
        if legend:
            _legend_outside(ax)
        self.ax_, self.figure_ = ax, ax.figure
        return self

    @classmethod
    def from_predictions(cls, y_true, staged, *, average="ratio", ax=None, title=None):
        """Compute each solver's curve from its staged estimates, and draw.

        Parameters
        ----------
        y_true : array-like of shape (n_samples, n_components)
            The true codes x.
        staged : dict of str to iterable of arrays
            Each solver's estimates after each layer or iteration (for example
            its ``staged_predict(X)``).
        average : {"ratio", "samples"}, default="ratio"
            The NMSE's definition (see :func:`~sklearn_l2o.metrics.nmse_db`).
        ax : matplotlib Axes, default=None
        title : str, default=None

        Returns
        -------
        display : NMSECurveDisplay
        """
        curves = {
            name: [nmse_db(y_true, estimate, average=average) for estimate in steps]
            for name, steps in staged.items()
        }
        return cls(curves, title=title).plot(ax)

    @classmethod
    def from_estimator(
        cls,
        estimator,
        X,
        y,
        *,
        baselines="auto",
        alpha=None,
        n_iter=100,
        name=None,
        average="ratio",
        ax=None,
        title=None,
    ):
        """The fitted solver's NMSE after each layer, next to ISTA and FISTA.

        Parameters
        ----------
        estimator : fitted estimator with ``staged_predict``
            An unrolled solver (or any estimator yielding staged codes).
        X : array-like of shape (n_samples, n_features)
            Measurements b.
        y : array-like of shape (n_samples, n_components)
            Their true codes x.
        baselines : "auto", list of estimators or None, default="auto"
            Solvers drawn next to it: "auto" runs :class:`~sklearn_l2o.ISTA`
            and :class:`~sklearn_l2o.FISTA` on the estimator's dictionary
            with l1 weight ``alpha`` for ``n_iter`` iterations; a list gives
            estimators (fitted or not; unfitted ones are fitted on ``X``)
            whose ``staged_predict`` is drawn; None draws the estimator alone.
        alpha : float, default=None
            The baselines' l1 weight; None uses the estimator's ``alpha``
            (0.005 where it has none).
        n_iter : int, default=100
            Iterations of the "auto" baselines.
        name : str, default=None
            The estimator's label; its class name by default.
        average : {"ratio", "samples"}, default="ratio"
        ax : matplotlib Axes, default=None
        title : str, default=None
            None names the problem size.

        Returns
        -------
        display : NMSECurveDisplay
        """
        from sklearn.base import clone

        from ._classic import FISTA, ISTA

        staged = {name or type(estimator).__name__: estimator.staged_predict(X)}
        if isinstance(baselines, str) and baselines == "auto":
            weight = getattr(estimator, "alpha", None) if alpha is None else alpha
            weight = 0.005 if weight is None else weight
            device = str(getattr(estimator, "device_", "cpu"))
            baselines = [
                solver(
                    dictionary=estimator.dictionary_,
                    alpha=weight,
                    max_iter=n_iter,
                    tol=0.0,
                    device=device,
                )
                for solver in (ISTA, FISTA)
            ]
        for baseline in baselines or []:
            if not hasattr(baseline, "dictionary_") and not hasattr(
                baseline, "module_"
            ):
                baseline = clone(baseline).fit(X)
            staged[type(baseline).__name__] = baseline.staged_predict(X)
        if title is None and hasattr(estimator, "dictionary_"):
            m, n = estimator.dictionary_.shape
            title = f"sparse recovery, {m} x {n} dictionary, {len(y)} signals"
        return cls.from_predictions(y, staged, average=average, ax=ax, title=title)


class TrainingHistoryDisplay:
    """The validation score along training, stage by stage.

    Every training loop of the package records, per stage, each validation as
    ``[step, score]`` (``history_[i]["curve"]``); this display chains them
    over the training steps taken, one colour per phase, with the start of
    each stage marked.

    Parameters
    ----------
    history : list of dict
        A fitted estimator's ``history_``.
    ylabel : str, default="validation score"
    title : str, default=None

    Attributes
    ----------
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure
    lines_ : list of matplotlib Line2D
        One per stage.

    See Also
    --------
    NMSECurveDisplay : NMSE against layer of a fitted solver.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn_l2o import ALISTA
    >>> from sklearn_l2o.datasets import make_sparse_recovery
    >>> from sklearn_l2o.metrics import TrainingHistoryDisplay
    >>> B, X, A = make_sparse_recovery(1200, n_components=64, n_features=32,
    ...                                random_state=0)
    >>> model = ALISTA(dictionary=A, n_layers=3, max_steps_per_stage=50,
    ...                refinement_steps=100, device="cpu",
    ...                random_state=0).fit(B, X)
    >>> display = TrainingHistoryDisplay.from_estimator(model)
    >>> len(display.lines_) == len(model.history_)
    True
    """

    def __init__(self, history, *, ylabel="validation score", title=None):
        self.history = history
        self.ylabel = ylabel
        self.title = title

    def plot(self, ax=None, *, title=None):
        """Draw the history.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; a new figure when None.
        title : str, default=None
            Replaces the display's title.

        Returns
        -------
        display : TrainingHistoryDisplay
        """
        ax = _axes(ax)
        styles = curve_styles(record["phase"] for record in self.history)
        self.lines_, offset, labelled = [], 0, set()
        for record in self.history:
            curve = np.asarray(record["curve"], dtype=float).reshape(-1, 2)
            phase = record["phase"]
            label = None if phase in labelled else phase
            labelled.add(phase)
            (line,) = ax.plot(
                offset + curve[:, 0], curve[:, 1], label=label, **styles[phase]
            )
            self.lines_.append(line)
            ax.axvline(offset, color="0.85", linewidth=0.5, zorder=0)
            offset += record["steps"]
        ax.set_xlabel("training steps")
        ax.set_ylabel(self.ylabel)
        ax.grid(True, alpha=0.3)
        title = self.title if title is None else title
        if title:
            ax.set_title(title)
        _legend_outside(ax)
        self.ax_, self.figure_ = ax, ax.figure
        return self

    @classmethod
    def from_estimator(cls, estimator, *, ax=None, title=None):
        """Draw a fitted estimator's ``history_``.

        Parameters
        ----------
        estimator : fitted estimator with ``history_``
        ax : matplotlib Axes, default=None
        title : str, default=None
            None names the estimator.

        Returns
        -------
        display : TrainingHistoryDisplay
        """
        history = estimator.history_
        ylabel = "validation score"
        if hasattr(estimator, "validation_nmse_db_"):
            ylabel = "validation NMSE (dB)"
        elif hasattr(estimator, "validation_objective_"):
            ylabel = "validation LASSO objective"
        elif history and history[0]["phase"] == "meta":
            ylabel = "validation meta-loss"
        if title is None:
            title = f"{type(estimator).__name__} training"
        return cls(history, ylabel=ylabel, title=title).plot(ax)
