"""What every refinement stage shares: running a torch module on numpy inputs, and the weights file.

A weights file is ``{"module": "A", "config": {...}, "state_dict": {...fp16...}, "meta": {...}}``:
the config rebuilds the nn.Module, fp16 keeps the shipped files small, and tensors are cast back
to float32 on load because fp16 inference on CPU is slow and no more accurate. The file is the
torch.save'd dict, xz-compressed (10 % smaller; B's 4.4 M fp16 parameters then fit in under
8 MB, and both views in under 20 MB); gzip-compressed files of earlier versions and plain
torch.save files load too. Loading trusts nothing in the file: torch.load runs with
weights_only=True (tensors and plain containers, no code), and decompression stops at
:data:`MAX_WEIGHTS_BYTES`, so a small crafted file cannot expand to gigabytes.
"""
from __future__ import annotations

import copy
import io
import lzma
import warnings
import zlib
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval, fuse_linear_bn_eval


class TorchStage:
    """Base of the A/B/C stage wrappers: holds an eval-mode module and runs it without autograd."""

    name: str = "?"

    def __init__(self, model: nn.Module, device: str | torch.device = "cpu") -> None:
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()

    def infer(self, *inputs: np.ndarray) -> np.ndarray:
        """numpy float inputs -> the module's output as float64 numpy, batched, no gradients."""
        with torch.inference_mode():
            tensors = [torch.as_tensor(np.ascontiguousarray(x), dtype=torch.float32, device=self.device)
                       for x in inputs]
            return self.model(*tensors).double().cpu().numpy()

    @property
    def params(self) -> int:
        return count_params(self.model)


def count_params(model: nn.Module) -> int:
    return int(sum(p.numel() for p in model.parameters()))


#: Decompressors (by file signature) of the compressions load_weights undoes: xz, and gzip (wbits=31).
_DECOMPRESSORS = {b"\xfd7zXZ\x00": lzma.LZMADecompressor, b"\x1f\x8b": partial(zlib.decompressobj, wbits=31)}
#: Largest decompressed weights file load_weights accepts; the biggest shipped one is ~9 MB.
MAX_WEIGHTS_BYTES = 256 << 20
#: xz preset save_weights uses by default: the smallest files (B takes ~2 s to compress).
DEFAULT_PRESET = 9 | lzma.PRESET_EXTREME


def save_weights(path: str | Path, module: str, model: nn.Module, meta: dict[str, Any] | None = None,
                 preset: int = DEFAULT_PRESET) -> Path:
    """Write the small fp16 weights file that :func:`load_weights` reads back; `preset` is the xz
    level (0 is ~3x faster to write and ~1 % larger: what tests use)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: (v.detach().half() if v.is_floating_point() else v.detach()).cpu()
             for k, v in model.state_dict().items()}
    buffer = io.BytesIO()
    torch.save({"module": module, "config": dict(model.config), "state_dict": state, "meta": meta or {}}, buffer)
    path.write_bytes(lzma.compress(buffer.getvalue(), preset=preset))
    return path


def load_weights(path: str | Path, builders: dict[str, type[nn.Module]]) -> tuple[str, nn.Module, dict]:
    """(module name, float32 eval-mode module, meta) from a weights file; a file that is not one
    is a ValueError naming it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such weights file")
    blob = _read_blob(path, _decompress(path, path.read_bytes()))
    return blob["module"], _build(path, blob, builders), blob.get("meta", {})


def _decompress(path: Path, data: bytes) -> bytes:
    """The file's payload: xz or gzip undone (at most MAX_WEIGHTS_BYTES of output), else as is."""
    make = next((make for magic, make in _DECOMPRESSORS.items() if data.startswith(magic)), None)
    if make is None:
        return data
    decompressor = make()
    try:
        out = decompressor.decompress(data, MAX_WEIGHTS_BYTES + 1)
    except (lzma.LZMAError, zlib.error) as exc:
        raise ValueError(f"{path}: corrupt compressed weights file ({exc})") from None
    if len(out) > MAX_WEIGHTS_BYTES:
        raise ValueError(f"{path}: decompresses to more than {MAX_WEIGHTS_BYTES >> 20} MiB; not a weights file")
    if not decompressor.eof or decompressor.unused_data:
        raise ValueError(f"{path}: truncated compressed weights file, or data after its end")
    return out


def _read_blob(path: Path, payload: bytes) -> dict:
    """The torch.save'd dict, loaded with weights_only=True (no code runs), checked for its keys."""
    try:
        blob = torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch.load's errors for bad bytes have no common type (unpickling, zip, EOF)
        first = str(exc).split(". ", 1)[0].strip().rstrip(".")   # torch's advice that follows does not apply
        raise ValueError(f"{path}: not a loadable weights file ({type(exc).__name__}: {first}); only tensors "
                         "and plain containers are accepted") from exc
    if not (isinstance(blob, dict) and isinstance(blob.get("module"), str)
            and isinstance(blob.get("config"), dict) and isinstance(blob.get("state_dict"), dict)):
        raise ValueError(f"{path}: not a weights file (expected a dict with module, config and state_dict)")
    return blob


def _build(path: Path, blob: dict, builders: dict[str, type[nn.Module]]) -> nn.Module:
    """The module the blob's config describes, holding its weights as float32."""
    name = blob["module"]
    if name not in builders:
        raise ValueError(f"{path}: unknown module {name!r} (expected one of {sorted(builders)})")
    try:
        model = builders[name](**blob["config"])
        model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in blob["state_dict"].items()})
    except (TypeError, ValueError, RuntimeError, AttributeError) as exc:
        raise ValueError(f"{path}: weights do not fit module {name} ({type(exc).__name__}: {exc})") from exc
    return model.float().eval()


def zero_last_layer(model: nn.Module) -> None:
    """Zero the output layer: the stage then applies a zero offset (used by tests and as the initial state)."""
    last = model.out
    nn.init.zeros_(last.weight)
    nn.init.zeros_(last.bias)


def quantize_linear(model: nn.Module) -> nn.Module:
    """A copy whose Linear layers run in int8 (dynamic quantization: int8 weights, activations
    quantized per call), for CPU inference only.

    B is a 4.4 M-parameter MLP run on 2 rows (a skeleton and its mirror image); int8 weights cut
    its latency 2-4x for up to 3 points of A+B+C mAP (see the README). torch marks this eager
    API as superseded by torchao, which a plain ROS install does not have; where the CPU has no
    quantized engine, the float model is returned unchanged.
    """
    if torch.backends.quantized.engine == "none":
        return model
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", (DeprecationWarning, UserWarning))
        return torch.ao.quantization.quantize_dynamic(model.eval(), {nn.Linear}, dtype=torch.qint8)  # a copy


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """An eval-mode copy in which every BatchNorm that directly follows a Linear or Conv2d inside a
    Sequential is folded into that layer's weights (and eval-mode Dropout is dropped).

    Same outputs up to float rounding, fewer ops: at batch 1 on a CPU each op costs more in dispatch
    than in arithmetic, and the latency budget of a 30 Hz node is a few milliseconds per stage.
    """
    model = copy.deepcopy(model).eval()
    for seq in [m for m in model.modules() if isinstance(m, nn.Sequential)]:
        for i, (layer, norm) in enumerate(zip(list(seq)[:-1], list(seq)[1:])):
            if isinstance(layer, nn.Linear) and isinstance(norm, nn.BatchNorm1d):
                seq[i], seq[i + 1] = fuse_linear_bn_eval(layer, norm), nn.Identity()
            elif isinstance(layer, nn.Conv2d) and isinstance(norm, nn.BatchNorm2d):
                seq[i], seq[i + 1] = fuse_conv_bn_eval(layer, norm), nn.Identity()
        for i, layer in enumerate(seq):
            if isinstance(layer, nn.Dropout):
                seq[i] = nn.Identity()
    return model
