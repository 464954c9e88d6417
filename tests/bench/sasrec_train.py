#!/usr/bin/python3
"""SASRec on S3-Rec's Beauty.txt in plain PyTorch: the reference xrec_bench_train is compared with.

Written the way a researcher would write it (nn.Module with nn.Linear / nn.LayerNorm, batches built in
Python with numpy), but with exactly xrec's model and batch semantics so the two can be timed and their
accuracy compared:
  - leave-one-out: train = all but the last 2 items, valid target = second last (history = train part);
  - per epoch a shuffle, batches of 256 training sequences, inputs s[:-1], targets s[1:], the last 50
    pairs, right-aligned with LEFT padding 0, each batch only as wide as its longest row;
  - item table [I+1, D] (row 0 padding), learned positions (the newest item gets the last one),
    LayerNorm(items + positions), dropout, post-LN blocks (attention, GELU feed-forward 4D), normal(0, 0.02)
    init, LayerNorm eps 1e-12, additive -1e9 mask (causal and padding keys);
  - ce: full softmax over items 1..I at every non-padding position; bce: one positive and N sampled
    negatives (never an item of the user's training sequence) per position;
  - Adam lr 1e-3; validation by full ranking of all items, history masked, ties broken by item id.

usage: /usr/bin/python3 tests/bench/sasrec_train.py --data Beauty.txt [--epochs 2] [--threads 2] [--loss ce]
With --patience N it instead trains to convergence as S3-Rec does and reports test metrics (the reference
for docs/reproductions.md): --epochs 200 --patience 10 --loss bce --select ndcg@20.
Prints one line per epoch and, last, one JSON line with every number (for tests/bench/sasrec_bench.sh).
"""
import argparse
import json
import os
import math
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def read_beauty(path):
    """One user per line: `user item item ...` in time order; item ids are 1..I already."""
    seqs = []
    with open(path) as f:
        for line in f:
            tok = line.split()
            if len(tok) >= 2:
                seqs.append([int(t) for t in tok[1:]])
    num_items = max(max(s) for s in seqs)
    return seqs, num_items


def leave_one_out(seqs, min_length=3):
    train, valid, test = [], [], []  # valid, test: (history, target)
    for s in seqs:
        if len(s) >= min_length:
            train.append(s[:-2])
            valid.append((s[:-2], s[-2]))
            test.append((s[:-1], s[-1]))
        elif len(s) >= 2:
            train.append(s)
    return train, valid, test


class Batches:
    """xrec's TrainBatches: shuffled, left-padded, as wide as the longest row (at most max_len)."""

    def __init__(self, train, num_items, batch_size, max_len, negatives, rng, bucket=0):
        self.rows = [s for s in train if len(s) >= 2]
        self.bucket = bucket
        self.lengths = np.array([len(s) for s in self.rows])
        self.seen = [np.unique(s) for s in self.rows] if negatives > 0 else None
        self.num_items, self.batch_size, self.max_len, self.negatives = num_items, batch_size, max_len, negatives
        self.rng = rng
        self.order = np.arange(len(self.rows))

    def __len__(self):
        return (len(self.rows) + self.batch_size - 1) // self.batch_size

    def shuffle(self):
        self.rng.shuffle(self.order)
        self.batch_order = np.arange(len(self))
        if self.bucket > 0:  # sort chunks by length, shuffle the batches (xrec_bench_train --batches bucket)
            span = self.bucket * self.batch_size
            for lo in range(0, len(self.order), span):
                chunk = self.order[lo:lo + span]
                self.order[lo:lo + span] = chunk[np.argsort(self.lengths[chunk], kind="stable")]
            self.rng.shuffle(self.batch_order)

    def batch(self, b):
        b = self.batch_order[b]
        idx = self.order[b * self.batch_size:(b + 1) * self.batch_size]
        L = min(self.max_len, max(1, max(len(self.rows[i]) - 1 for i in idx)))
        N = self.negatives
        inputs = np.zeros((len(idx), L), dtype=np.int64)
        targets = np.zeros((len(idx), L), dtype=np.int64)
        negs = np.zeros((len(idx), L, N), dtype=np.int64) if N > 0 else None
        for r, i in enumerate(idx):
            s = self.rows[i]
            take = min(len(s) - 1, L)
            inputs[r, L - take:] = s[len(s) - 1 - take:len(s) - 1]
            targets[r, L - take:] = s[len(s) - take:]
            if N > 0:
                neg = self.rng.integers(1, self.num_items + 1, size=(take, N))
                bad = np.isin(neg, self.seen[i])
                while bad.any():  # rejection sampling, as in SASRec
                    neg[bad] = self.rng.integers(1, self.num_items + 1, size=int(bad.sum()))
                    bad = np.isin(neg, self.seen[i])
                negs[r, L - take:] = neg
        return (torch.from_numpy(inputs), torch.from_numpy(targets),
                torch.from_numpy(negs) if negs is not None else None)


class MultiHeadAttention(nn.Module):
    def __init__(self, hidden, heads, attn_dropout):
        super().__init__()
        self.heads, self.d = heads, hidden // heads
        self.q, self.k, self.v = nn.Linear(hidden, hidden), nn.Linear(hidden, hidden), nn.Linear(hidden, hidden)
        self.out = nn.Linear(hidden, hidden)
        self.attn_dropout = nn.Dropout(attn_dropout)

    def forward(self, x, mask):
        B, L, D = x.shape
        split = lambda t: t.view(B, L, self.heads, self.d).transpose(1, 2)  # [B, H, L, d]
        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        scores = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(self.d) + mask
        attn = self.attn_dropout(torch.softmax(scores, dim=-1))
        ctx = torch.matmul(attn, v).transpose(1, 2).reshape(B, L, D)
        return self.out(ctx)


class Block(nn.Module):
    """Post-LN Transformer block (BERT / S3-Rec / RecBole)."""

    def __init__(self, hidden, heads, inner, dropout, attn_dropout, eps):
        super().__init__()
        self.attn = MultiHeadAttention(hidden, heads, attn_dropout)
        self.ln_attn = nn.LayerNorm(hidden, eps=eps)
        self.ff1, self.ff2 = nn.Linear(hidden, inner), nn.Linear(inner, hidden)
        self.ln_ff = nn.LayerNorm(hidden, eps=eps)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, mask):
        x = self.ln_attn(x + self.dropout(self.attn(x, mask)))
        return self.ln_ff(x + self.dropout(self.ff2(F.gelu(self.ff1(x)))))


class SASRec(nn.Module):
    def __init__(self, num_items, hidden=64, layers=2, heads=2, max_len=50, dropout=0.5, attn_dropout=0.5,
                 init_std=0.02, eps=1e-12):
        super().__init__()
        self.max_len = max_len
        self.items = nn.Embedding(num_items + 1, hidden, padding_idx=0)
        self.positions = nn.Embedding(max_len, hidden)
        self.input_norm = nn.LayerNorm(hidden, eps=eps)
        self.dropout = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(
            [Block(hidden, heads, 4 * hidden, dropout, attn_dropout, eps) for _ in range(layers)])
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, std=init_std)
            if isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)
        with torch.no_grad():
            self.items.weight[0].zero_()

    def forward(self, inputs):
        """[B, L] item ids (left padding 0) -> [B, L, D] states."""
        B, L = inputs.shape
        pos = torch.arange(self.max_len - L, self.max_len)  # right-aligned: the newest item is last
        x = self.dropout(self.input_norm(self.items(inputs) + self.positions(pos).unsqueeze(0)))
        padding = inputs.eq(0)
        causal = torch.ones(L, L, dtype=torch.bool).triu(1)
        blocked = causal.unsqueeze(0) | padding.unsqueeze(1)  # [B, query, key]
        mask = torch.zeros(B, 1, L, L).masked_fill(blocked.unsqueeze(1), -1e9)
        for block in self.blocks:
            x = block(x, mask)
        return x

    def loss(self, inputs, targets, negatives, kind):
        states = self.forward(inputs)
        keep = targets.gt(0)
        h, t = states[keep], targets[keep]  # [P, D], [P]
        table = self.items.weight
        if kind == "ce":
            return F.cross_entropy(h @ table[1:].t(), t - 1)  # column j = item j + 1
        pos = (h * table[t]).sum(-1)
        neg = (h.unsqueeze(1) * table[negatives[keep]]).sum(-1)
        return F.softplus(-pos).mean() + F.softplus(neg).sum(-1).mean()

    @torch.no_grad()
    def score_last(self, inputs):
        return self.forward(inputs)[:, -1] @ self.items.weight.t()  # [B, I+1]


@torch.no_grad()
def evaluate(model, cases, max_len, batch_size=1024, ks=(5, 10, 20), history="mask"):
    """Full ranking of all items; padding and the history (but the target) masked; ties by item id.

    history="zero" is S3-Rec's variant instead (run_finetune_full.py: `rating_pred[train_matrix > 0] = 0`):
    the history's scores are set to 0 rather than removed, and the padding row stays a candidate."""
    model.eval()
    ranks = []
    for lo in range(0, len(cases), batch_size):
        chunk = cases[lo:lo + batch_size]
        L = min(max_len, max(len(h) for h, _ in chunk))
        inputs = np.zeros((len(chunk), L), dtype=np.int64)
        for r, (h, _) in enumerate(chunk):
            take = min(len(h), L)
            inputs[r, L - take:] = h[len(h) - take:]
        scores = model.score_last(torch.from_numpy(inputs))
        fill = -math.inf if history == "mask" else 0.0
        if history == "mask":
            scores[:, 0] = -math.inf
        for r, (h, t) in enumerate(chunk):
            seen = [i for i in h if i != t]
            scores[r, seen] = fill
        targets = torch.tensor([t for _, t in chunk])
        ts = scores.gather(1, targets.unsqueeze(1))
        ids = torch.arange(scores.size(1)).unsqueeze(0)
        rank = scores.gt(ts).sum(1) + (scores.eq(ts) & ids.lt(targets.unsqueeze(1))).sum(1)
        ranks.append(rank)
    rank = torch.cat(ranks).double()
    out = {}
    for k in ks:
        hit = rank.lt(k)
        out[f"hr@{k}"] = hit.double().mean().item()
        out[f"ndcg@{k}"] = torch.where(hit, 1.0 / torch.log2(rank + 2), torch.zeros_like(rank)).mean().item()
    return out


def profile_batches(model, opt, batches, a):
    """Where a training batch spends its time, op by op (LibTorch's kernels, the same ones xrec calls)."""
    from torch.profiler import profile, ProfilerActivity
    model.train()
    batches.shuffle()
    for b in range(2):  # warm-up
        inputs, targets, negatives = batches.batch(b)
        model.loss(inputs, targets, negatives, a.loss).backward()
        opt.step()
        opt.zero_grad()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for b in range(2, 2 + a.profile):
            inputs, targets, negatives = batches.batch(b)
            model.loss(inputs, targets, negatives, a.loss).backward()
            opt.step()
            opt.zero_grad()
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=30))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True, help="S3-Rec Beauty.txt (user item item ...)")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--loss", choices=["ce", "bce"], default="ce")
    ap.add_argument("--negatives", type=int, default=1, help="sampled negatives per position (bce)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--max-len", type=int, default=50)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--max-batches", type=int, default=0, help="stop each epoch after N batches (0 = all)")
    ap.add_argument("--bucket", type=int, default=0,
                    help="length-bucketed batches: sort every chunk of N batches' worth of sequences by length "
                         "(0 = off, xrec's default batches)")
    ap.add_argument("--patience", type=int, default=0,
                    help="train like S3-Rec's run_finetune_*.py: validate after every epoch, stop after N epochs "
                         "without a better --select, then test the best epoch's weights (0 = off: --epochs, "
                         "validate once at the end)")
    ap.add_argument("--select", default="ndcg@20", help="validation metric that picks the best epoch")
    ap.add_argument("--profile", type=int, default=0,
                    help="profile N training batches with torch.profiler, print the op table and exit")
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    seqs, num_items = read_beauty(a.data)
    train, valid, test = leave_one_out(seqs)
    batches = Batches(train, num_items, a.batch_size, a.max_len, a.negatives if a.loss == "bce" else 0, rng,
                      a.bucket)
    model = SASRec(num_items, max_len=a.max_len)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    print(f"# python torch {torch.__version__}, {torch.get_num_threads()} threads, {len(seqs)} users, "
          f"{num_items} items, {len(batches.rows)} training sequences, {len(batches)} batches/epoch, loss {a.loss}",
          flush=True)

    if a.profile > 0:
        profile_batches(model, opt, batches, a)
        return

    epochs = []
    best = dict(value=-1.0, epoch=0, state=None, valid=None)
    for epoch in range(a.epochs):
        model.train()
        batches.shuffle()
        t = dict(data=0.0, forward=0.0, backward=0.0, optimizer=0.0)
        loss_sum, n = 0.0, len(batches) if a.max_batches <= 0 else min(len(batches), a.max_batches)
        positions = cells = 0
        start, cpu_start = time.perf_counter(), time.process_time()
        for b in range(n):
            t0 = time.perf_counter()
            inputs, targets, negatives = batches.batch(b)
            t1 = time.perf_counter()
            loss = model.loss(inputs, targets, negatives, a.loss)
            t2 = time.perf_counter()
            loss.backward()
            t3 = time.perf_counter()
            opt.step()
            opt.zero_grad()
            t4 = time.perf_counter()
            loss_sum += loss.item()
            t["data"] += t1 - t0
            t["forward"] += t2 - t1
            t["backward"] += t3 - t2
            t["optimizer"] += t4 - t3
            s0 = time.perf_counter()  # padding statistics, kept out of the epoch time
            positions += int(targets.gt(0).sum())
            cells += targets.numel()
            start += time.perf_counter() - s0
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        e = dict(epoch=epoch + 1, seconds=seconds, cpu_seconds=cpu, loss=loss_sum / max(n, 1), batches=n,
                 positions=positions, cells=cells, **t)
        epochs.append(e)
        print(f"epoch {epoch + 1}: {seconds:.2f}s (data {t['data']:.2f}, forward {t['forward']:.2f}, "
              f"backward {t['backward']:.2f}, optimizer {t['optimizer']:.2f}) loss {e['loss']:.4f}, cpu {cpu:.2f}s, "
              f"padding {100 * (cells - positions) / max(cells, 1):.1f}% of {cells} cells, "
              f"load {os.getloadavg()[0]:.2f}", flush=True)
        if a.patience > 0:
            metrics = evaluate(model, valid, a.max_len)
            e["valid"] = metrics
            print(f"  valid {a.select} {metrics[a.select]:.4f} hr@10 {metrics['hr@10']:.4f} "
                  f"ndcg@10 {metrics['ndcg@10']:.4f}", flush=True)
            if metrics[a.select] > best["value"]:
                best = dict(value=metrics[a.select], epoch=epoch + 1, valid=metrics,
                            state={k: v.clone() for k, v in model.state_dict().items()})
            elif epoch + 1 - best["epoch"] >= a.patience:
                break

    if a.patience > 0:
        model.load_state_dict(best["state"])
        result = dict(best_epoch=best["epoch"], valid=best["valid"],
                      test=evaluate(model, test, a.max_len),
                      test_s3rec_history_zero=evaluate(model, test, a.max_len, history="zero"))
        print(f"best epoch {best['epoch']}: valid {a.select} {best['value']:.4f}; test hr@10 "
              f"{result['test']['hr@10']:.4f} ndcg@10 {result['test']['ndcg@10']:.4f}", flush=True)
        print(json.dumps(dict(impl="python", torch=torch.__version__, threads=torch.get_num_threads(), loss=a.loss,
                              seed=a.seed, epochs=epochs, **result)))
        return

    t0 = time.perf_counter()
    metrics = evaluate(model, valid, a.max_len)
    eval_seconds = time.perf_counter() - t0
    print(f"valid hr@10 {metrics['hr@10']:.4f} ndcg@10 {metrics['ndcg@10']:.4f} ({len(valid)} users, "
          f"{eval_seconds:.2f}s)", flush=True)
    print(json.dumps(dict(impl="python", torch=torch.__version__, threads=torch.get_num_threads(), loss=a.loss,
                          bucket=a.bucket, epochs=epochs, valid=metrics, eval_seconds=eval_seconds, users=len(valid),
                          load=os.getloadavg()[0])))


if __name__ == "__main__":
    main()
