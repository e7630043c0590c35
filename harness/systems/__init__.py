"""Systems: loading a built system (system.json, bnb 4-bit, HQQ mixed precision, LoRA adapters),
reading its weight files without unpickling, and the storage rule's size check."""
