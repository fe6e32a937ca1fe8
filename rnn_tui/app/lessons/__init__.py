"""The lessons screen: the tutorial's `abcde` letters unrolled in time and the series forecasts."""
