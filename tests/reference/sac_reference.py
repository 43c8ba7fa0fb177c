"""An independent soft actor-critic update in plain PyTorch, for tests/sac.rs.

Reads the networks, a batch and the noises from IN (safetensors; its metadata holds alpha,
gamma, tau, lr and the number of updates), runs the updates and writes every parameter after
each update and each update's losses to OUT. The networks are written out here as functions
of their weights (torch.nn.functional.linear, torch.distributions.Normal), not taken from
autogan: twin Q networks of three layers, a policy of two hidden layers with one mean and one
log-std layer per action head, squashed by tanh.
"""
import math
import sys

import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import save_file

inp, out = sys.argv[1], sys.argv[2]
with safe_open(inp, "pt") as f:
    meta = f.metadata()
    t = {k: f.get_tensor(k) for k in f.keys()}
alpha, gamma, tau, lr = (float(meta[k]) for k in ("alpha", "gamma", "tau", "lr"))
updates, heads = int(meta["updates"]), int(meta["heads"])
torch.set_num_threads(1)

P = {k[len("policy."):]: v.clone().requires_grad_(True) for k, v in t.items() if k.startswith("policy.")}
C = {k[len("critic."):]: v.clone().requires_grad_(True) for k, v in t.items() if k.startswith("critic.")}
T = {k[len("target."):]: v.clone() for k, v in t.items() if k.startswith("target.")}


def lin(w, name, x):
    return F.linear(x, w[name + ".weight"], w[name + ".bias"])


def sample(state, eps):
    x = torch.relu(lin(P, "l2", torch.relu(lin(P, "l1", state))))
    mean = torch.cat([lin(P, f"mean{k}", x) for k in range(heads)], 1)
    log_std = torch.cat([lin(P, f"log_std{k}", x) for k in range(heads)], 1).clamp(-20, 2)
    normal = torch.distributions.Normal(mean, log_std.exp())
    xt = mean + log_std.exp() * eps
    a = torch.tanh(xt)
    logp = normal.log_prob(xt) - torch.log(1 - a.pow(2) + 1e-6)
    return a, logp.sum(1, keepdim=True)


def q(w, state, action):
    x = torch.cat([state, action], 1)
    run = lambda n: lin(w, f"{n}.l3", torch.relu(lin(w, f"{n}.l2", torch.relu(lin(w, f"{n}.l1", x)))))
    return run("q1"), run("q2")


popt = torch.optim.Adam(list(P.values()), lr=lr)
copt = torch.optim.Adam(list(C.values()), lr=lr)
s, a, r, ns, m = t["b.state"], t["b.action"], t["b.reward"], t["b.next_state"], t["b.mask"]
res = {}
for u in range(updates):
    with torch.no_grad():
        a2, lp2 = sample(ns, t[f"eps_next.{u}"])
        t1, t2 = q(T, ns, a2)
        y = r + m * gamma * (torch.min(t1, t2) - alpha * lp2)
    q1, q2 = q(C, s, a)
    l1, l2 = F.mse_loss(q1, y), F.mse_loss(q2, y)
    copt.zero_grad()
    (l1 + l2).backward()
    copt.step()
    api, lp = sample(s, t[f"eps_pi.{u}"])
    p1, p2 = q(C, s, api)
    lpi = (alpha * lp - torch.min(p1, p2)).mean()
    popt.zero_grad()
    lpi.backward()
    popt.step()
    with torch.no_grad():
        for k in T:
            T[k] = T[k] * (1 - tau) + C[k] * tau
    res[f"loss.{u}"] = torch.stack([l1, l2, lpi]).detach()
    for name, w in (("policy", P), ("critic", C), ("target", T)):
        for k, v in w.items():
            res[f"{u}.{name}.{k}"] = v.detach().clone().contiguous()
save_file(res, out)
