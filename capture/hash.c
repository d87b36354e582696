/* hash.c: being written */
