/* dns.c: being written */
