"""What every refinement stage shares: running a torch module on numpy inputs, and the weights file.

A weights file is ``{"module": "A", "config": {...}, "state_dict": {...fp16...}, "meta": {...}}``:
the config rebuilds the nn.Module, fp16 keeps the shipped files small, and tensors are cast back
to float32 on load because fp16 inference on CPU is slow and no more accurate. The file is the
torch.save'd dict, xz-compressed (10 % smaller; B's 4.4 M fp16 parameters then fit in under
8 MB, and both views in under 20 MB); gzip-compressed files of earlier versions and plain
torch.save files load too.
"""
from __future__ import annotations

import copy
import gzip
import io
import lzma
import warnings
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


#: File signatures of the compressions load_weights undoes.
_COMPRESSED = {b"\xfd7zXZ\x00": lzma.decompress, b"\x1f\x8b": gzip.decompress}


def save_weights(path: str | Path, module: str, model: nn.Module, meta: dict[str, Any] | None = None) -> Path:
    """Write the small fp16 weights file that :func:`load_weights` reads back."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: (v.detach().half() if v.is_floating_point() else v.detach()).cpu()
             for k, v in model.state_dict().items()}
    buffer = io.BytesIO()
    torch.save({"module": module, "config": dict(model.config), "state_dict": state, "meta": meta or {}}, buffer)
    path.write_bytes(lzma.compress(buffer.getvalue(), preset=9 | lzma.PRESET_EXTREME))
    return path


def load_weights(path: str | Path, builders: dict[str, type[nn.Module]]) -> tuple[str, nn.Module, dict]:
    """(module name, float32 eval-mode module, meta) from a weights file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such weights file")
    data = path.read_bytes()
    for magic, decompress in _COMPRESSED.items():
        if data.startswith(magic):
            data = decompress(data)
    blob = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    name = blob.get("module")
    if name not in builders:
        raise ValueError(f"{path}: unknown module {name!r} (expected one of {sorted(builders)})")
    model = builders[name](**blob["config"])
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in blob["state_dict"].items()})
    return name, model.float().eval(), blob.get("meta", {})


def zero_last_layer(model: nn.Module) -> None:
    """Zero the output layer: the stage then applies a zero offset (used by tests and as the initial state)."""
    last = model.out
    nn.init.zeros_(last.weight)
    nn.init.zeros_(last.bias)


def quantize_linear(model: nn.Module) -> nn.Module:
    """A copy whose Linear layers run in int8 (dynamic quantization: int8 weights, activations
    quantized per call), for CPU inference only.

    B is a 4.4 M-parameter MLP run on 2 rows (a skeleton and its mirror image); int8 weights cut
    its latency 2-4x for at most 1.5 points of A+B+C mAP (see the README). torch marks this eager
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
