"""Training-only regularizers that act on the embedded review, used by model/lit_module.py.

    embedded = drop_words(embedded, p=0.1)                      # whole tokens zeroed, the rest rescaled
    r_adv = adversarial_perturbation(grad_of_loss_wrt_embedded, eps=1.0)
    adv_logits = net.forward_embedded(embedded + r_adv, lengths)

Neither is part of the served network: at inference the embeddings go in unchanged.
"""

from __future__ import annotations

import torch


def drop_words(embedded: torch.Tensor, p: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Zero each token's whole vector with probability `p`; survivors are scaled by 1/(1-p).

    Element-wise dropout leaves every word partly visible; dropping whole words makes the
    network judge a review without some of its words, which is what overfitting to a few
    telltale words needs. (batch, time, dim) -> same shape; padding rows are zero either way.
    """
    if not 0.0 <= p < 1.0:
        raise ValueError(f"word dropout must be in [0, 1), got {p!r}")
    if p == 0.0:
        return embedded
    keep = torch.rand(embedded.shape[:2], device=embedded.device, generator=generator) >= p
    return embedded * keep.unsqueeze(-1).to(embedded.dtype) / (1.0 - p)


def adversarial_perturbation(grad: torch.Tensor, eps: float) -> torch.Tensor:
    """eps * g / ||g||, the norm taken per review over all its tokens and dimensions (Miyato et al. 2017).

    `grad` is d(loss)/d(embedded); the result is the direction that raises the loss fastest,
    detached, so the adversarial loss trains the network and not the perturbation.
    """
    if eps < 0:
        raise ValueError(f"adversarial eps must be >= 0, got {eps!r}")
    grad = grad.detach()
    norms = grad.flatten(1).norm(dim=1).clamp_min(1e-12)
    return eps * grad / norms.view(-1, *([1] * (grad.dim() - 1)))
