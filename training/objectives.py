"""The preference losses, on sequence log-probabilities already computed.

Each function takes the per-sequence log-probabilities (the sum over the reply's tokens, or their mean where the
objective is length-normalised) and returns the per-example losses and the implicit rewards that are logged. The
formulas are those of TRL 1.16 (DPOTrainer's sigmoid and ipo, KTOTrainer's kto, ORPOTrainer's odds ratio,
CPOTrainer's simpo); the tests compare them with TRL's own code on the same tensors. They are written here, not
imported, because TRL computes them inside its trainers' forward passes, which expect TRL's padded batches.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

Losses = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def dpo(chosen: torch.Tensor, rejected: torch.Tensor, ref_chosen: torch.Tensor, ref_rejected: torch.Tensor,
        beta: float) -> Losses:
    """Sigmoid DPO: -log σ(β((π_c − ref_c) − (π_r − ref_r))); rewards β(π − ref)."""
    chosen_ratio, rejected_ratio = chosen - ref_chosen, rejected - ref_rejected
    losses = -F.logsigmoid(beta * (chosen_ratio - rejected_ratio))
    return losses, beta * chosen_ratio.detach(), beta * rejected_ratio.detach()


def ipo(chosen: torch.Tensor, rejected: torch.Tensor, ref_chosen: torch.Tensor, ref_rejected: torch.Tensor,
        chosen_tokens: torch.Tensor, rejected_tokens: torch.Tensor, beta: float) -> Losses:
    """IPO: (Δ − 1/2β)², with each log-ratio divided by its reply's token count (TRL's normalisation, which keeps the
    squared loss from growing with reply length)."""
    chosen_ratio, rejected_ratio = chosen - ref_chosen, rejected - ref_rejected
    delta = chosen_ratio / chosen_tokens.clamp(min=1) - rejected_ratio / rejected_tokens.clamp(min=1)
    losses = (delta - 1 / (2 * beta)) ** 2
    return losses, beta * chosen_ratio.detach(), beta * rejected_ratio.detach()


def kto(desirable: torch.Tensor, ref_desirable: torch.Tensor, undesirable: torch.Tensor,
        ref_undesirable: torch.Tensor, kl: torch.Tensor, beta: float, desirable_weight: float,
        undesirable_weight: float) -> Losses:
    """KTO (eq. 7 of the paper): desirable 1 − σ(β(r − z)), undesirable 1 − σ(β(z − r)), with z the batch's KL
    estimate (detached, clamped at 0); losses of both kinds concatenated, desirable first."""
    z = kl.detach().clamp(min=0)
    good, bad = desirable - ref_desirable, undesirable - ref_undesirable
    losses = torch.cat((desirable_weight * (1 - torch.sigmoid(beta * (good - z))),
                        undesirable_weight * (1 - torch.sigmoid(beta * (z - bad)))))
    return losses, beta * good.detach(), beta * bad.detach()


def orpo(chosen_mean: torch.Tensor, rejected_mean: torch.Tensor, lam: float) -> Losses:
    """ORPO's odds-ratio term, −λ log σ(log odds(c) − log odds(r)) on mean token log-probabilities (the NLL of the
    chosen reply is added by the caller); rewards λ·mean log-probability, as TRL logs them."""
    c, r = chosen_mean.float(), rejected_mean.float()
    log_odds = (c - r) - (_log1mexp(c) - _log1mexp(r))
    losses = -lam * F.logsigmoid(log_odds)
    return losses, lam * c.detach(), lam * r.detach()


def simpo(chosen_mean: torch.Tensor, rejected_mean: torch.Tensor, beta: float, gamma: float) -> Losses:
    """SimPO: −log σ(β(c − r) − γ) on mean token log-probabilities, no reference; rewards β·mean log-probability."""
    losses = -F.logsigmoid(beta * (chosen_mean - rejected_mean) - gamma)
    return losses, beta * chosen_mean.detach(), beta * rejected_mean.detach()


def _log1mexp(x: torch.Tensor) -> torch.Tensor:
    """log(1 − eˣ) for x < 0, in the numerically stable split form (Mächler 2012)."""
    return torch.where(x > -0.6931472, torch.log(-torch.expm1(x)), torch.log1p(-torch.exp(x)))
