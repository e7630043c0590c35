"""Inference: greedy decoding of a built system (transformers, or vLLM on a GPU machine), and the
coordinator that shards a test set over several processes."""
