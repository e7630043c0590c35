"""Long-form audio: segmenting a talk (SHAS-style DAC over silero-vad, VAD only, fixed windows, gold)
and realigning hypotheses to the reference segments as the evaluation server does (mweralign)."""
