"""Read and write .safetensors files (8-byte little-endian header length, JSON header, raw
little-endian tensor bytes) with the checks of the lab's parser (src/engine/model/safetensors.ts):
offsets must tile the data exactly, shapes must match byte counts. Written by hand because Debian
ships no safetensors package; nothing here imports more than torch and numpy.
"""
from __future__ import annotations

import json
import os
import struct
import tempfile
from typing import Dict, Mapping, Optional, Tuple

import numpy as np
import torch

MAX_HEADER_BYTES = 100_000_000
_DTYPES = {
    "F64": (np.float64, torch.float64), "F32": (np.float32, torch.float32), "F16": (np.float16, torch.float16),
    "BF16": (None, torch.bfloat16), "I64": (np.int64, torch.int64), "I32": (np.int32, torch.int32),
    "I16": (np.int16, torch.int16), "I8": (np.int8, torch.int8), "U8": (np.uint8, torch.uint8), "BOOL": (np.bool_, torch.bool),
}
_SIZES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}
_TORCH_TO_ST = {torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
                torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8", torch.bool: "BOOL"}


class SafetensorsError(ValueError):
    """The file is not a valid safetensors file (the message says what is wrong)."""


def parse(data: bytes, name: str = "The file") -> Tuple[Dict[str, torch.Tensor], Dict[str, str]]:
    if len(data) < 8:
        raise SafetensorsError(f"{name} is not a safetensors file: it has {len(data)} bytes, fewer than the 8-byte header length.")
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8:
        raise SafetensorsError(f"{name}: the safetensors header claims {n} bytes, but only {len(data) - 8} follow (truncated or not safetensors).")
    if n > MAX_HEADER_BYTES or n < 2:
        raise SafetensorsError(f"{name}: the safetensors header length {n} is implausible.")
    try:
        header = json.loads(data[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SafetensorsError(f"{name}: the safetensors header is not valid JSON ({e}).") from None
    if not isinstance(header, dict):
        raise SafetensorsError(f"{name}: the safetensors header must be a JSON object.")
    start = 8 + n
    data_len = len(data) - start
    meta: Dict[str, str] = {}
    entries = []
    for key, raw in header.items():
        if key == "__metadata__":
            if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
                raise SafetensorsError(f"{name}: __metadata__ must be an object of strings.")
            meta = dict(raw)
            continue
        if not isinstance(raw, dict):
            raise SafetensorsError(f"{name}: tensor {key} needs dtype, shape and data_offsets.")
        dtype, shape, offs = raw.get("dtype"), raw.get("shape"), raw.get("data_offsets")
        if dtype not in _SIZES:
            raise SafetensorsError(f"{name}: tensor {key} has dtype {json.dumps(dtype)}; supported: {', '.join(_SIZES)}.")
        if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
            raise SafetensorsError(f"{name}: tensor {key} has shape {json.dumps(shape)}; expected non-negative integers.")
        if (not isinstance(offs, list) or len(offs) != 2 or not all(isinstance(o, int) and o >= 0 for o in offs)
                or offs[0] > offs[1]):
            raise SafetensorsError(f"{name}: tensor {key} has data_offsets {json.dumps(offs)}; expected [begin, end].")
        if offs[1] > data_len:
            raise SafetensorsError(f"{name}: tensor {key} ends at byte {offs[1]}, beyond the {data_len} data bytes (truncated?).")
        need = int(np.prod(shape, dtype=np.int64)) * _SIZES[dtype]
        if offs[1] - offs[0] != need:
            raise SafetensorsError(f"{name}: tensor {key} ({dtype}, shape {shape}) needs {need} bytes; its data_offsets span {offs[1] - offs[0]}.")
        entries.append((offs[0], offs[1], key, dtype, shape))
    pos = 0
    for begin, end, key, _, _ in sorted(entries):
        if begin != pos:
            raise SafetensorsError(f"{name}: the tensor data does not tile the file (tensor {key} starts at {begin}, expected {pos}).")
        pos = end
    if pos != data_len:
        raise SafetensorsError(f"{name}: {data_len - pos} bytes follow the last tensor.")
    tensors: Dict[str, torch.Tensor] = {}
    for begin, end, key, dtype, shape in entries:
        buf = data[start + begin:start + end]
        if dtype == "BF16":
            t = torch.frombuffer(bytearray(buf), dtype=torch.int16).view(torch.bfloat16) if buf else torch.empty(0, dtype=torch.bfloat16)
        else:
            t = torch.from_numpy(np.frombuffer(buf, dtype=np.dtype(_DTYPES[dtype][0]).newbyteorder("<")).copy())
        tensors[key] = t.reshape(shape)
    return tensors, meta


def load(path: str) -> Tuple[Dict[str, torch.Tensor], Dict[str, str]]:
    with open(path, "rb") as f:
        return parse(f.read(), name=os.path.basename(path))


def dumps(tensors: Mapping[str, torch.Tensor], metadata: Optional[Mapping[str, str]] = None) -> bytes:
    header: Dict[str, object] = {}
    if metadata:
        header["__metadata__"] = dict(metadata)
    chunks = []
    off = 0
    for key, t in tensors.items():
        t = t.detach().cpu().contiguous()
        if t.dtype not in _TORCH_TO_ST:
            raise SafetensorsError(f"Cannot write tensor {key} of dtype {t.dtype}.")
        raw = t.view(torch.int16).numpy().tobytes() if t.dtype == torch.bfloat16 else t.numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()
        header[key] = {"dtype": _TORCH_TO_ST[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        chunks.append(raw)
        off += len(raw)
    js = json.dumps(header, separators=(",", ":")).encode("utf-8")
    js += b" " * ((8 - (8 + len(js)) % 8) % 8)  # data 8-byte aligned, as the reference writer does
    return struct.pack("<Q", len(js)) + js + b"".join(chunks)


def save(path: str, tensors: Mapping[str, torch.Tensor], metadata: Optional[Mapping[str, str]] = None) -> None:
    """Write atomically (temp file + rename), so a failure never leaves half a file."""
    atomic_write(path, dumps(tensors, metadata))


def atomic_write(path: str, data: bytes) -> None:
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=d)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
