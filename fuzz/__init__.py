"""Coverage-guided fuzzing of earlymem's input readers (README, "Fuzzing"; fuzz/run.py)."""
