"""Figures (architecture §9), one plot per module, in one house style
(:mod:`ccsvi_bayes.figures.style`).

The return convention: a plot function takes results, draws on the axes it is given (it never
makes or saves a figure) and returns its artists by name, ``dict[str, list[Artist]]``
(:func:`~ccsvi_bayes.figures.forest.forest_plot`, :func:`~ccsvi_bayes.figures.effect.effect_plot`,
the bias, check and harms panels). The plots of a sensitivity grid
(:func:`~ccsvi_bayes.figures.tornado.tornado`,
:func:`~ccsvi_bayes.figures.tipping.tipping_curve`,
:func:`~ccsvi_bayes.figures.shrinkage.shrinkage_plot`) return a dataclass that also holds the
numbers they show; its ``artists()`` is that same dict. The drivers
(:mod:`~ccsvi_bayes.figures.draw`, :mod:`~ccsvi_bayes.figures.sensitivity`,
:mod:`~ccsvi_bayes.figures.folder`) make the figures, call the plots and write the files.
"""
