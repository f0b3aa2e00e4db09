"""facebench: train face-embedding recipes, judge them by verification, sweep them with Ray Tune + Optuna."""

__version__ = "0.1.0"
