/* hostctx.c: being written */
