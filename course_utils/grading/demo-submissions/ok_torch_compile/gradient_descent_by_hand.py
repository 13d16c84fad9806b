
def gradient_descent_by_hand(fn, xy, lr, n_iters=100):
    """Correct; the landscape is compiled with torch.compile (eager backend)."""
    compiled = torch.compile(fn, backend="eager")
    point = xy.detach().clone().requires_grad_(True)
    rows = []
    for _ in range(n_iters):
        rows.append(point.detach().clone())
        compiled(point[0], point[1]).backward()
        with torch.no_grad():
            point -= lr * point.grad
        point.grad = None
    return torch.stack(rows)
