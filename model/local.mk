# model module: see model/local.mk owner
