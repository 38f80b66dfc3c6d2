"""Walks through a generator's inputs: latent interpolation, class morphs and InfoGAN code sweeps.

Every walk is rows of ``steps`` samples, one row per walk:

* ``latent``: row i goes from latent point ``2i`` to point ``2i + 1`` of
  ``run.latent.draw(2 * pairs, seed)``; its ends are exactly those codes, so
  they are samples 2i and 2i+1 of ``run.sample(2 * pairs, seed)`` (a
  conditional run keeps row i's class, i mod K, along the row). Spherical
  (slerp) by default for normal latents, whose mass lies near a sphere, so
  the midpoints keep the norm a real draw has; linear for uniform ones.
* ``class`` (conditional runs): at a fixed z per row, the class embedding is
  walked linearly from class ``i mod K`` to the next class; both ends are
  the generator at those classes. The generator's own embedding layer gives
  the ends; a forward hook replaces its output by the blend in between.
* ``code`` (InfoGAN): free noise and the other codes fixed per row (row i has
  category i mod K), one continuous code swept over ``[-span, span]``
  (the paper sweeps +-2; training draws them in [-1, 1]), or with
  ``code="category"`` the categories in turn, one per column.

Truncation (psi) scales the normal draws as ``gankit.sampling`` describes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from gankit.api import Run
from gankit.errors import ConfigError
from gankit.files import atomic_write
from gankit.models.heads import CodedGenerator
from gankit.outputs import OutputError
from gankit.sampling import truncation_problem

WALKS = ("latent", "class", "code")
OUTPUT_SUFFIXES = (".png", ".gif", ".npz")
CHUNK = 512


@dataclass
class Walk:
    """``samples``: (rows * steps, ...) row after row; ``inputs``: the generator inputs that made them."""

    samples: Tensor
    rows: int
    steps: int
    inputs: Tensor
    labels: Tensor | None
    description: str

    def grid(self) -> Tensor:
        """The samples as (rows, steps, ...)."""
        return self.samples.view(self.rows, self.steps, *self.samples.shape[1:])


def slerp(a: Tensor, b: Tensor, t: Tensor) -> Tensor:
    """Spherical interpolation of rows ``a`` to ``b`` at fractions ``t`` ([N] or [N, 1]); linear where a ~ b.

    The ends are returned exactly (t = 0 gives ``a``, t = 1 gives ``b``), not through the sines' rounding.
    """
    t = t.reshape(-1, 1).to(a.dtype)
    cos = (a * b).sum(1, keepdim=True) / (a.norm(dim=1, keepdim=True) * b.norm(dim=1, keepdim=True)).clamp_min(1e-12)
    theta = cos.clamp(-1, 1).acos()
    sin = theta.sin()
    near = sin.abs() < 1e-6  # parallel points: the great circle is undefined and the line is as good
    safe = torch.where(near, torch.ones_like(sin), sin)
    curved = (((1 - t) * theta).sin() * a + (t * theta).sin() * b) / safe
    result = torch.where(near, torch.lerp(a, b, t), curved)
    result = torch.where(t == 0, a, result)
    return torch.where(t == 1, b, result)


def _fractions(steps: int, device: torch.device) -> Tensor:
    return torch.linspace(0, 1, steps, device=device)


def _check(run: Run, steps: int, pairs: int, truncation: float) -> None:
    if run.generator is None or run.latent is None:
        raise ConfigError(
            f"this run ({run.config.objective.name}) has no latent generator to walk: translate its inputs "
            "with gankit translate"
        )
    if steps < 2:
        raise ConfigError(f"--steps must be at least 2 (the two ends), got {steps}")
    if pairs < 1:
        raise ConfigError(f"--pairs must be at least 1, got {pairs}")
    problem = truncation_problem(truncation, run.latent.distribution)
    if problem is not None:
        raise ConfigError(problem)


@torch.no_grad()
def _run_generator(generator: nn.Module, inputs: Tensor, labels: Tensor | None, before_chunk=None) -> Tensor:
    """``generator(inputs, labels)`` in eval mode, in chunks; ``before_chunk(start, end)`` sets per-chunk state."""
    was_training = generator.training
    generator.eval()
    try:
        out = []
        for start in range(0, inputs.shape[0], CHUNK):
            end = min(start + CHUNK, inputs.shape[0])
            if before_chunk is not None:
                before_chunk(start, end)
            out.append(generator(inputs[start:end], None if labels is None else labels[start:end]).float())
        return torch.cat(out).cpu()
    finally:
        generator.train(was_training)


def _row_classes(run: Run, rows: int, device) -> Tensor | None:
    classes = run.num_classes
    return None if classes is None else torch.arange(rows, device=device) % classes


def latent_walk(run: Run, steps: int = 8, pairs: int = 4, spherical: bool | None = None, seed: int = 0,
                truncation: float = 1.0) -> Walk:
    """Row i from latent point 2i to 2i+1 of the seeded draw (see the module's docstring)."""
    _check(run, steps, pairs, truncation)
    device = next(run.generator.parameters()).device
    points = run.latent.draw(2 * pairs, device, seed=seed, truncation=truncation)
    a, b = points[0::2], points[1::2]
    spherical = run.latent.distribution == "normal" if spherical is None else spherical
    t = _fractions(steps, device).repeat(pairs)
    a, b = a.repeat_interleave(steps, 0), b.repeat_interleave(steps, 0)
    inputs = slerp(a, b, t) if spherical else torch.lerp(a, b, t.view(-1, 1))
    row_classes = _row_classes(run, pairs, device)
    labels = None if row_classes is None else row_classes.repeat_interleave(steps)
    samples = _run_generator(run.generator, inputs, labels)
    how = "spherical" if spherical else "linear"
    return Walk(samples, pairs, steps, inputs.cpu(), None if labels is None else labels.cpu(),
                f"{pairs} {how} latent walks of {steps} steps")


def _label_embedding(generator: nn.Module) -> nn.Embedding | None:
    """The embedding a conditional generator joins its labels through (an InfoGAN generator's is inside it)."""
    for module in generator.modules():
        embedding = getattr(module, "label_embedding", None)
        if isinstance(embedding, nn.Embedding):
            return embedding
    return None


def class_morph(run: Run, steps: int = 8, pairs: int = 4, seed: int = 0, truncation: float = 1.0) -> Walk:
    """Row i: a fixed z, the class embedding from class i mod K to the next class (see the module's docstring)."""
    _check(run, steps, pairs, truncation)
    classes = run.num_classes
    embedding = _label_embedding(run.generator)
    if classes is None or embedding is None:
        raise ConfigError("--walk class needs a conditional run (model.conditional=true), and this one is not: "
                          "use --walk latent")
    device = next(run.generator.parameters()).device
    z = run.latent.draw(pairs, device, seed=seed, truncation=truncation).repeat_interleave(steps, 0)
    start = (torch.arange(pairs, device=device) % classes).repeat_interleave(steps)
    end = (start + 1) % classes
    t = _fractions(steps, device).repeat(pairs).view(-1, 1)
    blended = torch.lerp(embedding.weight[start], embedding.weight[end], t).detach()
    chunk = {}

    def set_chunk(first: int, last: int) -> None:
        chunk["blend"] = blended[first:last]

    def replace_output(module, args, output):  # the embedding's output, swapped for this chunk's blend
        return chunk["blend"].to(output.dtype)

    handle = embedding.register_forward_hook(replace_output)
    try:
        samples = _run_generator(run.generator, z, start, before_chunk=set_chunk)
    finally:
        handle.remove()
    return Walk(samples, pairs, steps, z.cpu(), start.cpu(),
                f"{pairs} class morphs of {steps} steps (class k to k+1 at a fixed z per row)")


def code_sweep(run: Run, steps: int = 8, pairs: int = 4, seed: int = 0, code: str | int | None = None,
               span: float = 2.0, truncation: float = 1.0) -> Walk:
    """InfoGAN: one continuous code swept over [-span, span], or the categories in turn, per row."""
    _check(run, steps, pairs, truncation)
    generator = run.generator
    if not isinstance(generator, CodedGenerator):
        raise ConfigError("--walk code needs an InfoGAN run (objective infogan): use --walk latent")
    codes = generator.codes
    device = next(generator.parameters()).device
    z = run.latent.draw(pairs, device, seed=seed, truncation=truncation)
    free, _, _ = codes.split(z)
    _, continuous = codes.targets(z)
    category = torch.arange(pairs, device=device) % codes.categories if codes.categories else None
    code = ("category" if codes.continuous == 0 else 0) if code is None else code
    if code == "category":
        if not codes.categories:
            raise ConfigError("this InfoGAN run has no categorical code: choose a continuous one with --code 0")
        steps = codes.categories  # one column per category
        swept_category = torch.arange(steps, device=device).repeat(pairs)
        inputs = codes.explicit_input(free.repeat_interleave(steps, 0), swept_category,
                                      continuous.repeat_interleave(steps, 0))
        what = f"{steps} categories in turn"
    else:
        index = _code_index(code, codes.continuous)
        if not span > 0:
            raise ConfigError(f"--span must be positive, got {span}")
        values = continuous.repeat_interleave(steps, 0).clone()
        values[:, index] = torch.linspace(-span, span, steps, device=device).repeat(pairs)
        cat = None if category is None else category.repeat_interleave(steps)
        inputs = codes.explicit_input(free.repeat_interleave(steps, 0), cat, values)
        what = f"continuous code {index} from {-span:g} to {span:g} in {steps} steps"
    row_classes = _row_classes(run, pairs, device)
    labels = None if row_classes is None else row_classes.repeat_interleave(steps)
    samples = _run_generator(generator.generator, inputs, labels)
    return Walk(samples, pairs, steps, inputs.cpu(), None if labels is None else labels.cpu(),
                f"{pairs} rows of InfoGAN codes: {what}")


def _code_index(code: str | int, count: int) -> int:
    try:
        index = int(code)
    except ValueError:
        raise ConfigError(f"--code must be a continuous code's number or 'category', got '{code}'") from None
    if not 0 <= index < count:
        raise ConfigError(f"--code {index} is not a continuous code of this run: use 0 to {count - 1} or 'category'"
                          if count else "this InfoGAN run has no continuous code: use --code category")
    return index


def default_walk(run: Run) -> str:
    if isinstance(run.generator, CodedGenerator):
        return "code"
    return "class" if run.num_classes is not None else "latent"


def interpolate(run: Run, walk: str | None = None, steps: int = 8, pairs: int = 4, spherical: bool | None = None,
                seed: int = 0, truncation: float = 1.0, code: str | int | None = None, span: float = 2.0) -> Walk:
    """The walk named by ``walk`` (default: ``default_walk``), as the module's docstring describes."""
    walk = default_walk(run) if walk is None else walk
    if walk == "latent":
        return latent_walk(run, steps, pairs, spherical, seed, truncation)
    if spherical is not None:
        raise ConfigError(f"--slerp and --lerp choose the path of a latent walk, not of a {walk} walk: leave them out")
    if walk == "class":
        return class_morph(run, steps, pairs, seed, truncation)
    if walk == "code":
        return code_sweep(run, steps, pairs, seed, code, span, truncation)
    raise ConfigError(f"unknown walk '{walk}': use one of {', '.join(WALKS)}")


# ---------------------------------------------------------------- writing a walk


def check_walk_output(out: Path, overwrite: bool) -> None:
    """Refuse, before any work, an output gankit cannot write or must not replace."""
    suffix = out.suffix.lower()
    if suffix not in OUTPUT_SUFFIXES:
        raise OutputError(f"cannot write a walk as '{out}': use FILE.png (a grid), FILE.gif or FILE.npz")
    if out.exists() and not overwrite:
        raise OutputError(f"'{out}' already exists: choose another -o path or pass --overwrite")
    if not out.parent.is_dir():
        raise OutputError(f"folder '{out.parent}' does not exist: create it or choose another -o path")


def save_walk(walk: Walk, out: Path, kind: str, overwrite: bool = False, fps: float = 8.0) -> str:
    """Write ``walk`` as a grid (.png), an animation (.gif) or arrays (.npz); a one-line description back."""
    from gankit.data.dataset import to_uint8_images
    from gankit.report.plots import image_grid, save_image_grid, save_points_plot

    out = Path(out)
    check_walk_output(out, overwrite)
    suffix = out.suffix.lower()
    if suffix == ".npz":
        array = walk.grid().numpy() if kind == "points" else to_uint8_images(walk.grid()).numpy()
        atomic_write(out, lambda handle: np.savez_compressed(handle, samples=array, inputs=walk.inputs.numpy()))
        return f"wrote {walk.description} to {out} (samples: {array.dtype}, shape {tuple(array.shape)})"
    if kind == "points":
        if suffix == ".gif":
            raise OutputError("a walk of 2-D points is drawn as one scatter plot: use -o FILE.png or FILE.npz")
        save_points_plot(walk.samples, out, title=walk.description)
        return f"wrote a scatter plot of {walk.description} to {out}"
    if suffix == ".png":
        save_image_grid(walk.samples, out, rows=walk.steps)
        return f"wrote a grid of {walk.description} (one walk per row) to {out}"
    if not fps > 0:
        raise OutputError(f"--fps must be positive, got {fps}")
    from PIL import Image

    per_row = max(1, int(round(walk.rows**0.5)))
    frames = []
    for step in range(walk.steps):
        array = image_grid(walk.grid()[:, step], per_row).permute(1, 2, 0).numpy()
        picture = Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array)
        scale = max(1, 256 // picture.width)
        frames.append(picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST))
    frames = frames + frames[-2:0:-1]  # there and back, so the loop has no jump
    duration = int(round(1000 / fps))
    atomic_write(out, lambda handle: frames[0].save(handle, format="GIF", save_all=True,
                                                    append_images=frames[1:], duration=duration, loop=0))
    return f"wrote an animation of {walk.description} ({len(frames)} frames, {fps:g} per second) to {out}"
