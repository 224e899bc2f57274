"""The main job (``ccsvi-bayes run``) over every domain and endpoint of an evidence set."""
