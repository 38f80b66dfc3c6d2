"""Which floating-point precision the networks run in, and whether the hardware makes it pay.

bf16 autocast is a speed lever only where the device multiplies bf16
matrices natively (CPUs with AVX512-BF16 or AMX, GPUs from Ampere on).
Elsewhere PyTorch emulates it: on a 2-core AVX2 CPU the main job ran at
0.22 generator steps/s in bf16 against 3.2 in fp32, fifteen times slower.
So ``auto`` picks bf16 only where it is native, and an explicit ``bf16``
on other hardware is honoured with a warning.
"""

from __future__ import annotations

import torch


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` multiplies bf16 matrices in hardware (not by emulation)."""
    if device.type == "cuda":
        # Ampere (compute capability 8) and later have bf16 tensor cores;
        # is_bf16_supported alone also says yes for emulated support.
        return torch.cuda.is_available() and torch.cuda.get_device_capability(device)[0] >= 8
    if device.type == "cpu":
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return False


def resolve_precision(requested: str, device: torch.device) -> str:
    """``fp32`` or ``bf16``: ``auto`` becomes bf16 where the device runs it natively."""
    if requested == "auto":
        return "bf16" if native_bf16(device) else "fp32"
    return requested


def precision_note(requested: str, device: torch.device) -> str | None:
    """One line for the run log about the precision, or None when there is nothing to say."""
    chosen = resolve_precision(requested, device)
    native = native_bf16(device)
    if requested == "auto":
        why = "multiplies bf16 natively" if native else "has no native bf16 matrix units"
        return f"precision: auto chose {chosen} ({device.type} {_hardware(device)} {why})"
    if chosen == "bf16" and not native:
        return (
            f"warning: train.precision=bf16 on {device.type} {_hardware(device)}, which has no native bf16 "
            "matrix units: PyTorch emulates bf16 here, which is much slower than fp32 (15x measured on an "
            "AVX2 CPU); use train.precision=fp32 or auto"
        )
    return None


def _hardware(device: torch.device) -> str:
    if device.type == "cuda" and torch.cuda.is_available():
        return f"({torch.cuda.get_device_name(device)})"
    if device.type == "cpu":
        return f"(vector unit {torch.backends.cpu.get_cpu_capability()})"
    return ""
