"""The lessons screen: the tutorial's `abcde` letters unrolled in time and the series forecasts.

`screen` runs the lessons; every other module here is one view (`letters`, `series_unrolled`,
`series_weights`, `plot`, `history`, `status`) built on `rows` (rows of styled parts) and `palette`
(colour by sign and size). The views are handed finished numbers from the engine and only draw them.
"""
