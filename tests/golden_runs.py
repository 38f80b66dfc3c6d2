"""Golden runs: every preset, shrunk to a few steps, and the fingerprint of what it trained.

Recorded before the core was refactored (issue 14) and checked after: a
refactor that changes no behaviour leaves every preset's losses and final
weights exactly as they were. ``tests/test_golden_runs.py`` compares against
``tests/fixtures/golden_runs.json``; to re-record after a deliberate change
of numbers (and say why in the commit):

    python tests/golden_runs.py --write

The fingerprint is the SHA-256 of the trained networks' tensors (in
state_dict order, by role) and of the logged losses; the losses are also kept
as numbers, so a mismatch on another machine's float rounding can be told
from a real change (the test compares them to a tolerance and the hashes
only on the machine kind they were recorded on).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

import gankit
from gankit.config import build_config, preset_names

FIXTURE = Path(__file__).parent / "fixtures" / "golden_runs.json"
STEPS = 3

_COMMON = [
    f"train.steps={STEPS}",
    "train.seed=0",
    "train.device=cpu",
    "train.batch_size=16",
    "train.log_every=1",
    "train.sample_every=1000",
    "train.checkpoint_every=1000",
    "train.tensorboard=false",
    "train.figure_every=0",
    "train.layer_diagnostics=true",
    "eval.every=0",
]
_TOY = ["data.toy_size=256", "model.generator_widths=[16,16]", "model.critic_widths=[16,16]"]
_IMAGES = ["model.base_channels=4", "model.generator_widths=[32]", "model.critic_widths=[32]"]


def _image_folder(root: Path) -> Path:
    """Sixteen seeded 64 px RGB images: a stand-in for presets whose data is not shipped (CelebA)."""
    folder = root / "faces"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(16):
        Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    return folder


def golden_overrides(preset: str, scratch: Path) -> list[str]:
    data = build_config(preset).data.name
    if data in ("8gaussians", "25gaussians", "swissroll"):
        return _COMMON + _TOY
    extra = []
    if data == "celeba":
        extra = [f"data.name={_image_folder(scratch)}"]
    if "autoencoder_code_dim" in str(build_config(preset).model):
        extra.append("model.autoencoder_code_dim=8")
    return _COMMON + _IMAGES + extra


def _tensor_digest(digest: hashlib._Hash, state: dict[str, torch.Tensor]) -> None:
    for name, tensor in state.items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())


def record_preset(preset: str, scratch: Path) -> dict:
    """Train ``preset`` for STEPS steps at seed 0; its losses and the hashes of its weights."""
    config = build_config(preset, overrides=golden_overrides(preset, scratch))
    run = gankit.train(config, out=scratch / "runs", name=preset, progress=False, log=lambda _: None)
    losses = []
    with open(run.path / "metrics.jsonl") as handle:
        for line in handle:
            record = json.loads(line)
            # Every logged statistic but the clock's: losses, W estimate, penalty, energies, k_t, margins.
            losses.append({k: v for k, v in sorted(record.items()) if k not in ("time", "steps_per_s")})
    checkpoint = torch.load(run.path / "checkpoints" / "last.pt", weights_only=True)
    weights = {}
    for role in ("generator", "critic", "ema"):
        if "networks" in checkpoint:  # the refactored format: networks and EMAs by role
            state = checkpoint["networks"].get(role) if role != "ema" else (checkpoint.get("ema") or {}).get("generator")
        else:
            state = checkpoint.get(role)
        if state is not None:
            digest = hashlib.sha256()
            _tensor_digest(digest, state)
            weights[role] = digest.hexdigest()
    loss_digest = hashlib.sha256(json.dumps(losses, sort_keys=True).encode()).hexdigest()
    return {"weights": weights, "losses_sha256": loss_digest, "losses": losses}


def record_all() -> dict:
    """The presets the fixture holds (those of gankit 0.1.0; later presets have tests of their own), or all."""
    presets = sorted(json.loads(FIXTURE.read_text())["runs"]) if FIXTURE.exists() else preset_names()
    with tempfile.TemporaryDirectory() as tmp:
        runs = {preset: record_preset(preset, Path(tmp)) for preset in presets}
    return {"machine": platform.processor() or platform.machine(), "torch": torch.__version__, "runs": runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help=f"write {FIXTURE} (else print the comparison)")
    args = parser.parse_args()
    result = record_all()
    if args.write:
        FIXTURE.parent.mkdir(parents=True, exist_ok=True)
        FIXTURE.write_text(json.dumps(result, indent=1) + "\n")
        print(f"wrote {FIXTURE} ({len(result['runs'])} presets)")
        return
    recorded = json.loads(FIXTURE.read_text())["runs"]
    for preset, now in result["runs"].items():
        then = recorded.get(preset)
        same = then is not None and then["weights"] == now["weights"] and then["losses_sha256"] == now["losses_sha256"]
        print(f"{preset:<28} {'identical' if same else 'DIFFERENT'}")


if __name__ == "__main__":
    main()
