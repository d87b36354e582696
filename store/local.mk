# store module: see store/local.mk owner
