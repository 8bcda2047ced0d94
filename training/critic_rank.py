"""Train the critic to rank: among a call's candidate answers, the one closest to its real
continuation first, and the real continuation above them all (docs/critic.md).

    python -m training.critic_rank --calls data/critic-train-human \
        --valid data/corpus/valid-human --init runs/critic2/critic-round2.pt --out runs/critic3

The discriminator of training/critic.py learns real against generated; its picks among
candidates that are all generated overshot what the sampler gets wrong (docs/critic.md).
Best of N asks a different question: which of these N is most like what the player would
have played next. So here each call comes with K answers from the engine (play's settings,
seeds apart) and its truth, all cut to one random prefix of 1..8 beats; each is scored by
its distance to the truth's prefix (the truth-relative metrics issue 16 judges by: pitch
classes, intervals, inter-onsets, mean pitch, range, density; each divided by its spread
over the set, summed; the truth's own distance is 0), and the critic learns the ranking
with a listwise loss: cross-entropy between the softmax of its scores over the group and
the softmax of -distance / TAU. The truth is in every group, so the critic still tells real
from generated (its ROC AUC is reported as before).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from rtgen import tokens as T
from rtgen.critic.features import FORMAT, ROW_TOKENS, row
from rtgen.score import metrics as M
from rtgen.score.answers import engine_answer, settings_for
from rtgen.score.calls import WINDOW_BEATS
from rtgen.score.runner import collect_calls
from rtgen.sessions import open_session
from training.critic import CoinCritic, Critic, export, prefix, roc_auc

TAU = 0.5  # the target's temperature, in units of summed normalised distance
KEYS = ("pc_l1_truth", "interval_l1", "ioi_l1", "mean_pitch_gap", "range_gap", "density_gap")


def distances(cands: list[list], call, truth) -> np.ndarray:
    """(len(cands), len(KEYS)) raw truth-relative metrics (NaN where one is undefined)."""
    out = np.full((len(cands), len(KEYS)), np.nan)
    for i, a in enumerate(cands):
        m = M.answer_metrics(a, call, truth)
        r = m.get("density_vs_truth")
        m["density_gap"] = abs(math.log(r)) if r else (2.0 if not a else None)
        for j, k in enumerate(KEYS):
            if m.get(k) is not None:
                out[i, j] = float(m[k])
    return out


def groups(calls, answers, k_cands: int, rng, full: bool = False):
    """Rows (G, 1 + K, ROW_TOKENS) (the truth first, then the K answers) and raw distances
    (G, K, len(KEYS)), each group cut to one random prefix of 1..8 beats."""
    rows, dist = [], []
    for c, cands in zip(calls, answers):
        k = WINDOW_BEATS if full else float(rng.integers(1, int(WINDOW_BEATS) + 1))
        truth = prefix(c.truth, k)
        cut = [prefix(a, k) for a in cands[:k_cands]]
        rows.append(np.stack([row(c.call, truth)] + [row(c.call, a) for a in cut]))
        dist.append(distances(cut, c.call, truth))
    return np.stack(rows), np.stack(dist)


def targets(dist: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """(G, 1 + K) target distributions: softmax of -summed normalised distance / TAU, the
    truth at distance 0; a metric undefined for a candidate counts as its set's median."""
    norm = dist / scale
    med = np.nanmedian(norm.reshape(-1, norm.shape[-1]), axis=0)
    norm = np.where(np.isnan(norm), med, norm)
    d = np.concatenate([np.zeros((len(norm), 1)), norm.sum(-1)], axis=1)
    z = -d / TAU
    z -= z.max(axis=1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(axis=1, keepdims=True)


def scores(model: Critic, x: np.ndarray) -> np.ndarray:
    """(G, 1 + K) critic scores."""
    model.eval()
    flat = x.reshape(-1, x.shape[-1])
    with torch.no_grad():
        s = torch.cat(
            [model(torch.from_numpy(flat[i : i + 1024])) for i in range(0, len(flat), 1024)]
        )
    return s.numpy().reshape(x.shape[0], x.shape[1])


def judge(model: Critic, x: np.ndarray, dist: np.ndarray, scale: np.ndarray) -> dict:
    """Validation: the truth's AUC against the candidates, and how much closer to the truth
    the critic's pick among the candidates is than a random one (summed normalised
    distance, and per metric: the share of metrics where the pick is closer)."""
    s = scores(model, x)
    labels = np.zeros_like(s)
    labels[:, 0] = 1
    auc = roc_auc(s.reshape(-1), labels.reshape(-1))
    norm = dist / scale
    pick = s[:, 1:].argmax(1)
    picked = norm[np.arange(len(norm)), pick]  # (G, KEYS)
    mean_cand = np.nanmean(norm, axis=1)  # a random pick's expectation
    closer = [
        float(np.nanmean(picked[:, j]) < np.nanmean(mean_cand[:, j])) for j in range(len(KEYS))
    ]
    return {
        "auc": auc,
        "pick_distance": float(np.nanmean(np.nansum(picked, -1))),
        "random_distance": float(np.nanmean(np.nansum(mean_cand, -1))),
        "closer": dict(zip(KEYS, closer)),
    }


def train(model, x, t, vx, vdist, scale, epochs: int, seed: int, lr: float):
    torch.manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-2)
    xt, tt = torch.from_numpy(x), torch.from_numpy(t).float()
    g, n = x.shape[0], x.shape[1]
    best, best_state, best_v = -1e9, None, None
    v = judge(model, vx, vdist, scale)  # what is kept with no epoch run
    gen = torch.Generator().manual_seed(seed)
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(g, generator=gen)
        total = 0.0
        for i in range(0, g, 32):
            idx = perm[i : i + 32]
            s = model(xt[idx].reshape(-1, x.shape[-1])).reshape(len(idx), n)
            loss = -(tt[idx] * torch.log_softmax(s, dim=1)).sum(1).mean()
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            total += loss.item() * len(idx)
        v = judge(model, vx, vdist, scale)
        gain = v["random_distance"] - v["pick_distance"]
        print(
            f"  epoch {epoch + 1}: loss {total / g:.4f}, valid AUC {v['auc']:.4f}, pick "
            f"{v['pick_distance']:.3f} vs random {v['random_distance']:.3f}, closer "
            f"{sum(v['closer'].values()):.0f}/6",
            flush=True,
        )
        if gain > best and v["auc"] >= 0.8:
            best, best_v = gain, v
            best_state = {k: v_.clone() for k, v_ in model.state_dict().items()}
    if best_state is None:  # no epoch kept the AUC: the best gain regardless
        best_state, best_v = {k: v_.clone() for k, v_ in model.state_dict().items()}, v
    model.load_state_dict(best_state)
    return model, best_v


def answer_sets(session, calls, k: int, base: int, label: str) -> list[list[list]]:
    out, t0 = [], time.perf_counter()
    for i, c in enumerate(calls):
        out.append(
            [
                engine_answer(session, c.call, base + k * i + j, settings_for(base + k * i + j))
                for j in range(k)
            ]
        )
        if (i + 1) % 500 == 0 or i + 1 == len(calls):
            rate = (i + 1) * k / (time.perf_counter() - t0)
            print(f"  {label}: {i + 1}/{len(calls)} calls ({rate:.0f} answers/s)", flush=True)
    return out


def beat_groups(session, calls, k: int, base: int, label: str):
    """Groups as the planner meets them: each call answered with best of ``k`` (a coin
    picking), and at every answer beat the ``k`` candidates (the answer so far and each
    candidate's beat) with the truth cut to the same length. Rows (G, 1 + k, ROW_TOKENS)
    (the truth first) and raw distances (G, k, len(KEYS))."""
    import rtgen.critic.session as critic_session
    from rtgen.assets import default_critic
    from rtgen.engine.planner import G, Planner
    from rtgen.events import Note

    caught: list = []
    real_pick, real_open = Planner._pick, critic_session.CriticSession.open

    def pick(self, results):
        if len(results) > 1 and self._call is not None:
            a = self._answer_beat
            cands = [
                self._answer + [Note(on / G - a, off / G - a, p) for on, off, p, _ in notes]
                for notes in results
            ]
            caught.append((self._call, cands, self._keep_end / G - a))
        return real_pick(self, results)

    rows, dist, t0 = [], [], time.perf_counter()
    Planner._pick = pick
    critic_session.CriticSession.open = classmethod(lambda cls, path: CoinCritic(base))
    try:
        for i, c in enumerate(calls):
            caught.clear()
            seed = base + i
            settings = replace(settings_for(seed), candidates=k, critic=str(default_critic()))
            engine_answer(session, c.call, seed, settings)
            for window, cands, beats in caught:
                truth = prefix(c.truth, beats)
                cut = [prefix(a, beats) for a in cands]
                rows.append(np.stack([row(window, truth)] + [row(window, a) for a in cut]))
                dist.append(distances(cut, c.call, truth))
            if (i + 1) % 250 == 0 or i + 1 == len(calls):
                rate = (i + 1) / (time.perf_counter() - t0)
                print(
                    f"  {label}: {i + 1}/{len(calls)} calls, {len(rows)} groups "
                    f"({rate:.1f} calls/s)",
                    flush=True,
                )
    finally:
        Planner._pick, critic_session.CriticSession.open = real_pick, real_open
    return np.stack(rows), np.stack(dist)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=Path, required=True)
    ap.add_argument("--valid", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--init", type=Path, help="start from this critic (critic-roundR.pt)")
    ap.add_argument("--candidates", type=int, default=4)
    ap.add_argument("--max-calls", type=int, default=6000)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--beats", action="store_true", help="groups as the planner meets them, beat by beat"
    )
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    calls = collect_calls(sorted(args.calls.rglob("*.mid"))).calls
    calls = [calls[i] for i in rng.permutation(len(calls))[: args.max_calls]]
    vcalls = collect_calls(sorted(args.valid.rglob("*.mid"))).calls[: max(1, args.max_calls // 6)]
    print(f"{len(calls)} training calls, {len(vcalls)} validation calls", flush=True)
    session = open_session(Path(__file__).resolve().parents[1] / "rtgen/assets/default.int8.onnx")
    k = args.candidates
    if args.beats:
        x, dist = beat_groups(session, calls, k, 5_000_000, "train")
        vx, vdist = beat_groups(session, vcalls, k, 9_000_000, "valid")
        fx, fdist = vx, vdist  # the same groups: no separate two-bar figure in this mode
    else:
        train_sets = answer_sets(session, calls, k, 5_000_000, "train")
        valid_sets = answer_sets(session, vcalls, k, 9_000_000, "valid")
        x, dist = groups(calls, train_sets, k, rng)
        vx, vdist = groups(vcalls, valid_sets, k, rng)
        fx, fdist = groups(vcalls, valid_sets, k, rng, full=True)
    scale = np.nanstd(dist.reshape(-1, len(KEYS)), axis=0) + 1e-6
    t = targets(dist, scale)
    model = Critic()
    if args.init is not None:
        model.load_state_dict(torch.load(args.init)["state"])
        print(f"from {args.init}: {judge(model, vx, vdist, scale)}", flush=True)
    model, v = train(model, x, t, vx, vdist, scale, args.epochs, args.seed, args.lr)
    full = judge(model, fx, fdist, scale)
    print(f"kept: prefixes {v}\ntwo bars {full}", flush=True)
    meta = {
        "format": FORMAT,
        "config": {**model.config, "row_tokens": ROW_TOKENS},
        "vocab": T.describe(),
        "round": "rank",
        "candidates_sampled": k,
        "valid_auc_prefix": round(v["auc"], 4),
        "valid_auc_full": round(full["auc"], 4),
        "calls": len(calls),
        "objective": "listwise ranking by distance to the truth (training/critic_rank.py)",
    }
    path = args.out / "critic.onnx"
    diff = export(model, meta, path)
    torch.save({"state": model.state_dict(), "meta": meta}, args.out / "critic.pt")
    (args.out / "history.json").write_text(
        json.dumps({**meta, "prefix": v, "full": full, "parity": diff}, indent=1)
    )
    print(f"wrote {path}; parity {diff:.2e}")
    if not math.isfinite(diff) or diff > 1e-3:
        raise SystemExit(f"critic export parity {diff} > 1e-3")


if __name__ == "__main__":
    main()
