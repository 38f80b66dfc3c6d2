"""The training loop and what it needs: sampling, checkpoints, EMA, logging."""
