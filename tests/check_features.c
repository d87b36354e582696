/* Tests of features.c (placeholder until written). */
#include <check.h>

#include "tests/check-util.h"

Suite *
features_suite(void)
{
	return suite_create("features");
}
