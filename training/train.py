"""Train an rtgen model on prepared token shards.

    python -m training.train --config configs/default.toml [--set train.lr=1e-3 ...] [--resume]
    torchrun --nproc_per_node=N -m training.train --config ...       # several processes/GPUs

Writes OUT/last.ckpt (with optimizer and RNG state, for --resume), OUT/best.ckpt (best
validation NLL, weights only) and OUT/metrics.csv. A run that is killed resumes from its last
validation point and then follows exactly the path of an uninterrupted run. The last line
names the best checkpoint beside the n-gram baseline (OUT/best.ngram.npz) on the same tokens.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import hashlib
import json
import math
import os
import sys
import time
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
from tqdm import tqdm

from rtgen.errors import RtgenError
from rtgen.evaluate import find_baseline
from rtgen.models.checkpoint import build_model, describe, read_checkpoint, save_checkpoint
from rtgen.ngram import NGram
from training import collectives
from training.config import TrainConfig, load_recipe
from training.data import WindowSampler, data_summary, eval_windows, load_split

LN2 = math.log(2.0)


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up, then cosine decay to lr * min_lr_ratio at max_steps."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    span = max(1, cfg.max_steps - cfg.warmup_steps)
    t = min(1.0, (step - cfg.warmup_steps) / span)
    floor = cfg.lr * cfg.min_lr_ratio
    return floor + (cfg.lr - floor) * 0.5 * (1 + math.cos(math.pi * t))


@torch.no_grad()
def validate(model: torch.nn.Module, windows: torch.Tensor, device: str, batch: int) -> float:
    """Mean NLL in bits per token over fixed validation windows."""
    model.eval()
    total, count = 0.0, 0
    for i in range(0, len(windows), batch):
        w = windows[i : i + batch].to(device)
        logits, _ = model(w[:, :-1])
        loss = F.cross_entropy(
            logits.float().reshape(-1, logits.shape[-1]), w[:, 1:].reshape(-1), reduction="sum"
        )
        total += loss.item()
        count += w[:, 1:].numel()
    model.train()
    return total / max(count, 1) / LN2


def ngram_bits(ngram: NGram, windows: torch.Tensor) -> float:
    """An n-gram's mean bits per token over the validation windows: the tokens
    :func:`validate` scores (each window's after its first), each window from its start."""
    total, count = 0.0, 0
    for w in windows.numpy():  # (seq_len + 1,) each
        lp = ngram.log2_probs(w)
        total -= float(lp.sum())
        count += len(lp)
    return total / max(count, 1)


class Run:
    """One training run: model, optimizer, data, and the bookkeeping that makes resume exact."""

    def __init__(self, kind: str, model_cfg: dict, cfg: TrainConfig, resume: bool) -> None:
        self.cfg, self.kind, self.model_cfg = cfg, kind, model_cfg
        self.rank = int(os.environ.get("RANK", "0"))
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        if self.world > 1:
            dist.init_process_group("nccl" if self.device == "cuda" else "gloo")
            if self.device == "cuda":
                self.device = f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
                torch.cuda.set_device(self.device)
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        torch.manual_seed(cfg.seed)  # same initial weights on every rank
        self.model = build_model(kind, model_cfg).to(self.device)
        if cfg.init:
            self._init_from(Path(cfg.init))
        decay = [p for p in self.model.parameters() if p.dim() >= 2]
        no_decay = [p for p in self.model.parameters() if p.dim() < 2]
        self.opt = torch.optim.AdamW(
            [
                {"params": decay, "weight_decay": cfg.weight_decay},
                {"params": no_decay, "weight_decay": 0.0},
            ],
            lr=cfg.lr,
            betas=(0.9, 0.98),
        )
        self.sampler = WindowSampler(
            load_split(cfg.data, "train"), cfg.seq_len, cfg.seed + 1000 * self.rank, cfg.transpose
        )
        self.valid = eval_windows(load_split(cfg.data, "valid"), cfg.seq_len, cfg.eval_tokens)
        self.data = data_summary(cfg.data)
        self.out = Path(cfg.out)
        self.step, self.best, self.bad_evals, self.minutes_before = 0, float("inf"), 0, 0.0
        torch.manual_seed(cfg.seed + 7 * self.rank)  # dropout streams differ per rank
        if resume:
            self._resume()
        self.net = self.model
        if self.world > 1:
            from torch.nn.parallel import DistributedDataParallel

            ids = [self.device] if self.device.startswith("cuda") else None
            self.net = DistributedDataParallel(self.model, device_ids=ids)

    def _init_from(self, path: Path) -> None:
        """Start from another checkpoint's weights (fine-tuning); its model must be this one."""
        blob = read_checkpoint(path)
        if blob.get("kind") != self.kind or blob.get("config") != dataclasses.asdict(
            self.model.cfg
        ):
            raise RtgenError(
                f"train.init {path}: a {blob.get('kind')} {blob.get('config')}, not this "
                f"recipe's {self.kind} {dataclasses.asdict(self.model.cfg)}"
            )
        self.model.load_state_dict(blob["state_dict"])

    def _resume(self) -> None:
        path = self.out / "last.ckpt"
        blob = read_checkpoint(path)
        st = blob.get("train_state")
        if st is None:
            raise RtgenError(f"{path}: has no training state to resume from")
        self.model.load_state_dict(blob["state_dict"])
        self.opt.load_state_dict(st["optimizer"])
        self.sampler.gen.set_state(st["sampler_rng"][self.rank])
        torch.set_rng_state(st["torch_rng"][self.rank])
        self.step, self.best = st["step"], st["best"]
        self.bad_evals, self.minutes_before = st["bad_evals"], st["minutes"]

    def _gather_rng(self) -> tuple[list, list]:
        mine = [self.sampler.gen.get_state(), torch.get_rng_state()]
        if self.world == 1:
            return [mine[0]], [mine[1]]
        # NCCL gathers only device tensors; the states are restored from CPU copies
        sampler_rng, torch_rng = (
            [s.cpu() for s in collectives.all_gather(m.to(self.device), self.world)] for m in mine
        )
        return sampler_rng, torch_rng

    def _save(self, val_bits: float, improved: bool, minutes: float) -> None:
        sampler_rng, torch_rng = self._gather_rng()  # collective: every rank calls it
        if self.rank != 0:
            return
        metrics = {
            "valid_bits_per_token": val_bits,
            "best_valid_bits_per_token": self.best,
            "step": self.step,
            "tokens_seen": self.tokens_seen(),
            "train_minutes": round(minutes, 2),
            "world_size": self.world,
        }
        meta = describe(self.model, self.data, metrics)
        meta["train_config"] = {k: v for k, v in vars(self.cfg).items()}
        state = {
            "optimizer": self.opt.state_dict(),
            "sampler_rng": sampler_rng,
            "torch_rng": torch_rng,
            "step": self.step,
            "best": self.best,
            "bad_evals": self.bad_evals,
            "minutes": minutes,
        }
        save_checkpoint(self.out / "last.ckpt", self.model, meta, state)
        if improved:
            save_checkpoint(self.out / "best.ckpt", self.model, meta)

    def tokens_seen(self) -> int:
        return self.step * self.cfg.batch * self.cfg.seq_len * self.world

    def _train_step(self) -> float:
        for group in self.opt.param_groups:
            group["lr"] = lr_at(self.step, self.cfg)
        w = self.sampler.batch(self.cfg.batch).to(self.device)
        amp = torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.device != "cpu")
        with amp:
            logits, _ = self.net(w[:, :-1])
            loss = F.cross_entropy(
                logits.float().reshape(-1, logits.shape[-1]), w[:, 1:].reshape(-1)
            )
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip)
        self.opt.step()
        self.step += 1
        return loss.item() / LN2

    def _should_stop(self, flag: bool) -> bool:
        """Every rank stops together: rank 0's decision is broadcast."""
        if self.world == 1:
            return flag
        t = torch.tensor([1 if flag else 0], device=self.device)
        return bool(collectives.broadcast(t, 0).item())

    def _checkpoint(self, bits: float, minutes: float) -> None:
        """Validate, save last (and best), append a metrics row."""
        val = 0.0
        if self.rank == 0:
            val = validate(self.model, self.valid, self.device, self.cfg.batch)
        improved = val < self.best
        if improved:
            self.best, self.bad_evals = val, 0
        else:
            self.bad_evals += 1
        self._save(val, improved, minutes)
        if self.rank != 0:
            return
        metrics = self.out / "metrics.csv"
        new = not metrics.exists()
        with open(metrics, "a", newline="") as fh:
            wr = csv.writer(fh)
            if new:
                wr.writerow(["step", "tokens", "minutes", "lr", "train_bits", "valid_bits"])
            lr = lr_at(self.step, self.cfg)
            wr.writerow(
                [
                    self.step,
                    self.tokens_seen(),
                    f"{minutes:.2f}",
                    f"{lr:.3e}",
                    f"{bits:.4f}",
                    f"{val:.4f}",
                ]
            )
        tqdm.write(f"step {self.step}: valid {val:.4f} bits/token (best {self.best:.4f})")

    def train(self, stop_at: int = 0) -> None:
        cfg = self.cfg
        self.out.mkdir(parents=True, exist_ok=True)
        t0, tok0 = time.perf_counter(), self.tokens_seen()
        bar = tqdm(
            total=cfg.max_steps,
            initial=self.step,
            desc="train",
            unit="step",
            disable=self.rank != 0,
            dynamic_ncols=True,
        )
        stop = False
        while self.step < cfg.max_steps and not stop:
            bits = self._train_step()
            bar.update(1)
            elapsed = time.perf_counter() - t0
            if self.step % cfg.log_every == 0:
                tps = (self.tokens_seen() - tok0) / max(elapsed, 1e-9)
                lr = lr_at(self.step, cfg)
                bar.set_postfix(bits=f"{bits:.3f}", tok_s=f"{tps:,.0f}", lr=f"{lr:.1e}")
            minutes = self.minutes_before + elapsed / 60
            over_time = cfg.max_minutes > 0 and minutes >= cfg.max_minutes
            at_eval = self.step % cfg.eval_every == 0 or self.step == cfg.max_steps
            if at_eval or over_time or self.step == stop_at:
                self._checkpoint(bits, minutes)
                early = self.bad_evals >= cfg.patience
                stop = self._should_stop(early or over_time or self.step == stop_at)
        bar.close()
        if self.world > 1:
            self._check_ranks_agree()
            dist.destroy_process_group()
        if self.rank == 0:
            print(self.best_report())

    def best_report(self) -> str:
        """The run's last line: where the best checkpoint is, its validation figure, and the
        n-gram baseline's on the same tokens when one lies beside it (as ``rtgen eval`` finds
        it: OUT/best.ngram.npz or OUT/ngram.npz)."""
        best = self.out / "best.ckpt"
        if not best.is_file() or not math.isfinite(self.best):
            return f"no best checkpoint: no validation ran (OUT {self.out})"
        line = f"best checkpoint: {best} (valid {self.best:.4f} bits/token"
        found = find_baseline(best)
        if found is None:
            hint = f"python -m training.baseline --data {self.cfg.data} --out {best.parent}"
            return f"{line}; no n-gram baseline beside it: {hint}/best.ngram.npz)"
        try:
            ngram = NGram.load(found)
        except RtgenError as exc:
            return f"{line}; n-gram baseline unreadable: {exc.format_message()})"
        base = ngram_bits(ngram, self.valid)
        return (
            f"{line}; n-gram baseline {base:.4f} on the same tokens, ratio {self.best / base:.2f})"
        )

    def _check_ranks_agree(self) -> None:
        """Every rank hashes its final weights; rank 0 records them in OUT/ranks.json.
        DDP keeps replicas identical; a mismatch means a desynchronised run."""
        h = hashlib.sha256()
        for _, v in sorted(self.model.state_dict().items()):
            h.update(v.detach().cpu().contiguous().numpy().tobytes())
        digest = torch.frombuffer(bytearray(h.digest()), dtype=torch.uint8).to(self.device)
        every = [bytes(d.cpu().tolist()).hex() for d in collectives.all_gather(digest, self.world)]
        if self.rank == 0:
            agree = len(set(every)) == 1
            (self.out / "ranks.json").write_text(
                json.dumps({"weights_sha256": every, "agree": agree})
            )
            tqdm.write(f"{self.world} ranks, final weights {'agree' if agree else 'DIFFER'}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m training.train",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--config", help="TOML recipe, e.g. configs/default.toml")
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a setting, e.g. --set train.max_steps=100 (repeatable)",
    )
    ap.add_argument("--resume", action="store_true", help="continue from OUT/last.ckpt")
    ap.add_argument(
        "--stop-at",
        type=int,
        default=0,
        help="stop (and save) after this step, as if interrupted; for tests",
    )
    args = ap.parse_args(argv)
    try:
        kind, model_cfg, cfg = load_recipe(args.config, args.set)
        build_model(kind, model_cfg)  # reject a bad model config before touching data
        run = Run(kind, model_cfg, cfg, args.resume)
        run.train(stop_at=args.stop_at)
    except RtgenError as exc:
        print(f"train: error: {exc.format_message()}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
