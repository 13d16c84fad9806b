from tqdm import tqdm
def gradient_descent_by_hand(fn, xy, lr, n_iters=100):
    """Correct, with a progress bar on stderr."""
    
    point = xy.detach().clone().requires_grad_(True)
    rows = []
    for _ in tqdm(range(n_iters), desc="descending"):
        rows.append(point.detach().clone())
        fn(point[0], point[1]).backward()
        with torch.no_grad():
            point -= lr * point.grad
        point.grad = None
    return torch.stack(rows)
