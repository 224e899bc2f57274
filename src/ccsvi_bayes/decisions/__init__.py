"""Stage 11, decisions: what a committee decides with, computed from fits and run folders
(certainty of the evidence, averaging over bias structures, the value of a new trial)."""
