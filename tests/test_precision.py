"""bf16 autocast is a fast path: its losses, penalty and gradients must match float32 to a stated tolerance."""

import pytest
import torch

from gankit.config import build_config
from gankit.models import build_critic
from gankit.objectives import CriticBatch, objective_class

# bf16 keeps 8 bits of mantissa (relative step 2^-8 = 0.4%); through a conv
# critic and a double backward, errors stay around 1% and below.
LOSS_TOLERANCE = 0.02
GRADIENT_COSINE = 0.99


@pytest.mark.parametrize("preset", ["wgan-gp-mnist", "wgan-div-mnist", "wgan-gp-mnist-mlp"])
def test_bf16_critic_loss_penalty_and_gradients_match_float32(preset):
    torch.manual_seed(0)
    config = build_config(preset)
    critic = build_critic(config.model, (1, 28, 28), 10)
    objective = objective_class(config.objective.name)(config.objective.params)
    real, fake = torch.rand(32, 1, 28, 28) * 2 - 1, torch.rand(32, 1, 28, 28) * 2 - 1
    results = {}
    for precision in ("fp32", "bf16"):
        torch.manual_seed(1)  # the same penalty points
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            loss, stats = objective.score_critic(critic, CriticBatch(real, fake))
        assert loss.dtype == torch.float32  # the losses themselves stay float32
        critic.zero_grad()
        loss.backward()
        gradient = torch.cat([p.grad.flatten() for p in critic.parameters()])
        results[precision] = (stats, gradient)
    (stats32, grad32), (stats16, grad16) = results["fp32"], results["bf16"]
    for key in ("critic_loss", "penalty", "grad_norm"):
        assert stats16[key].item() == pytest.approx(stats32[key].item(), rel=LOSS_TOLERANCE), key
    assert torch.nn.functional.cosine_similarity(grad16, grad32, dim=0) > GRADIENT_COSINE


def test_bf16_training_runs_with_finite_float32_losses(tiny_toy_config):
    from gankit.api import load_data
    from gankit.config import resolve
    from gankit.training.trainer import Trainer

    config = resolve(tiny_toy_config("wgan-gp-8gaussians", "train.precision=bf16"))
    trainer = Trainer(config, load_data(config), progress=False)
    before = [p.detach().clone() for p in trainer.networks["generator"].parameters()]
    for _ in range(3):
        trainer.train_step()
    for key, values in trainer._pending.items():
        assert all(v.dtype == torch.float32 and torch.isfinite(v) for v in values), key
    assert any(not torch.equal(a, b) for a, b in zip(before, trainer.networks["generator"].parameters()))
