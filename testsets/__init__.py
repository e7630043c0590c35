"""Test-set data: the mini world generator and the generated mini-track sets."""
