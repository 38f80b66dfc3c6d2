"""Measuring what a GAN learned: mode coverage, exact W1, feature-space FD/KID/IS/PRDC, class coverage.

``Evaluator`` runs a selection of the registered ``METRICS`` on a generator;
``gankit eval`` and the trainer's ``eval.every`` both go through it.
"""

from gankit.evaluation.evaluator import DEFAULT_SAMPLES, EvalResult, Evaluator
from gankit.evaluation.registry import METRICS, Metric, metric

__all__ = ["DEFAULT_SAMPLES", "METRICS", "EvalResult", "Evaluator", "Metric", "metric"]
