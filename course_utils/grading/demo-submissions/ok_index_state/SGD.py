
class SGD:
    """Momentum buffers in a list indexed like the parameters; functional-style arithmetic."""

    def __init__(self, params, lr=1e-3, momentum=0.0, weight_decay=0.0, nesterov=False):
        for name, value in (("learning rate", lr), ("momentum value", momentum), ("weight_decay value", weight_decay)):
            if value < 0:
                raise ValueError(f"Invalid {name}: {value}")
        if nesterov and not momentum > 0:
            raise ValueError("nesterov=True needs momentum > 0")
        self.params = list(params)
        self.lr, self.momentum, self.weight_decay, self.nesterov = lr, momentum, weight_decay, nesterov
        self.buffers = [None] * len(self.params)

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    def step(self):
        with torch.no_grad():
            for i, p in enumerate(self.params):
                if p.grad is None:
                    continue
                d_p = p.grad + self.weight_decay * p if self.weight_decay else p.grad
                if self.momentum:
                    if self.buffers[i] is None:
                        self.buffers[i] = d_p.detach().clone()
                    else:
                        self.buffers[i] = self.momentum * self.buffers[i] + d_p
                    d_p = d_p + self.momentum * self.buffers[i] if self.nesterov else self.buffers[i]
                p.sub_(self.lr * d_p)
