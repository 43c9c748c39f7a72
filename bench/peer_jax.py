"""JAX (jit, CPU, float32) peer of `mvp bench`: the same MVP update, QC update and action decision
as the Go agent (see common.py). Prints one JSON object as the last line."""

import os

from common import THREADS

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                           f" --xla_cpu_multi_thread_eigen=true intra_op_parallelism_threads={THREADS}").strip()

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from common import (ACT, BATCH, CHUNK, ENSEMBLE, GAMMA, H, HIDDEN, LN_EPS, LR, N, OBS, QC_STEPS,  # noqa: E402
                    SECONDS, TAU, emit, loadavg1, peak_rss_mib, percentile, summarize_rate, time_loop)

jax.config.update("jax_default_matmul_precision", "float32")


def init_mlp(key, in_dim, out_dim, layer_norm):
    params = []
    dims = [in_dim] + HIDDEN
    for i in range(len(HIDDEN)):
        key, k = jax.random.split(key)
        layer = {"w": jax.random.normal(k, (dims[i], dims[i + 1]), jnp.float32) / np.sqrt(dims[i]),
                 "b": jnp.zeros((dims[i + 1],), jnp.float32)}
        if layer_norm:
            layer["g"] = jnp.ones((dims[i + 1],), jnp.float32)
            layer["o"] = jnp.zeros((dims[i + 1],), jnp.float32)
        params.append(layer)
    key, k = jax.random.split(key)
    params.append({"w": jax.random.normal(k, (dims[-1], out_dim), jnp.float32) / np.sqrt(dims[-1]) * 0.01,
                   "b": jnp.zeros((out_dim,), jnp.float32)})
    return params


def mlp(params, x):
    for layer in params[:-1]:
        x = jax.nn.gelu(x @ layer["w"] + layer["b"], approximate=False)
        if "g" in layer:
            mu = x.mean(-1, keepdims=True)
            var = ((x - mu) ** 2).mean(-1, keepdims=True)
            x = (x - mu) * jax.lax.rsqrt(var + LN_EPS) * layer["g"] + layer["o"]
    return x @ params[-1]["w"] + params[-1]["b"]


def u_theta(p, a, t, r, s):
    return mlp(p, jnp.concatenate([a, t, r, s], -1))


def v_theta(p, a, t, s):
    return mlp(p, jnp.concatenate([a, t, s], -1))


def q_ensemble(ps, s, a):
    x = jnp.concatenate([s, a], -1)
    return jnp.stack([mlp(p, x)[:, 0] for p in ps])  # [E, B]


def chunk_mask(valid):
    return jnp.repeat(valid, ACT, axis=1)  # [B, h·d], step-major like the Go ChunkMask


def masked_mse(pred, target, mask):
    return jnp.mean(jnp.mean(jnp.square(pred - target) * mask, -1))


def mvp_loss(p, key, s, a, valid):
    k1, k2 = jax.random.split(key)
    eps = jax.random.normal(k1, a.shape, a.dtype)
    pair = jax.random.uniform(k2, (a.shape[0], 2), a.dtype)
    t, r = pair.min(1, keepdims=True), pair.max(1, keepdims=True)
    at = (1 - t) * eps + t * a
    v = a - eps
    u, dudt = jax.jvp(lambda a_, t_, r_: u_theta(p, a_, t_, r_, s), (at, t, r),
                      (v, jnp.ones_like(t), jnp.zeros_like(r)))
    target = jax.lax.stop_gradient(v + (r - t) * dudt)
    mask = chunk_mask(valid)
    mf = masked_mse(u, target, mask)
    ivc = masked_mse(u_theta(p, at, t, t, s), v, mask)
    return mf + ivc


def fm_loss(p, key, s, a, valid):
    k1, k2 = jax.random.split(key)
    eps = jax.random.normal(k1, a.shape, a.dtype)
    t = jax.random.uniform(k2, (a.shape[0], 1), a.dtype)
    at = (1 - t) * eps + t * a
    return masked_mse(v_theta(p, at, t, s), a - eps, chunk_mask(valid))


def sample_mvp(p, s, eps):
    b = eps.shape[0]
    return eps + u_theta(p, eps, jnp.zeros((b, 1)), jnp.ones((b, 1)), s)


def sample_flow(p, s, eps, steps=QC_STEPS):
    b = eps.shape[0]
    a = eps
    for i in range(steps):
        a = a + v_theta(p, a, jnp.full((b, 1), i / steps), s) / steps
    return a


def select_best(sample, actor, critic, s, eps):
    """s [B, OBS], eps [B·N, CHUNK] → argmax_i mean-Q candidate per state [B, CHUNK]."""
    b = s.shape[0]
    n = eps.shape[0] // b
    s_rep = jnp.repeat(s, n, axis=0)
    cand = jnp.clip(sample(actor, s_rep, eps), -1, 1)
    q = q_ensemble(critic, s_rep, cand).mean(0).reshape(b, n)
    idx = jnp.argmax(q, 1)
    return jax.lax.stop_gradient(cand.reshape(b, n, -1)[jnp.arange(b), idx])


def adam_init(params):
    zeros = lambda: jax.tree_util.tree_map(jnp.zeros_like, params)  # noqa: E731 (distinct buffers: donated)
    return {"m": zeros(), "v": zeros(), "t": jnp.zeros((), jnp.float32)}


def adam_step(params, grads, st, lr=LR, b1=0.9, b2=0.999, eps=1e-8):
    t = st["t"] + 1
    m = jax.tree_util.tree_map(lambda m, g: b1 * m + (1 - b1) * g, st["m"], grads)
    v = jax.tree_util.tree_map(lambda v, g: b2 * v + (1 - b2) * g * g, st["v"], grads)
    c1, c2 = 1 - b1 ** t, 1 - b2 ** t
    params = jax.tree_util.tree_map(lambda p, m, v: p - lr * (m / c1) / (jnp.sqrt(v / c2) + eps), params, m, v)
    return params, {"m": m, "v": v, "t": t}


def make_update(gen_loss, sample):
    def update(state, batch, key):
        actor, critic, target, a_opt, c_opt = state
        s, act, rew, s_next, mask, valid = batch
        k_actor, k_sel = jax.random.split(key)
        a_loss, a_grads = jax.value_and_grad(gen_loss)(actor, k_actor, s, act, valid)
        eps = jax.random.normal(k_sel, (s.shape[0] * N, CHUNK), jnp.float32)
        a_next = select_best(sample, actor, critic, s_next, eps)
        q_next = q_ensemble(target, s_next, a_next).mean(0)
        y = jax.lax.stop_gradient(rew + GAMMA ** H * mask * q_next)
        w = valid[:, -1]

        def c_loss_fn(c):
            q = q_ensemble(c, s, act)
            return jnp.sum(jnp.mean(jnp.square(q - y[None]) * w[None], 1))

        c_loss, c_grads = jax.value_and_grad(c_loss_fn)(critic)
        critic, c_opt = adam_step(critic, c_grads, c_opt)
        target = jax.tree_util.tree_map(lambda t, o: (1 - TAU) * t + TAU * o, target, critic)
        actor, a_opt = adam_step(actor, a_grads, a_opt)
        return (actor, critic, target, a_opt, c_opt), (a_loss, c_loss)
    return jax.jit(update, donate_argnums=0)


def make_actor_only(gen_loss):
    def update(actor, a_opt, batch, key):
        s, act, _, _, _, valid = batch
        loss, grads = jax.value_and_grad(gen_loss)(actor, key, s, act, valid)
        actor, a_opt = adam_step(actor, grads, a_opt)
        return actor, a_opt, loss
    return jax.jit(update, donate_argnums=(0, 1))


def main():
    load_start = loadavg1()
    key = jax.random.PRNGKey(0)
    ka, kf, kc, kb = jax.random.split(key, 4)
    actor = init_mlp(ka, CHUNK + 2 + OBS, CHUNK, False)
    flow = init_mlp(kf, CHUNK + 1 + OBS, CHUNK, False)
    critic = [init_mlp(k, OBS + CHUNK, 1, True) for k in jax.random.split(kc, ENSEMBLE)]
    target = jax.tree_util.tree_map(lambda x: x, critic)
    rng = np.random.default_rng(0)
    batch = tuple(jnp.asarray(x, jnp.float32) for x in (
        rng.standard_normal((BATCH, OBS)), rng.uniform(-1, 1, (BATCH, CHUNK)), rng.standard_normal(BATCH),
        rng.standard_normal((BATCH, OBS)), np.ones(BATCH), np.ones((BATCH, H))))

    result = {"peer": "jax", "version": jax.__version__, "jit": True,
              "backend": jax.default_backend()}

    # Full MVP update and QC update: one jitted graph each, state donated, RNG key advanced per step.
    for name, gen_loss, sample, params in (("mvp_update", mvp_loss, sample_mvp, actor),
                                           ("qc_update", fm_loss, sample_flow, flow)):
        upd = make_update(gen_loss, sample)
        state = [(jax.tree_util.tree_map(jnp.copy, params), jax.tree_util.tree_map(jnp.copy, critic),
                  jax.tree_util.tree_map(jnp.copy, target), adam_init(params), adam_init(critic))]
        keys = [jax.random.PRNGKey(1)]

        def step():
            keys[0], k = jax.random.split(keys[0])
            state[0], losses = upd(state[0], batch, k)
            jax.block_until_ready(losses)
        times = time_loop(step)
        result[name + "_steps_per_s"] = summarize_rate(times)
        result[name + "_iters"] = len(times)
        result[name + "_cpu_ms"] = times.cpu_ms

    # Generator-only updates (loss + Adam): the cost of the JVP-based MVP loss vs plain flow matching.
    for name, gen_loss, params in (("mvp_actor_update", mvp_loss, actor), ("fm_actor_update", fm_loss, flow)):
        upd = make_actor_only(gen_loss)
        st = [jax.tree_util.tree_map(jnp.copy, params), adam_init(params)]
        keys = [jax.random.PRNGKey(2)]

        def step():
            keys[0], k = jax.random.split(keys[0])
            st[0], st[1], loss = upd(st[0], st[1], batch, k)
            jax.block_until_ready(loss)
        times = time_loop(step)
        result[name + "_steps_per_s"] = summarize_rate(times)
        result[name + "_cpu_ms"] = times.cpu_ms

    # Action decision at batch 1: one jitted call per action, noise drawn inside.
    @jax.jit
    def act(actor, critic, s, key):
        key, k = jax.random.split(key)
        eps = jax.random.normal(k, (N, CHUNK), jnp.float32)
        return select_best(sample_mvp, actor, critic, s, eps), key

    # A decision as an environment loop makes it (and as `mvp bench` times Agent.Act): the
    # observation comes from the host and the chunk goes back to it.
    s1 = np.asarray(batch[0][:1])
    akey = [jax.random.PRNGKey(3)]

    def decide():
        a, akey[0] = act(actor, critic, s1, akey[0])
        np.asarray(a)
    times = time_loop(decide, min_iters=200, warmup=20)
    result["act_median_ms"] = percentile(times, 50) * 1e3
    result["act_p99_ms"] = percentile(times, 99) * 1e3
    result["act_iters"] = len(times)
    result["act_cpu_ms"] = times.cpu_ms
    x = jnp.ones((8192, 512), jnp.float32)
    w = jnp.ones((512, 512), jnp.float32)
    mm = jax.jit(lambda x, w: (x @ w).sum())
    for rows, key in ((8192, "matmul_8192_gflops"), (32, "matmul_32_gflops")):
        xr = x[:rows]
        times = time_loop(lambda: jax.block_until_ready(mm(xr, w)), seconds=min(SECONDS, 2))
        result[key] = 2 * rows * 512 * 512 * summarize_rate(times) / 1e9
    result["peak_rss_mib"] = peak_rss_mib()
    result["loadavg1"] = (load_start + loadavg1()) / 2
    emit(result)


if __name__ == "__main__":
    main()
