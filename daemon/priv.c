/*
 * Dropping root after start-up.
 *
 * The service user can write in the state folder (that is its job), so
 * everything in it may have been replaced by a link since the last start.
 * Root therefore never follows a link there: a folder is opened with
 * O_NOFOLLOW | O_DIRECTORY and handed over with fchown, each file in it is
 * opened relative to that descriptor with O_NOFOLLOW and checked and
 * handed over through its own descriptor, so what is checked is what is
 * changed.  A link, a file that is not regular, or a file with a second
 * hard link is refused, and anomd does not start.  Under systemd anomd
 * starts as its user with StateDirectory= and RuntimeDirectory=, and
 * nothing is handed over at all.
 *
 * The switch keeps CAP_NET_RAW alone (libcap-ng), so that a capture lost
 * with its interface can be reopened, and sets PR_SET_NO_NEW_PRIVS.
 */
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cap-ng.h>

#include "daemon/daemon.h"

/* Set *cause to a formatted message; returns rc. */
static int __attribute__((format(printf, 3, 4)))
priv_err(char **cause, int rc, const char *fmt, ...)
{
	va_list ap;

	if (cause == NULL)
		return rc;
	va_start(ap, fmt);
	if (vasprintf(cause, fmt, ap) < 0)
		*cause = NULL;
	va_end(ap);
	return rc;
}

/* Look up the user to switch to; see daemon.h. */
int
priv_user(const char *user, uid_t *uid, gid_t *gid, char **cause)
{
	struct passwd *pw;

	if (geteuid() != 0 || user == NULL || *user == '\0')
		return 0;
	if ((pw = getpwnam(user)) == NULL)
		return priv_err(cause, -ENOENT,
		    "privileges: user \"%s\" does not exist; create it or "
		    "set user = \"\" to stay root",
		    user);
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return 1;
}

/* Hand the file name in folder dfd (shown as dir) to uid:gid. */
static int
handover_file(int dfd, const char *dir, const char *name, uid_t uid, gid_t gid,
    char **cause)
{
	struct stat st;
	int fd, rc = 0;

	fd = openat(dfd, name,
	    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd == -1 && errno == ENOENT)
		return 0;
	if (fd == -1 && errno == ELOOP)
		return priv_err(cause, -ELOOP,
		    "privileges: %s/%s is a symbolic link; refusing to hand it "
		    "over (remove it)",
		    dir, name);
	if (fd == -1)
		return priv_err(cause, -errno, "privileges: open %s/%s: %s",
		    dir, name, strerror(errno));
	if (fstat(fd, &st) == -1)
		rc = priv_err(cause, -errno, "privileges: stat %s/%s: %s", dir,
		    name, strerror(errno));
	else if (!S_ISREG(st.st_mode) || st.st_nlink != 1)
		rc = priv_err(cause, -EPERM,
		    "privileges: %s/%s is not a plain file with one link; "
		    "refusing to hand it over (remove it)",
		    dir, name);
	else if ((st.st_uid != uid || st.st_gid != gid) &&
	    fchown(fd, uid, gid) == -1)
		rc = priv_err(cause, -errno, "privileges: chown %s/%s: %s", dir,
		    name, strerror(errno));
	close(fd);
	return rc;
}

/* Hand a folder and files in it over without following links. */
int
priv_handover(const char *dir, int own_dir, const char *const *names, uid_t uid,
    gid_t gid, char **cause)
{
	struct stat st;
	size_t i;
	int dfd, rc = 0;

	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd == -1 && errno == ENOENT)
		return 0;
	if (dfd == -1 && (errno == ELOOP || errno == ENOTDIR))
		return priv_err(cause, -errno,
		    "privileges: %s is a symbolic link or not a folder; "
		    "refusing to hand it over",
		    dir);
	if (dfd == -1)
		return priv_err(cause, -errno, "privileges: open %s: %s", dir,
		    strerror(errno));
	if (own_dir && fstat(dfd, &st) == -1)
		rc = priv_err(cause, -errno, "privileges: stat %s: %s", dir,
		    strerror(errno));
	else if (own_dir && (st.st_uid != uid || st.st_gid != gid) &&
	    fchown(dfd, uid, gid) == -1)
		rc = priv_err(cause, -errno, "privileges: chown %s: %s", dir,
		    strerror(errno));
	for (i = 0; rc == 0 && names != NULL && names[i] != NULL; i++)
		rc = handover_file(dfd, dir, names[i], uid, gid, cause);
	close(dfd);
	return rc;
}

/* Switch to uid:gid for good, keeping CAP_NET_RAW; see daemon.h. */
void
priv_drop(const char *user, uid_t uid, gid_t gid)
{
	int rc;

	if (user != NULL) {
		capng_clear(CAPNG_SELECT_BOTH);
		if (capng_update(CAPNG_ADD,
			CAPNG_EFFECTIVE | CAPNG_PERMITTED | CAPNG_BOUNDING_SET,
			CAP_NET_RAW) != 0)
			fatalx("privileges: cannot keep CAP_NET_RAW");
		rc = capng_change_id((int)uid, (int)gid,
		    CAPNG_DROP_SUPP_GRP | CAPNG_CLEAR_BOUNDING);
		if (rc != 0)
			fatalx("privileges: switching to %s (uid %u) failed "
			       "(libcap-ng error %d)",
			    user, (unsigned)uid, rc);
		if (uid != 0 && (setuid(0) == 0 || seteuid(0) == 0))
			fatalx("privileges: could regain root after dropping "
			       "to %s",
			    user);
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		fatal("privileges: PR_SET_NO_NEW_PRIVS");
	if (user != NULL)
		log_info("privileges: running as %s (uid %u) with CAP_NET_RAW "
			 "only",
		    user, (unsigned)uid);
}
