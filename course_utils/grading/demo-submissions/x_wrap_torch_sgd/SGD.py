class SGD:
    def __init__(self, params, lr=1e-3, momentum=0.0, weight_decay=0.0):
        self._inner = torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
        self.params = self._inner.param_groups[0]["params"]
    def zero_grad(self):
        self._inner.zero_grad()
    def step(self):
        self._inner.step()
