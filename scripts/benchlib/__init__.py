"""Helpers of scripts/bench: the systems under test, the load generator, the
measurements and the report, kept apart so each stays small."""
