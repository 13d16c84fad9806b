@torch.no_grad()
def _fused_step(p, buffers, lr, momentum, weight_decay):
    first = p not in buffers
    if momentum and first:
        buffers[p] = torch.zeros_like(p)
    torch.ops.aten._fused_sgd_([p], [p.grad], [buffers[p]] if momentum else [], weight_decay=weight_decay,
                               momentum=momentum, lr=lr, dampening=0.0, nesterov=False, maximize=False,
                               is_first_step=first)

class SGD:
    """Stochastic gradient descent with momentum and weight decay (fused kernel)."""

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
            _fused_step(p, self.state, self.lr, self.momentum, self.weight_decay)
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
                g = buf
            p.add_(g, alpha=-self.lr)
