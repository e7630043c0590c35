"""What a file in a system folder is, judged by its bytes, and what a safetensors header declares.

Used by ``harness.systems.storage`` (``python -m harness check``). Nothing here imports torch,
unpickles, or reads tensor data, with one documented exception:
``read_small_tensor`` reads a tensor of at most ``SMALL_TENSOR_LIMIT`` bytes by its
offset. Quantized checkpoints keep what a verdict needs in such tensors: the
original shape of a bitsandbytes 4-bit weight is a JSON text stored as a uint8
tensor (``<weight>.quant_state.bitsandbytes__nf4``), and HQQ stores ``shape``,
``nbits`` and ``group_size`` as scalar or 2-element tensors. Without them the
logical parameter count of packed storage cannot be known (Moslem, IWSLT 2025,
reported "4.95 B parameters" for an 8.4 B model by counting packed elements).

Formats are recognised by content (magic bytes), never by extension alone, so a
safetensors file named ``notes.txt`` is still a weight file:
  safetensors   8-byte little-endian header length N, then a JSON header starting with '{'
  zip           'PK\\x03\\x04': torch.save archives (a ``data.pkl`` member: pickle), npz (.npy members)
  pickle        '\\x80' followed by a protocol byte 2..5 (torch's legacy format is protocol 2);
                protocols 0 and 1 have no signature and are not recognised
  npy           '\\x93NUMPY'; an object dtype ('|O') means the array is pickled
  gguf / ggml   'GGUF', or the legacy GGML/GGJT/GGMF magics
  hdf5          '\\x89HDF\\r\\n\\x1a\\n' (Keras .h5)
  tflite        'TFL3' at offset 4
  onnx          a protobuf ModelProto: field 1 (ir_version, varint 1..15) then a known field tag
  tar           'ustar' at offset 257
  compressed    zstd '\x28\xb5\x2f\xfd', gzip '\x1f\x8b', xz '\xfd7zXZ\x00', bzip2 'BZh1'..'BZh9' then
                a block or end magic, 7z '7z\xbc\xaf\x27\x1c', lz4 frame '\x04\x22\x4d\x18' (each
                format's specification); their content is not opened: counted as a weight container
                the harness cannot load
A file whose content is not recognised but whose extension names a weight format
(``.bin``, ``.pt``, ``.onnx_data``, ...) is still counted as weights.

Every problem is a one-line ``WeightFileError``; the caller prefixes the file name.
"""

from __future__ import annotations

import ast
import json
import math
import os
import re
import struct
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError

# Bits per element of every dtype the safetensors format defines (safetensors 0.6).
DTYPE_BITS = {
    "BOOL": 8, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8, "F8_E8M0": 8,
    "I16": 16, "U16": 16, "F16": 16, "BF16": 16,
    "I32": 32, "U32": 32, "F32": 32,
    "I64": 64, "U64": 64, "F64": 64, "C64": 64,
    "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6,
}
# The safetensors library refuses headers above 100 MB. The checker stops lower, before
# reading one: parsing holds about twice the header (bytes, then str and objects), and a
# 99 MB header peaked at 212 MB, over the checker's 200 MB budget. Real headers are
# kilobytes (Qwen2-Audio-7B's 876 tensors: ~100 kB), so 64 MiB refuses no real file.
MAX_HEADER_BYTES = 64 * 2**20
# Python's json turns every value into an object (an int 28+ bytes, a dict 200+), so a
# 100 MB header of tiny values would take gigabytes. Every value but the outermost follows
# one of , : [ { ; counting those bytes (inside strings too: an upper bound, read in C at
# memchr speed) before parsing caps the objects json can make. A real header needs about
# 12 per tensor (Qwen2-Audio-7B's 876 tensors: ~10,000); this allows ~80,000 tensors a file.
MAX_JSON_SEPARATORS = 1_000_000
# Config-like JSON beside the weights (config.json, *_config.json, indexes, manifests) is
# read whole; real ones are kilobytes (a 7B index ~100 kB).
MAX_CONFIG_BYTES = 16 * 2**20
# A metadata tensor read by offset may be at most this large (see the module docstring).
SMALL_TENSOR_LIMIT = 64 * 1024

WEIGHT_EXTENSIONS = frozenset({
    ".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle", ".joblib", ".npz", ".npy",
    ".gguf", ".ggml", ".onnx", ".onnx_data", ".h5", ".hdf5", ".keras", ".msgpack", ".tflite", ".pb",
})
PICKLE_MEMBER_SUFFIXES = (".pkl", ".pickle", ".pt", ".pth", ".bin", ".ckpt", ".joblib")
GGML_MAGICS = (b"GGUF", b"lmgg", b"fmgg", b"tjgg")
ONNX_SECOND_TAGS = frozenset({0x12, 0x1A, 0x22, 0x28, 0x32, 0x3A, 0x42})
SNIFF_BYTES = 512
USIZE_LIMIT = 2**64
# (magic, kind, detail) of compressed containers, from each format's specification.
COMPRESSED_MAGICS = (
    (b"\x28\xb5\x2f\xfd", "zstd", "zstd-compressed"),            # RFC 8878 frame magic 0xFD2FB528
    (b"\x1f\x8b", "gzip", "gzip-compressed"),                       # RFC 1952 ID1 ID2
    (b"\xfd7zXZ\x00", "xz", "xz-compressed"),                        # .xz format 2.2.1 header magic
    (b"7z\xbc\xaf\x27\x1c", "7z", "7z archive"),                     # 7z signature header
    (b"\x04\x22\x4d\x18", "lz4", "lz4-compressed"),                  # LZ4 frame magic 0x184D2204
    (b"\x02\x21\x4c\x18", "lz4", "lz4-compressed (legacy frame)"),   # LZ4 legacy frame magic 0x184C2102
)
# bzip2: 'BZh' + block size '1'..'9', then a block magic (pi) or the end-of-stream magic (sqrt pi).
_BZIP2 = re.compile(rb"BZh[1-9](1AY&SY|\x17rE8P\x90)")


class WeightFileError(HarnessError, ValueError):
    """One line saying what is wrong with a file (without its name: the caller adds it)."""


@dataclass(frozen=True)
class FileKind:
    kind: str               # "safetensors", "pickle", "torch-zip", "npz", "npy", "zip", "gguf", ..., "other"
    weight_bearing: bool    # counted toward the size
    pickled: bool           # loading it would unpickle: never accepted
    detail: str = ""        # why it was classified so


@dataclass(frozen=True)
class TensorEntry:
    name: str
    dtype: str
    shape: tuple[int, ...]
    begin: int              # offsets into the data section (after the 8 + N header bytes)
    end: int

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.end - self.begin


@dataclass(frozen=True)
class SafetensorsHeader:
    file_bytes: int
    header_bytes: int                   # N, the JSON header's length
    metadata: dict[str, str]
    tensors: tuple[TensorEntry, ...]    # in header order (the order safetensors loads them)

    @property
    def data_start(self) -> int:
        return 8 + self.header_bytes


def sniff(path: Path) -> FileKind:
    """What `path` holds, from its first bytes (and, for archives, their member list)."""
    with open(path, "rb") as handle:
        head = handle.read(SNIFF_BYTES)
    suffix = path.suffix.lower()
    if len(head) >= 9 and head[8:9] == b"{":
        declared = struct.unpack("<Q", head[:8])[0]
        if 2 <= declared <= MAX_HEADER_BYTES:
            return FileKind("safetensors", True, False, "8-byte header length + JSON header")
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _sniff_zip(path)
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return FileKind("pickle", True, True, f"pickle protocol {head[1]}")
    if head.startswith(GGML_MAGICS):
        return FileKind("gguf", True, False, f"magic {head[:4]!r}")
    if head.startswith(b"\x93NUMPY"):
        with open(path, "rb") as handle:
            pickled = _npy_is_object(handle)
        return FileKind("npy", True, pickled, "numpy object array (pickled)" if pickled else "numpy array")
    if head.startswith(b"\x89HDF\r\n\x1a\n"):
        return FileKind("hdf5", True, False, "HDF5 signature")
    if head[4:8] == b"TFL3":
        return FileKind("tflite", True, False, "TFL3 identifier")
    if suffix == ".onnx" or (len(head) >= 3 and head[0] == 0x08 and 1 <= head[1] <= 15 and head[2] in ONNX_SECOND_TAGS):
        return FileKind("onnx", True, False, "protobuf ModelProto (ir_version first)")
    if head[257:262] == b"ustar":
        return _sniff_tar(path)
    for magic, kind, detail in COMPRESSED_MAGICS:
        if head.startswith(magic):
            return FileKind(kind, True, False, detail)
    if _BZIP2.match(head):
        return FileKind("bzip2", True, False, "bzip2-compressed")
    if suffix in WEIGHT_EXTENSIONS:
        return FileKind("unrecognised-weights", True, False, f"unrecognised content under a weight extension {suffix}")
    return FileKind("other", False, False, "")


def _sniff_zip(path: Path) -> FileKind:
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            if any(name.endswith("data.pkl") for name in names):
                return FileKind("torch-zip", True, True, "torch.save archive (data.pkl member)")
            pickled = [name for name in names if name.lower().endswith(PICKLE_MEMBER_SUFFIXES)]
            if pickled:
                return FileKind("zip", True, True, f"zip archive holding {pickled[0]!r}")
            if names and all(name.endswith(".npy") for name in names):
                for name in names:
                    with archive.open(name) as member:
                        if _npy_is_object(member):
                            return FileKind("npz", True, True, f"npz member {_short(name)} is an object array (pickled)")
                return FileKind("npz", True, False, f"npz archive of {len(names)} arrays")
            return FileKind("zip", True, False, f"zip archive of {len(names)} members")
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, RuntimeError, NotImplementedError) as error:
        # RuntimeError: an encrypted member; NotImplementedError: a compression method zipfile lacks.
        # An archive we cannot list could hold a pickle: refuse it rather than guess.
        return FileKind("zip", True, True, f"unreadable zip archive ({error})")


def _sniff_tar(path: Path) -> FileKind:
    try:
        with tarfile.open(path, mode="r:") as archive:
            names = archive.getnames()
    except (tarfile.TarError, OSError, EOFError, ValueError) as error:
        return FileKind("tar", True, True, f"unreadable tar archive ({error})")
    # torch's oldest format is a tar with a member called "pickle".
    pickled = [name for name in names if name.lower().endswith(PICKLE_MEMBER_SUFFIXES) or Path(name).name == "pickle"]
    if pickled:
        return FileKind("tar", True, True, f"tar archive holding {pickled[0]!r}")
    return FileKind("tar", True, False, f"tar archive of {len(names)} members")


def _npy_is_object(stream) -> bool:
    """Whether the .npy array at the start of `stream` has an object dtype (stored as a pickle).

    Reads only the npy header (its length is in the preamble; numpy caps it far below 1 MiB).
    """
    preamble = stream.read(12)
    if len(preamble) < 10 or not preamble.startswith(b"\x93NUMPY"):
        return False
    if preamble[6] == 1:
        length, rest = struct.unpack("<H", preamble[8:10])[0], preamble[10:]
    else:
        length, rest = struct.unpack("<I", preamble[8:12])[0], b""
    if length > 1 << 20:
        return True
    text = rest + stream.read(length - len(rest))
    try:
        header = ast.literal_eval(text.decode("latin1"))
        return _descr_has_object(header["descr"])
    except (ValueError, SyntaxError, KeyError, TypeError, MemoryError, RecursionError):
        # An unparseable header is treated as unsafe: np.load could need pickle for it.
        return True


def _descr_has_object(descr: object) -> bool:
    if isinstance(descr, str):
        return descr.lstrip("<>|=").startswith("O")
    if isinstance(descr, (list, tuple)):
        return any(_descr_has_object(field[1]) for field in descr if isinstance(field, (list, tuple)) and len(field) >= 2)
    return True


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict:
    seen: dict[str, object] = {}
    for key, value in pairs:
        if key in seen:
            raise WeightFileError(f"header names {_short(key)} twice")
        seen[key] = value
    return seen


def decode_utf8(raw: bytes, what: str) -> str:
    """`raw` as text, or a one-line WeightFileError; the separator bound is checked first, on the bytes,
    so a header refused by it is never decoded (UTF-8 never puts an ASCII byte inside a multibyte character)."""
    _check_separators(raw, what)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise WeightFileError(f"{what} is not UTF-8 (byte {error.start})") from None


def parse_json_bounded(text: str, what: str, object_pairs_hook=None) -> object:
    """Parse JSON text into Python objects with bounded memory, or raise a one-line WeightFileError.

    Refused before parsing: more than MAX_JSON_SEPARATORS separators (see there).
    Refused while parsing: invalid JSON, nesting deeper than Python's recursion limit,
    integers beyond Python's 4,300-digit conversion limit. The caller decodes (and
    drops its bytes) first, so a 50 MB header is held once as bytes, then once as text.
    """
    _check_separators(text, what)
    try:
        return json.loads(text, object_pairs_hook=object_pairs_hook)
    except WeightFileError:
        raise
    except json.JSONDecodeError as error:
        raise WeightFileError(f"{what} is not valid JSON ({error.msg} at character {error.pos})") from None
    except RecursionError:
        raise WeightFileError(f"{what} nests JSON deeper than the parser's recursion limit") from None
    except ValueError as error:
        # e.g. an integer literal longer than Python's int conversion limit (4,300 digits)
        raise WeightFileError(f"{what} is not usable JSON ({str(error).splitlines()[0]})") from None


def _check_separators(data: bytes | str, what: str) -> None:
    separators = sum(data.count(char) for char in ((b",", b":", b"[", b"{") if isinstance(data, bytes) else ",:[{"))
    if separators > MAX_JSON_SEPARATORS:
        raise WeightFileError(f"{what} has {separators:,} JSON separators, above the checker's limit of"
                              f" {MAX_JSON_SEPARATORS:,} (it bounds the memory of parsing)")


def read_safetensors_header(path: Path) -> SafetensorsHeader:
    """Parse and validate a safetensors header against the file's real size; read no tensor data.

    Invalid: fewer than 8 bytes; a header length beyond the file or above MAX_HEADER_BYTES (64 MiB);
    a header that is not a UTF-8 JSON object (or has more separators than
    MAX_JSON_SEPARATORS: refused before parsing); duplicate names; an unknown dtype;
    a bad shape or offsets; dtype x shape bytes different from the offsets' span;
    tensors that overlap or leave gaps; a data section shorter (truncated) or
    longer (trailing bytes: hidden data) than the tensors declare.
    """
    file_bytes = os.stat(path).st_size
    if file_bytes < 8:
        raise WeightFileError(f"truncated: {file_bytes} bytes, shorter than the 8-byte header length")
    with open(path, "rb") as handle:
        header_bytes = struct.unpack("<Q", handle.read(8))[0]
        if header_bytes > MAX_HEADER_BYTES:
            raise WeightFileError(f"header length {header_bytes} exceeds the checker's limit of {MAX_HEADER_BYTES:,} bytes"
                                  " (safetensors allows 100 MB; real headers are kilobytes)")
        if 8 + header_bytes > file_bytes:
            raise WeightFileError(f"truncated: header length {header_bytes} reaches beyond the end of the file ({file_bytes} bytes)")
        if header_bytes < 2:
            raise WeightFileError(f"header length {header_bytes} is too short for a JSON object")
        raw = handle.read(header_bytes)
    # The safetensors format requires the header to start with '{' (its InvalidHeaderStart).
    if not raw.startswith(b"{"):
        raise WeightFileError("header is not a JSON object (does not start with '{')")
    text = decode_utf8(raw, "header")
    del raw     # a 50 MB header is held as bytes or as text, not both, while it is parsed
    parsed = parse_json_bounded(text, "header", object_pairs_hook=_no_duplicates)
    del text
    if not isinstance(parsed, dict):
        raise WeightFileError("header is not a JSON object")
    metadata = parsed.pop("__metadata__", None)
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise WeightFileError("__metadata__ must map strings to strings")
    tensors = tuple(_tensor_entry(name, info) for name, info in parsed.items())
    _check_layout(tensors, file_bytes - 8 - header_bytes)
    return SafetensorsHeader(file_bytes=file_bytes, header_bytes=header_bytes, metadata=metadata, tensors=tensors)


def _short(value: object, limit: int = 80) -> str:
    """repr of a header value for a one-line message, cut short (a shape may hold a million dims)."""
    text = repr(value) if not isinstance(value, (list, dict)) or len(value) <= 16 else f"<{type(value).__name__} of {len(value)}>"
    return text if len(text) <= limit else text[:limit] + "..."


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _tensor_entry(name: str, info: object) -> TensorEntry:
    if not isinstance(info, dict) or not {"dtype", "shape", "data_offsets"} <= info.keys():
        raise WeightFileError(f"tensor {_short(name)} lacks dtype, shape or data_offsets")
    dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
    if not isinstance(dtype, str) or dtype not in DTYPE_BITS:
        raise WeightFileError(f"tensor {_short(name)} has unknown dtype {_short(dtype)}")
    # Dims and offsets are usize in the safetensors library: non-negative and below 2^64.
    if not isinstance(shape, list) or not all(_is_int(dim) and 0 <= dim < USIZE_LIMIT for dim in shape):
        raise WeightFileError(f"tensor {_short(name)} has an invalid shape {_short(shape)}")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(_is_int(o) for o in offsets)
            and 0 <= offsets[0] <= offsets[1] < USIZE_LIMIT):
        raise WeightFileError(f"tensor {_short(name)} has invalid data_offsets {_short(offsets)}")
    # The element count is multiplied with an overflow check, as the library does, so a
    # shape of many huge dims is refused before Python builds a giant integer.
    numel = 1
    for dim in shape:
        numel *= dim
        if numel >= USIZE_LIMIT:
            raise WeightFileError(f"tensor {_short(name)}: shape {_short(shape)} has 2^64 or more elements")
    entry = TensorEntry(name, dtype, tuple(shape), offsets[0], offsets[1])
    bits = numel * DTYPE_BITS[dtype]
    if bits % 8:
        raise WeightFileError(f"tensor {_short(name)}: {numel} x {dtype} is not a whole number of bytes")
    if bits // 8 != entry.nbytes:
        raise WeightFileError(f"tensor {_short(name)}: {dtype} x {_short(shape)} is {bits // 8} bytes but its offsets span {entry.nbytes}")
    return entry


def _check_layout(tensors: tuple[TensorEntry, ...], data_bytes: int) -> None:
    position = 0
    for entry in sorted(tensors, key=lambda t: (t.begin, t.end)):
        if entry.begin < position:
            raise WeightFileError(f"tensor {_short(entry.name)} overlaps the previous tensor (starts at {entry.begin}, previous ends at {position})")
        if entry.begin > position:
            raise WeightFileError(f"gap of {entry.begin - position} bytes before tensor {_short(entry.name)}")
        position = entry.end
    if position > data_bytes:
        raise WeightFileError(f"truncated: tensors need {position} data bytes but the file holds {data_bytes}")
    if position < data_bytes:
        raise WeightFileError(f"{data_bytes - position} trailing bytes after the last tensor")


def read_small_tensor(path: Path, header: SafetensorsHeader, entry: TensorEntry) -> bytes:
    """The bytes of one metadata tensor of at most SMALL_TENSOR_LIMIT bytes, read by offset."""
    if entry.nbytes > SMALL_TENSOR_LIMIT:
        raise WeightFileError(f"metadata tensor {_short(entry.name)} is {entry.nbytes} bytes, above the {SMALL_TENSOR_LIMIT}-byte limit for metadata")
    with open(path, "rb") as handle:
        handle.seek(header.data_start + entry.begin)
        data = handle.read(entry.nbytes)
    if len(data) != entry.nbytes:
        raise WeightFileError(f"truncated while reading metadata tensor {_short(entry.name)}")
    return data


def small_int_tensor(path: Path, header: SafetensorsHeader, entry: TensorEntry) -> tuple[int, ...]:
    """An integer metadata tensor (HQQ's nbits, group_size, shape) as Python ints."""
    formats = {"U8": "B", "I8": "b", "I16": "h", "U16": "H", "I32": "i", "U32": "I", "I64": "q", "U64": "Q"}
    if entry.dtype not in formats:
        raise WeightFileError(f"metadata tensor {_short(entry.name)} has dtype {entry.dtype}, expected an integer type")
    data = read_small_tensor(path, header, entry)
    return struct.unpack(f"<{entry.numel}{formats[entry.dtype]}", data)
