"""Evaluation: make eval's loop over systems and test sets (segmented and long-form), the speed
protocol, the GPU schedule, systems run by contract, and the ablation reports."""
