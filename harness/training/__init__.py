"""The training toolkit the training stages share (harness.stages.finetune, qlora, mini_base, ...).

``settings`` (TrainSettings, the lr schedule), ``features`` (cached log-mel features),
``examples`` (prompts, targets, batches), ``forward`` (the losses), ``ctc`` (the
encoder's CTC objective), ``lora`` (adapters), ``context`` (one process or a DDP / FSDP
launch) and ``loop`` (``train``). Nothing here imports harness.stages: stages build on
the toolkit, never the other way round (tests/test_training_layout.py).
"""
