"""The monitoring dashboard: one page, served by the server itself, charts drawn by uPlot."""
