"""Systems: a model folder's files read and checked without loading (model_files.py), loading a
built system (system.json, bnb 4-bit, HQQ mixed precision, LoRA adapters), reading weight files
without unpickling, and the storage rule's size check."""
