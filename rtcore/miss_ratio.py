"""The ratio of two deadline-miss counts with its 95% interval (benchmarks: with X / without X).

Misses are rare events (a few in 10,000 ticks), so their counts are Poisson. On pooled counts a
and b over equal exposure, each +1 (both may be 0), the ratio is a/b and its interval
exp(ln(a/b) +- 1.96 sqrt(1/a + 1/b)) (the log-normal approximation for a ratio of Poisson rates);
a ratio is only told from 1 when the interval excludes it.
"""
import math


def ratio_ci95(with_: int, without: int) -> tuple[float, list[float]]:
    """((with_ + 1) / (without + 1), [low, high]), rounded to 3 decimals."""
    a, b = with_ + 1, without + 1
    half = 1.96 * math.sqrt(1 / a + 1 / b)
    return round(a / b, 3), [round(a / b * math.exp(-half), 3), round(a / b * math.exp(half), 3)]
