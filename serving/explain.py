"""Word-level explanations: integrated gradients (Captum) on the embedding output.

Ships inside the TorchServe archive (the handler's explain_handle calls it), so it imports
only torch, captum and our own modules. From Python:

    from model.export import load_export
    from serving.explain import explain_texts
    net, encoder, _ = load_export("model_store/artifacts")
    explain_texts(net, encoder, ["A wonderful, moving film."], labels=["negative", "positive"])
    # [{"label": "positive", "score": 0.97,
    #   "tokens": [{"token": "a", "start": 0, "end": 1, "attribution": 0.01}, ...]}]

An attribution is that token's share of logit(review) - logit(reference), positive pushes
towards "positive" (the second label); with more than two classes the logit is the chosen
label's. The reference is "uninformative words": integrated gradients are averaged over two baselines, the review with every token replaced by [UNK] and by the most frequent
token (id 2, "the" on IMDB), as Expected Gradients averages over a reference distribution.
Why not the [PAD] (all-zero) embedding: on the trained model a long review's logit jumps by ~7
within 1% of the straight path from zeros (the RNNs never saw runs of zero vectors), so 24 steps
left convergence deltas larger than the logit itself; from real-word baselines the path is smooth
and 12 steps per baseline stay within ~3% of a 64-step reference.
`python benchmarks/explain_latency.py` measures time and the convergence delta for N_STEPS.
"""

from __future__ import annotations

import torch
from captum.attr import IntegratedGradients

from data.text_encoding import TextEncoder, pad_batch
from model.network import SentimentNet, class_probabilities
from serving.answers import answers, chosen_classes
from serving.settings import HandlerSettings

# Gauss-Legendre steps per baseline (two baselines): measured with benchmarks/explain_latency.py.
N_STEPS = HandlerSettings().explain_steps
MOST_FREQUENT_ID = 2  # WordLevelTrainer numbers words by frequency after [PAD]=0 and [UNK]=1
# Rows (review x step) per forward/backward pass: bounds memory for batches of long reviews.
INTERNAL_BATCH_ROWS = 64


def explain_texts(
    net: SentimentNet, encoder: TextEncoder, texts: list[str], labels: list[str], threshold: float = 0.5,
    n_steps: int = N_STEPS,
) -> list[dict]:
    """The answer (serving/answers.py) plus per-token attributions for each text, in one attribution pass.
    `labels`: the export's; a positive attribution pushes towards the chosen label (labels[1] for two)."""
    if not texts:
        return []
    attributions, logits, _ = attribute(net, encoder, texts, n_steps)
    results = answers(class_probabilities(logits).numpy(), labels, threshold)
    for row, (text, result) in enumerate(zip(texts, results)):
        _, tokens, offsets = encoder.encode_tokens(text)
        result["tokens"] = [
            {"token": token, "start": int(start), "end": int(end), "attribution": float(value)}
            for token, (start, end), value in zip(tokens, offsets, attributions[row].tolist())
        ]
    return results


def attribute(
    net: SentimentNet, encoder: TextEncoder, texts: list[str], n_steps: int = N_STEPS
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(per-token attributions (B, T), logits as forward returns them, convergence deltas (B,)); padding
    columns are 0. With more than two classes each review is attributed for its chosen class."""
    ids = [encoder.encode_tokens(text)[0] for text in texts]
    device = next(net.parameters()).device
    was_training = net.training
    net.eval()  # dropout off, or the attributions are noise
    # The handler may run under inference_mode/no_grad; integrated gradients need autograd,
    # and every tensor they touch must be created outside inference mode.
    try:
        with torch.inference_mode(False), torch.enable_grad():
            input_ids, lengths = (t.to(device) for t in pad_batch(ids))
            embedded = net.embedding(input_ids).detach()
            references = [torch.full_like(input_ids, token) for token in (encoder.unk_id, MOST_FREQUENT_ID)]
            with torch.no_grad():
                logits = net.forward_embedded(embedded, lengths)
            target = None
            if logits.dim() == 2:
                target = torch.from_numpy(chosen_classes(class_probabilities(logits).cpu().numpy())).repeat(2)
            # Both baselines in one pass: the batch is the reviews twice, each copy with its own baseline.
            ig = IntegratedGradients(net.forward_embedded)
            attributions, deltas = ig.attribute(
                torch.cat([embedded, embedded]),
                baselines=torch.cat([net.embedding(r) for r in references]).detach(),
                additional_forward_args=(torch.cat([lengths, lengths]),),
                n_steps=n_steps,
                method="gausslegendre",
                internal_batch_size=max(INTERNAL_BATCH_ROWS, 2 * len(texts)),
                return_convergence_delta=True,
                target=target,
            )
            attributions = attributions.sum(dim=-1).view(2, len(texts), -1).mean(dim=0)
            deltas = deltas.view(2, len(texts)).mean(dim=0)
    finally:
        net.train(was_training)
    return attributions.detach().cpu(), logits.detach().cpu(), deltas.detach().cpu()
