/*
 * Mailboxes on disk for tsambactl: create a user's Maildir and remove
 * it again, through lib/maildir, always in a child process running as
 * the mailbox owner (user vmail; the invoking user when not root).
 * Working as that user rather than as root means a link planted in the
 * mail root can never make tsambactl create or delete anything the
 * owner could not; no symbolic link is followed below the mail root.
 */

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "ctl.h"
#include "maildir.h"

#define DIR_FLAGS	(O_RDONLY | O_DIRECTORY | O_CLOEXEC)

/* Exit codes of the child. */
#define CHILD_CREATED	0
#define CHILD_EXISTED	1
#define CHILD_FAILED	2

/* 0 if local and domain make a safe path "domain/local" below the root. */
int
ctl_maildir_name_ok(const char *domain, const char *local)
{
	char	 path[PATH_MAX];

	/* A domain directory never looks like a hidden file or a folder. */
	if (strchr(domain, '/') != NULL || strchr(local, '/') != NULL ||
	    *domain == '.' || (size_t)snprintf(path, sizeof(path), "%s/%s",
	    domain, local) >= sizeof(path) || !maildir_path_ok(path))
		return -1;
	return 0;
}

static int
become_owner(const struct conf *conf)
{
	struct passwd	*pw;
	uid_t		 uid;
	gid_t		 gid;

	if (geteuid() != 0)
		return 0;
	if ((pw = getpwnam(conf->user_vmail)) == NULL) {
		ctl_warnx("mailbox owner user %s does not exist",
		    conf->user_vmail);
		return -1;
	}
	uid = pw->pw_uid;
	gid = pw->pw_gid;
	if (setgroups(1, &gid) == -1 || setresgid(gid, gid, gid) == -1 ||
	    setresuid(uid, uid, uid) == -1) {
		ctl_warn("cannot become %s", conf->user_vmail);
		return -1;
	}
	if (uid != 0 && setuid(0) != -1) {
		ctl_warnx("could regain root after dropping to %s",
		    conf->user_vmail);
		return -1;
	}
	return 0;
}

/* Run fn as the mailbox owner; its exit code, or CHILD_FAILED. */
static int
as_owner(const struct conf *conf, int (*fn)(const struct conf *,
    const char *, const char *), const char *domain, const char *local)
{
	pid_t	 pid;
	int	 status;

	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) == -1) {
		ctl_warn("fork");
		return CHILD_FAILED;
	}
	if (pid == 0) {
		umask(077);
		if (become_owner(conf) == -1)
			_exit(CHILD_FAILED);
		_exit(fn(conf, domain, local));
	}
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR) {
			ctl_warn("waitpid");
			return CHILD_FAILED;
		}
	if (!WIFEXITED(status))
		return CHILD_FAILED;
	return WEXITSTATUS(status);
}

static int
create_child(const struct conf *conf, const char *domain, const char *local)
{
	char	 path[PATH_MAX];
	int	 root, md, r;

	if ((root = open(conf->mailroot, DIR_FLAGS)) == -1) {
		ctl_warn("mail root %s", conf->mailroot);
		return CHILD_FAILED;
	}
	snprintf(path, sizeof(path), "%s/%s", domain, local);
	if ((r = maildir_create(root, path, MAILDIR_NOFOLLOW)) == -1) {
		ctl_warn("cannot create the Maildir %s/%s", conf->mailroot,
		    path);
		return CHILD_FAILED;
	}
	/* A Maildir taken over may hold what a dead writer left in tmp/. */
	if (r == MAILDIR_EXISTED &&
	    (md = openat(root, path, DIR_FLAGS | O_NOFOLLOW)) != -1) {
		if (maildir_tmp_clean(md, time(NULL)) == -1)
			ctl_warn("cannot clean %s/%s/tmp", conf->mailroot,
			    path);
		close(md);
	}
	return r == MAILDIR_CREATED ? CHILD_CREATED : CHILD_EXISTED;
}

int
ctl_maildir_create(const struct conf *conf, const char *domain,
    const char *local)
{
	switch (as_owner(conf, create_child, domain, local)) {
	case CHILD_CREATED:
		return MAILDIR_CREATED;
	case CHILD_EXISTED:
		return MAILDIR_EXISTED;
	default:
		return -1;
	}
}

static int
remove_child(const struct conf *conf, const char *domain, const char *local)
{
	char	 path[PATH_MAX];
	int	 root, ddir = -1;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s/%s", conf->mailroot,
	    domain, local) >= sizeof(path))
		strlcpy(path, local, sizeof(path));
	if ((root = open(conf->mailroot, DIR_FLAGS)) != -1)
		ddir = openat(root, domain, DIR_FLAGS | O_NOFOLLOW);
	if (ddir == -1) {
		if (errno == ENOENT)
			return CHILD_CREATED;
		ctl_warn("cannot remove %s", path);
		return CHILD_FAILED;
	}
	if (maildir_remove(ddir, local) == -1 && errno != ENOENT) {
		ctl_warn("cannot remove %s", path);
		return CHILD_FAILED;
	}
	return CHILD_CREATED;
}

int
ctl_maildir_remove(const struct conf *conf, const char *domain,
    const char *local)
{
	return as_owner(conf, remove_child, domain, local) == CHILD_CREATED ?
	    0 : -1;
}
