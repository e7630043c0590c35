"""Score segments with COMET inside the comet environment (.venv-comet).

COMET: Rei et al. 2020, "COMET: A Neural Framework for MT Evaluation"; Rei et al.
2022, "COMET-22" (Unbabel/wmt22-comet-da, the IWSLT 2026 primary metric).

unbabel-comet 2.2.7 pins transformers<5 and numpy<2, so it cannot share the
harness's environment. This script is run with the comet environment's python
and imports only the standard library, huggingface_hub, torch and comet -- never
the harness package, which that environment does not have:

  .venv-comet/bin/python harness/scoring/comet_runner.py --model Unbabel/wmt22-comet-da \
      --revision <40-hex commit> --input segs.jsonl --output scores.json [--batch-size N] [--gpus 0|1]

Input: JSONL, one {"src", "mt", "ref"} object per line. Output (written atomically):
{"system_score", "scores", "model", "comet_version", "model_checkpoint_sha256"
(local checkpoints only), "model_revision" (hub snapshots only)}.

--model is a hub id or a local checkpoint: a folder holding checkpoints/model.ckpt
and hparams.yaml (the hub's layout), or the .ckpt file itself. A hub id needs --revision,
a commit id (the harness pins one per id, harness.data.hub.HUB_REVISIONS): the hub's "main"
moves, and scores from another checkpoint are other scores. The hub is never
contacted unless --allow-download is given: a hub id that is not in the local cache
is a one-line error and exit status 2, as is unusable input.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import sys
import tempfile
import warnings
from importlib import metadata
from pathlib import Path

BAD_INPUT = 2


class RunnerError(Exception):
    """A model or input this runner cannot use; the message is the one line the user sees."""


def read_segments(path: Path) -> list[dict]:
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise RunnerError(f"cannot read {path}: {error.strerror}") from None
    segments = []
    for number, line in enumerate(raw.split(b"\n"), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line.decode("utf-8"))
        except UnicodeDecodeError:
            raise RunnerError(f"{path}:{number}: not UTF-8") from None
        except ValueError:
            raise RunnerError(f"{path}:{number}: not a JSON object") from None
        if not isinstance(row, dict) or not all(isinstance(row.get(key), str) for key in ("src", "mt", "ref")):
            raise RunnerError(f"{path}:{number}: needs string fields src, mt and ref")
        segments.append({"src": row["src"], "mt": row["mt"], "ref": row["ref"]})
    if not segments:
        raise RunnerError(f"{path}: no segments")
    return segments


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def resolve_model(model: str, allow_download: bool, revision: str | None = None) -> dict:
    """Where the checkpoint is, and how the output names it."""
    local = Path(model)
    if local.exists():
        checkpoint = local / "checkpoints" / "model.ckpt" if local.is_dir() else local
        if not checkpoint.is_file():
            raise RunnerError(f"{local} is not a COMET checkpoint: no checkpoints/model.ckpt inside")
        if not (checkpoint.parents[1] / "hparams.yaml").is_file():
            raise RunnerError(f"{checkpoint.parents[1] / 'hparams.yaml'} is missing (COMET reads the model class from it)")
        return {"checkpoint": checkpoint, "model": checkpoint.parents[1].name,
                "model_checkpoint_sha256": sha256_of(checkpoint)}

    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    if revision is None or len(revision) != 40 or any(c not in "0123456789abcdef" for c in revision):
        raise RunnerError(f"{model}: a hub id needs --revision <40-hex commit id> (got {revision!r}); "
                          f"a branch such as main moves")
    try:
        snapshot = Path(snapshot_download(repo_id=model, revision=revision, local_files_only=not allow_download))
    except LocalEntryNotFoundError:
        raise RunnerError(f"{model} is not in the local cache and the hub is offline "
                          f"(download it beforehand, or pass --allow-download)") from None
    except Exception as error:  # a malformed id, a hub error: one line, not a traceback
        raise RunnerError(f"cannot resolve COMET model {model}: {str(error).splitlines()[0]}") from None
    checkpoint = snapshot / "checkpoints" / "model.ckpt"
    if not checkpoint.is_file():
        raise RunnerError(f"{model} has no checkpoints/model.ckpt in its snapshot {snapshot}")
    return {"checkpoint": checkpoint, "model": model, "model_revision": snapshot.name}


def atomic_write_json(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(payload, stream, indent=2)
            stream.write("\n")
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def quiet_libraries() -> None:
    # Lightning announces devices and comet imports deprecated pkg_resources; none of
    # it is actionable for a user reading the harness's one-line errors.
    for name in ("pytorch_lightning", "lightning", "lightning.pytorch", "lightning_fabric", "comet",
                 "transformers"):
        logging.getLogger(name).setLevel(logging.ERROR)


def score(args: argparse.Namespace) -> dict:
    segments = read_segments(Path(args.input))
    resolved = resolve_model(args.model, args.allow_download, args.revision)

    warnings.filterwarnings("ignore")
    import torch
    from comet import load_from_checkpoint

    quiet_libraries()  # after the imports: pytorch_lightning sets its logger's level when imported

    gpus = args.gpus if args.gpus is not None else int(torch.cuda.is_available())
    if gpus > 0 and not torch.cuda.is_available():
        raise RunnerError("--gpus 1 asked for a GPU and torch sees none")
    try:
        model = load_from_checkpoint(str(resolved["checkpoint"]), local_files_only=not args.allow_download)
    except OSError as error:
        # transformers raises OSError when the encoder (e.g. xlm-roberta-large for
        # wmt22-comet-da) that the checkpoint names is not cached.
        raise RunnerError(f"cannot load COMET model {args.model} offline: {str(error).splitlines()[0]}") from None
    prediction = model.predict(segments, batch_size=args.batch_size, gpus=gpus, progress_bar=False)
    scores = [float(s) for s in prediction.scores]
    payload = {
        "system_score": float(prediction.system_score),
        "scores": scores,
        "model": resolved["model"],
        "comet_version": metadata.version("unbabel-comet"),
    }
    for key in ("model_checkpoint_sha256", "model_revision"):
        if key in resolved:
            payload[key] = resolved[key]
    return payload


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Score {src, mt, ref} segments with a COMET model.")
    parser.add_argument("--model", required=True, help="hub id (must be cached) or local checkpoint folder/file")
    parser.add_argument("--revision", help="the hub commit of --model (required for a hub id)")
    parser.add_argument("--input", required=True, help="JSONL with src, mt, ref per line")
    parser.add_argument("--output", required=True, help="JSON file to write (atomically)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--gpus", type=int, choices=(0, 1), default=None,
                        help="0: CPU; 1: one GPU (default: 1 when torch sees a GPU)")
    parser.add_argument("--allow-download", action="store_true",
                        help="let huggingface_hub fetch a model that is not cached")
    args = parser.parse_args(argv)
    if not args.allow_download:
        # Set before huggingface_hub and transformers are imported: they read it once.
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
    try:
        payload = score(args)
    except RunnerError as error:
        print(f"error: {error}", file=sys.stderr)
        return BAD_INPUT
    atomic_write_json(Path(args.output), payload)
    return 0


if __name__ == "__main__":
    sys.exit(main())
