"""scripts/flood's parts: the normal load, the hostile clients, the run and
its report."""
