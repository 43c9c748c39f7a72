"""PyTorch (eager, CPU, float32) peer of `mvp bench`: the same MVP update, QC update and action
decision as the Go agent (see common.py). The JVP is torch.func.jvp (forward mode). Prints one JSON
object as the last line."""

import copy
import os
import warnings

from common import THREADS

os.environ.setdefault("OMP_NUM_THREADS", str(THREADS))
warnings.filterwarnings("ignore", category=FutureWarning)

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from common import (ACT, BATCH, CHUNK, ENSEMBLE, GAMMA, H, HIDDEN, LN_EPS, LR, N, OBS, QC_STEPS,  # noqa: E402
                    SECONDS, TAU, emit, loadavg1, peak_rss_mib, percentile, summarize_rate, time_loop)

torch.set_num_threads(THREADS)
torch.set_float32_matmul_precision("highest")


class MLP(nn.Module):
    def __init__(self, in_dim, out_dim, layer_norm):
        super().__init__()
        dims = [in_dim] + HIDDEN
        self.hidden = nn.ModuleList(nn.Linear(dims[i], dims[i + 1]) for i in range(len(HIDDEN)))
        self.norms = nn.ModuleList(nn.LayerNorm(d, eps=LN_EPS) for d in HIDDEN) if layer_norm else None
        self.out = nn.Linear(dims[-1], out_dim)

    def forward(self, x):
        for i, lin in enumerate(self.hidden):
            x = F.gelu(lin(x))
            if self.norms is not None:
                x = self.norms[i](x)
        return self.out(x)


class Critic(nn.Module):
    def __init__(self):
        super().__init__()
        self.qs = nn.ModuleList(MLP(OBS + CHUNK, 1, True) for _ in range(ENSEMBLE))

    def forward(self, s, a):  # [E, B]
        x = torch.cat([s, a], -1)
        return torch.stack([q(x)[:, 0] for q in self.qs])


def u_theta(net, a, t, r, s):
    return net(torch.cat([a, t, r, s], -1))


def v_theta(net, a, t, s):
    return net(torch.cat([a, t, s], -1))


def masked_mse(pred, target, mask):
    return ((pred - target).square() * mask).mean(-1).mean()


def mvp_loss(net, s, a, valid):
    eps = torch.randn_like(a)
    pair = torch.rand(a.shape[0], 2)
    t, r = pair.min(1, keepdim=True).values, pair.max(1, keepdim=True).values
    at = (1 - t) * eps + t * a
    v = a - eps
    u, dudt = torch.func.jvp(lambda a_, t_, r_: u_theta(net, a_, t_, r_, s), (at, t, r),
                             (v, torch.ones_like(t), torch.zeros_like(r)))
    target = (v + (r - t) * dudt).detach()
    mask = valid.repeat_interleave(ACT, dim=1)
    return masked_mse(u, target, mask) + masked_mse(u_theta(net, at, t, t, s), v, mask)


def fm_loss(net, s, a, valid):
    eps = torch.randn_like(a)
    t = torch.rand(a.shape[0], 1)
    at = (1 - t) * eps + t * a
    return masked_mse(v_theta(net, at, t, s), a - eps, valid.repeat_interleave(ACT, dim=1))


def sample_mvp(net, s, eps):
    b = eps.shape[0]
    return eps + u_theta(net, eps, torch.zeros(b, 1), torch.ones(b, 1), s)


def sample_flow(net, s, eps, steps=QC_STEPS):
    b = eps.shape[0]
    a = eps
    for i in range(steps):
        a = a + v_theta(net, a, torch.full((b, 1), i / steps), s) / steps
    return a


@torch.no_grad()
def select_best(sample, actor, critic, s, eps):
    b = s.shape[0]
    n = eps.shape[0] // b
    s_rep = s.repeat_interleave(n, dim=0)
    cand = sample(actor, s_rep, eps).clamp(-1, 1)
    q = critic(s_rep, cand).mean(0).view(b, n)
    idx = q.argmax(1)
    return cand.view(b, n, -1)[torch.arange(b), idx]


class Agent:
    def __init__(self, actor, gen_loss, sample):
        self.actor, self.gen_loss, self.sample = actor, gen_loss, sample
        self.critic = Critic()
        self.target = copy.deepcopy(self.critic).requires_grad_(False)
        self.a_opt = torch.optim.Adam(self.actor.parameters(), lr=LR, foreach=True)
        self.c_opt = torch.optim.Adam(self.critic.parameters(), lr=LR, foreach=True)
        self.online = list(self.critic.parameters())
        self.targets = list(self.target.parameters())

    def update(self, batch):
        s, act, rew, s_next, mask, valid = batch
        a_loss = self.gen_loss(self.actor, s, act, valid)
        self.a_opt.zero_grad(set_to_none=True)
        a_loss.backward()
        with torch.no_grad():
            a_next = select_best(self.sample, self.actor, self.critic, s_next, torch.randn(s.shape[0] * N, CHUNK))
            y = rew + GAMMA ** H * mask * self.target(s_next, a_next).mean(0)
        q = self.critic(s, act)
        c_loss = ((q - y[None]).square() * valid[None, :, -1]).mean(1).sum()
        self.c_opt.zero_grad(set_to_none=True)
        c_loss.backward()
        self.c_opt.step()
        with torch.no_grad():
            torch._foreach_lerp_(self.targets, self.online, TAU)
        self.a_opt.step()
        return a_loss.item(), c_loss.item()

    def actor_update(self, batch):
        s, act, _, _, _, valid = batch
        loss = self.gen_loss(self.actor, s, act, valid)
        self.a_opt.zero_grad(set_to_none=True)
        loss.backward()
        self.a_opt.step()
        return loss.item()


def main():
    load_start = loadavg1()
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    batch = tuple(torch.as_tensor(x, dtype=torch.float32) for x in (
        rng.standard_normal((BATCH, OBS)), rng.uniform(-1, 1, (BATCH, CHUNK)), rng.standard_normal(BATCH),
        rng.standard_normal((BATCH, OBS)), np.ones(BATCH), np.ones((BATCH, H))))
    result = {"peer": "torch", "version": torch.__version__, "compiled": False,
              "threads": torch.get_num_threads()}

    mvp_agent = Agent(MLP(CHUNK + 2 + OBS, CHUNK, False), mvp_loss, sample_mvp)
    qc_agent = Agent(MLP(CHUNK + 1 + OBS, CHUNK, False), fm_loss, sample_flow)
    for name, agent in (("mvp_update", mvp_agent), ("qc_update", qc_agent)):
        times = time_loop(lambda: agent.update(batch))
        result[name + "_steps_per_s"] = summarize_rate(times)
        result[name + "_iters"] = len(times)
        result[name + "_cpu_ms"] = times.cpu_ms
    for name, agent in (("mvp_actor_update", mvp_agent), ("fm_actor_update", qc_agent)):
        times = time_loop(lambda: agent.actor_update(batch))
        result[name + "_steps_per_s"] = summarize_rate(times)
        result[name + "_cpu_ms"] = times.cpu_ms

    s1 = batch[0][:1]
    actor, critic = mvp_agent.actor, mvp_agent.critic

    def decide():
        with torch.inference_mode():
            return select_best(sample_mvp, actor, critic, s1, torch.randn(N, CHUNK))
    times = time_loop(decide, min_iters=200, warmup=20)
    result["act_median_ms"] = percentile(times, 50) * 1e3
    result["act_p99_ms"] = percentile(times, 99) * 1e3
    result["act_iters"] = len(times)
    result["act_cpu_ms"] = times.cpu_ms
    w = torch.ones(512, 512)
    for rows, key in ((8192, "matmul_8192_gflops"), (32, "matmul_32_gflops")):
        x = torch.ones(rows, 512)
        times = time_loop(lambda: (x @ w).sum().item(), seconds=min(SECONDS, 2))
        result[key] = 2 * rows * 512 * 512 * summarize_rate(times) / 1e9
    result["peak_rss_mib"] = peak_rss_mib()
    result["loadavg1"] = (load_start + loadavg1()) / 2
    emit(result)


if __name__ == "__main__":
    main()
