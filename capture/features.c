/* features.c: being written */
