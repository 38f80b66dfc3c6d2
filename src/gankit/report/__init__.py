"""Pictures of runs: sample grids, 2-D scatter plots, training curves."""
