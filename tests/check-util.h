/* Small helpers shared by the Check programs. */
#ifndef ANOMD_CHECK_UTIL_H
#define ANOMD_CHECK_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <check.h>

/*
 * The folder with the shared captures, or NULL (with a message saying why
 * the caller skips) when it is absent.
 */
static inline const char *
check_shared_pcaps(void)
{
	static char path[4096];
	const char *base = getenv("ANOMD_SHARED_DATA");
	struct stat st;

	if (base == NULL)
		base = "../shared/data";
	snprintf(path, sizeof(path), "%s/pcaps", base);
	if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "skip: %s not found\n", path);
		return NULL;
	}
	return path;
}

/* A path below the source tree. */
static inline const char *
check_srcdir_path(const char *rel)
{
	static char path[4096];
	const char *top = getenv("ANOMD_TOP_SRCDIR");

	snprintf(path, sizeof(path), "%s/%s", top ? top : ".", rel);
	return path;
}

Suite *decode_suite(void);
Suite *dns_suite(void);
Suite *flowtab_suite(void);
Suite *features_suite(void);

#endif
