challenge_optimizer_class = torch.optim.Adam
challenge_hyperparams = {"lr": 0.06, "betas": (0.9, 0.9)}
challenge_n_iters = steps_needed(challenge_optimizer_class, challenge_hyperparams) + 60   # the playground's helper
