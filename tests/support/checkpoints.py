"""Small checkpoints of both model kinds, made in a few seconds (torch needed).

Export and fp32 parity need no trained model; int8 is also checked on a briefly trained
LSTM, whose predictions mean something (an untrained model's logits are nearly uniform, so
any integer noise flips its top-1).
"""

from __future__ import annotations

from pathlib import Path

import torch

from rtgen.models.checkpoint import build_model, describe, save_checkpoint

SMALL = {
    "lstm": {"embed": 16, "hidden": 32, "layers": 2, "dropout": 0.0},
    "transformer": {"d_model": 32, "heads": 2, "layers": 2, "window": 16, "dropout": 0.0},
}


def make_ckpt(folder: Path, kind: str) -> Path:
    """An untrained model of ``kind`` (seeded), saved as ``folder/KIND.ckpt``."""
    torch.manual_seed(0)
    model = build_model(kind, SMALL[kind])
    path = folder / f"{kind}.ckpt"
    save_checkpoint(path, model, describe(model, {"source": "test"}, {"valid": 5.0}))
    return path


def make_trained_lstm(folder: Path, steps: int = 300) -> Path:
    """The small LSTM after ``steps`` of Adam on the bundled demo pieces (seeded, ~10 s)."""
    from rtgen.export.verify import heldout_tokens

    torch.manual_seed(0)
    model = build_model("lstm", SMALL["lstm"])
    data = torch.from_numpy(heldout_tokens(4096))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    gen = torch.Generator().manual_seed(0)
    for _ in range(steps):
        starts = torch.randint(0, len(data) - 65, (16,), generator=gen)
        rows = torch.stack([data[s : s + 65] for s in starts.tolist()])
        logits, _ = model(rows[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), rows[:, 1:].flatten())
        opt.zero_grad()
        loss.backward()
        opt.step()
    path = folder / "lstm_trained.ckpt"
    save_checkpoint(path, model, describe(model, {"source": "test"}, {"train_loss": loss.item()}))
    return path
