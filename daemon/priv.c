/* Dropping root after start-up. */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include "daemon/daemon.h"

/* Switch to user for good; see daemon.h. */
void
priv_drop(const char *user, const char *const *chown_paths)
{
	struct passwd *pw;
	size_t i;

	if (geteuid() != 0 || user == NULL || *user == '\0')
		return;
	if ((pw = getpwnam(user)) == NULL)
		fatalx("privileges: user \"%s\" does not exist; create it or "
		       "set user = \"\" to stay root",
		    user);
	for (i = 0; chown_paths != NULL && chown_paths[i] != NULL; i++)
		if (chown(chown_paths[i], pw->pw_uid, pw->pw_gid) == -1 &&
		    errno != ENOENT)
			fatal("privileges: chown %s", chown_paths[i]);
	if (setgroups(1, &pw->pw_gid) == -1)
		fatal("privileges: setgroups");
	if (setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) == -1)
		fatal("privileges: setresgid %u", (unsigned)pw->pw_gid);
	if (setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1)
		fatal("privileges: setresuid %u", (unsigned)pw->pw_uid);
	if (pw->pw_uid != 0 && (setuid(0) == 0 || seteuid(0) == 0))
		fatalx(
		    "privileges: could regain root after dropping to %s", user);
	log_info(
	    "privileges: running as %s (uid %u)", user, (unsigned)pw->pw_uid);
}
