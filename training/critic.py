"""Train the critic: tell a call's real continuation from rtgen's own answer, in rounds.

    python -m training.critic --calls data/critic-train-human --valid data/corpus/valid-human \
        --rounds 2 --out runs/critic

Each round (the discriminator half of a GAN; the generator is rtgen's engine, not trained):

1. answers: every training call is answered through the real engine with rtgen play's
   settings (rtgen.score.answers.engine_answer), from the round before's critic picking the
   best of ``--candidates`` (round 1: the model alone, one candidate);
2. pairs: (call, real continuation) is 1, (call, answer) is 0; both cut to the same random
   prefix of 1..8 beats, as the planner asks the critic about an answer beat by beat;
3. the critic (an embedding and a GRU over rtgen.critic.features rows) is trained with binary
   cross-entropy, the best epoch by validation ROC AUC kept.

The last round's critic is exported to ONNX (``critic.onnx``, its metadata the format tag,
config, vocabulary and the measured AUCs) with a parity check against torch. Calls come from
humanised MIDI (training.humanize_split) of the train split; the validation calls from the
valid split; the test split is for `rtgen score` only.
"""

from __future__ import annotations

import argparse
import json
import math
import time
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from rtgen import tokens as T
from rtgen.critic.features import FORMAT, ROW_TOKENS, row
from rtgen.score.answers import engine_answer, settings_for
from rtgen.score.calls import WINDOW_BEATS, Call
from rtgen.score.runner import collect_calls
from rtgen.sessions import open_session


class Critic(nn.Module):
    """tokens (N, ROW_TOKENS) -> (N,) logit that the continuation is the real one."""

    def __init__(self, vocab: int = T.VOCAB_SIZE, embed: int = 48, hidden: int = 96) -> None:
        super().__init__()
        self.config = {"vocab_size": vocab, "embed": embed, "hidden": hidden}
        self.embed = nn.Embedding(vocab, embed, padding_idx=T.PAD)
        self.gru = nn.GRU(embed, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 1)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        _, h = self.gru(self.embed(tokens))
        return self.head(h[-1]).squeeze(-1)


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Probability that a random positive scores above a random negative (ties: half)."""
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    s = scores[order]
    i = 0
    while i < len(s):  # average ranks over ties
        j = i
        while j + 1 < len(s) and s[j + 1] == s[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    pos = labels == 1
    n_pos, n_neg = pos.sum(), (~pos).sum()
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


class CoinCritic:
    """Scores rows at random (seeded): picks one of the N candidates by chance (the
    baseline a critic is judged against, and the pick while training groups are taken)."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def scores(self, rows: np.ndarray) -> np.ndarray:
        return self.rng.random(len(rows))


def prefix(notes, beats: float) -> list:
    """The notes that start before ``beats``, ended there."""
    return [replace(n, end=min(n.end, beats)) for n in notes if n.start < beats - 1e-9]


def answers(session, calls: list[Call], settings, seed: int, label: str) -> list[list]:
    """One engine answer per call (seed ``seed + i``), with a progress line."""
    out, t0 = [], time.perf_counter()
    for i, c in enumerate(calls):
        out.append(engine_answer(session, c.call, seed + i, settings(seed + i)))
        if (i + 1) % 500 == 0 or i + 1 == len(calls):
            rate = (i + 1) / (time.perf_counter() - t0)
            print(f"  {label}: {i + 1}/{len(calls)} answers ({rate:.0f}/s)", flush=True)
    return out


def pairs(calls: list[Call], fakes: list[list], rng: np.random.Generator, full: bool = False):
    """(rows (2n, ROW_TOKENS), labels (2n,)): each call with its truth and with its answer,
    both cut to one random prefix of 1..8 beats (``full``: all 8)."""
    rows, labels = [], []
    for c, fake in zip(calls, fakes):
        k = WINDOW_BEATS if full else float(rng.integers(1, int(WINDOW_BEATS) + 1))
        rows += [row(c.call, prefix(c.truth, k)), row(c.call, prefix(fake, k))]
        labels += [1, 0]
    return np.stack(rows), np.array(labels)


def evaluate(model: Critic, x: np.ndarray, y: np.ndarray) -> float:
    model.eval()
    with torch.no_grad():
        s = torch.cat([model(torch.from_numpy(x[i : i + 1024])) for i in range(0, len(x), 1024)])
    return roc_auc(s.numpy(), y)


def train(model: Critic, x, y, vx, vy, epochs: int, seed: int) -> tuple[Critic, float]:
    """Train on (x, y); keep the epoch with the best validation AUC."""
    torch.manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-2)
    loss_fn = nn.BCEWithLogitsLoss()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y).float()
    best, best_state = -1.0, None
    gen = torch.Generator().manual_seed(seed)
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(xt), generator=gen)
        total = 0.0
        for i in range(0, len(xt), 128):
            idx = perm[i : i + 128]
            loss = loss_fn(model(xt[idx]), yt[idx])
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            total += loss.item() * len(idx)
        auc = evaluate(model, vx, vy)
        print(f"  epoch {epoch + 1}: loss {total / len(xt):.4f}, valid AUC {auc:.4f}", flush=True)
        if auc > best:
            best, best_state = auc, {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    return model, best


def export(model: Critic, meta: dict, out: Path) -> float:
    """ONNX (tokens (N, ROW_TOKENS) -> score (N,)) with ``meta`` in its metadata; returns the
    largest |ONNX - torch| over a batch of random rows (the parity check)."""
    import onnx
    import onnxruntime as ort

    model.eval()
    example = torch.randint(0, T.VOCAB_SIZE, (2, ROW_TOKENS))
    batch = torch.export.Dim("batch", min=1, max=256)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (example,),
            str(out),
            input_names=["tokens"],
            output_names=["score"],
            opset_version=18,
            dynamo=True,
            dynamic_shapes={"tokens": {0: batch}},
            verbose=False,
        )
    graph = onnx.load(str(out))
    del graph.metadata_props[:]
    prop = graph.metadata_props.add()
    prop.key, prop.value = "rtgen", json.dumps(meta)
    onnx.save(graph, str(out))
    for extra in out.parent.glob(out.name + ".data"):
        extra.unlink()
    probe = torch.randint(0, T.VOCAB_SIZE, (8, ROW_TOKENS))
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    got = sess.run(None, {"tokens": probe.numpy()})[0]
    with torch.no_grad():
        want = model(probe).numpy()
    return float(np.abs(got - want).max())


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=Path, required=True, help="humanised train-split MIDI")
    ap.add_argument("--valid", type=Path, required=True, help="humanised valid-split MIDI")
    ap.add_argument("--out", type=Path, required=True, help="folder for critic.onnx")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--candidates", type=int, default=4, help="best of N after round 1")
    ap.add_argument("--max-calls", type=int, default=6000)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--resume", type=Path, help="go on from this round's critic (critic-roundR.pt)")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    files = sorted(p for p in args.calls.rglob("*.mid"))
    calls = collect_calls(files).calls
    calls = [calls[i] for i in rng.permutation(len(calls))[: args.max_calls]]
    vfiles = sorted(p for p in args.valid.rglob("*.mid"))
    vcalls = collect_calls(vfiles).calls[: max(1, args.max_calls // 6)]
    print(f"{len(calls)} training calls, {len(vcalls)} validation calls", flush=True)
    session = open_session(Path(__file__).resolve().parents[1] / "rtgen/assets/default.int8.onnx")
    model, history, critic_path, first = Critic(), [], None, 1
    if args.resume is not None:
        saved = torch.load(args.resume)
        model.load_state_dict(saved["state"])
        history, first = saved["history"], saved["round"] + 1
        critic_path = args.resume.with_suffix(".onnx")
    for r in range(first, args.rounds + 1):
        t0 = time.perf_counter()
        n = 1 if critic_path is None else args.candidates

        def settings(seed: int, n=n, critic=critic_path):
            s = settings_for(seed)
            return replace(s, candidates=n, critic=str(critic)) if critic else s

        fakes = answers(session, calls, settings, 1000 * r, f"round {r}, train")
        vfakes = answers(session, vcalls, settings, 10**6 + 1000 * r, f"round {r}, valid")
        x, y = pairs(calls, fakes, rng)
        vx, vy = pairs(vcalls, vfakes, rng)
        fx, fy = pairs(vcalls, vfakes, rng, full=True)
        model, auc = train(model, x, y, vx, vy, args.epochs, args.seed + r)
        full = evaluate(model, fx, fy)
        critic_path = args.out / f"critic-round{r}.onnx"
        meta = {
            "format": FORMAT,
            "config": {**model.config, "row_tokens": ROW_TOKENS},
            "vocab": T.describe(),
            "round": r,
            "candidates_sampled": n,
            "valid_auc_prefix": round(auc, 4),
            "valid_auc_full": round(full, 4),
            "calls": len(calls),
        }
        diff = export(model, meta, critic_path)
        history.append({**meta, "seconds": round(time.perf_counter() - t0, 1), "parity": diff})
        state = {"state": model.state_dict(), "history": history, "round": r}
        torch.save(state, critic_path.with_suffix(".pt"))
        print(
            f"round {r}: valid AUC {auc:.4f} (prefixes), {full:.4f} (two bars); parity {diff:.2e}"
        )
        if not math.isfinite(diff) or diff > 1e-3:
            raise SystemExit(f"critic export parity {diff} > 1e-3")
    final = args.out / "critic.onnx"
    final.write_bytes(critic_path.read_bytes())
    (args.out / "history.json").write_text(json.dumps(history, indent=1))
    print(f"wrote {final}")


if __name__ == "__main__":
    main()
