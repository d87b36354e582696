/* flowtab.c: being written */
