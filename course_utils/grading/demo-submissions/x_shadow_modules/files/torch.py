raise SystemExit("a torch.py beside the notebook took over the import")
