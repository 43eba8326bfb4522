/*
 * privdrop: the one way a tsamba process gives up root.  Every step is
 * checked and the result verified afterwards, because a process that
 * believes it dropped privileges but did not is worse than one that
 * stops.
 */

#include <sys/types.h>
#include <sys/prctl.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "privdrop.h"

static int	priv_is_root(const char *);
static void	priv_chroot(const char *);
static void	priv_setids(uid_t, gid_t);
static void	priv_verify(uid_t, gid_t, const char *);

int
priv_lookup(const char *user, uid_t *uid, gid_t *gid)
{
	struct passwd	*pw;

	errno = 0;
	if (user == NULL || *user == '\0' || (pw = getpwnam(user)) == NULL)
		return -1;
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return 0;
}

/*
 * Without root there is nothing to drop: say so once, since the process
 * then runs without the separation the design relies on.
 */
static int
priv_is_root(const char *procname)
{
	static int	 warned;

	if (geteuid() == 0)
		return 1;
	if (!warned)
		log_warnx("%s: running as uid %d without privilege "
		    "separation: not started as root", procname,
		    (int)getuid());
	warned = 1;
	return 0;
}

static void
priv_chroot(const char *root)
{
	if (root == NULL || *root == '\0')
		return;
	if (chroot(root) == -1)
		fatal("chroot %s", root);
	if (chdir("/") == -1)
		fatal("chdir / in %s", root);
}

static void
priv_setids(uid_t uid, gid_t gid)
{
	if (setgroups(1, &gid) == -1)
		fatal("setgroups %d", (int)gid);
	if (setresgid(gid, gid, gid) == -1)
		fatal("setresgid %d", (int)gid);
	if (setresuid(uid, uid, uid) == -1)
		fatal("setresuid %d", (int)uid);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		fatal("prctl PR_SET_NO_NEW_PRIVS");
}

/* Trust nothing: check the kernel's view after the drop. */
static void
priv_verify(uid_t uid, gid_t gid, const char *procname)
{
	uid_t	 ruid, euid, suid;
	gid_t	 rgid, egid, sgid;

	if (uid != 0 && (setuid(0) != -1 || seteuid(0) != -1))
		fatalx("%s: could regain root after dropping privileges",
		    procname);
	if (getresuid(&ruid, &euid, &suid) == -1 ||
	    getresgid(&rgid, &egid, &sgid) == -1)
		fatal("%s: getresuid/getresgid", procname);
	if (ruid != uid || euid != uid || suid != uid)
		fatalx("%s: uid is %d/%d/%d, not %d", procname, (int)ruid,
		    (int)euid, (int)suid, (int)uid);
	if (rgid != gid || egid != gid || sgid != gid)
		fatalx("%s: gid is %d/%d/%d, not %d", procname, (int)rgid,
		    (int)egid, (int)sgid, (int)gid);
	if (getuid() != uid || geteuid() != uid || getgid() != gid ||
	    getegid() != gid)
		fatalx("%s: privilege drop did not take", procname);
}

void
priv_drop_ids(uid_t uid, gid_t gid, const char *root, const char *procname)
{
	if (!priv_is_root(procname))
		return;
	if (uid == 0)
		fatalx("%s: refusing to run as root", procname);
	priv_chroot(root);
	priv_setids(uid, gid);
	priv_verify(uid, gid, procname);
}

void
priv_drop(const char *user, const char *root, const char *procname)
{
	uid_t	 uid;
	gid_t	 gid;

	if (!priv_is_root(procname))
		return;
	if (priv_lookup(user, &uid, &gid) == -1)
		fatalx("%s: unknown user %s", procname,
		    user == NULL ? "(null)" : user);
	priv_drop_ids(uid, gid, root, procname);
}
