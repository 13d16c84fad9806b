
def gradient_descent_by_hand(fn, xy, lr, n_iters=100):
    """Rows collected in a list and stacked; the step written with .data."""
    point = xy.detach().clone()
    rows = []
    for _ in range(n_iters):
        rows.append(point.clone())
        point.requires_grad_(True)
        fn(point[0], point[1]).backward()
        point = (point - lr * point.grad).detach()
    return torch.stack(rows)
