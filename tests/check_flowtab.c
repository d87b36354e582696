/* Tests of flowtab.c (placeholder until written). */
#include <check.h>

#include "tests/check-util.h"

Suite *
flowtab_suite(void)
{
	return suite_create("flowtab");
}
