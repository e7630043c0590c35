"""The leaderboard: rendering results files into the page, README, CSV and JSON (render.py),
importing outside teams' hypotheses (import_hyps.py), exporting for the evaluation server (export.py)."""
