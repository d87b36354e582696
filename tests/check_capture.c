/* Check runner for the capture module. */
#include <stdlib.h>

#include <check.h>

#include "tests/check-util.h"

int
main(void)
{
	SRunner *sr;
	int failed;

	sr = srunner_create(decode_suite());
	srunner_add_suite(sr, dns_suite());
	srunner_add_suite(sr, flowtab_suite());
	srunner_add_suite(sr, features_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
