"""Figures (DESIGN.md §9): functions that take results, draw on given axes and return the
artists, in one house style (:mod:`ccsvi_bayes.figures.style`)."""
