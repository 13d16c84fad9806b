raise SystemExit("a numpy.py beside the notebook took over the import")
