/*
 * Mailboxes on disk: create a user's Maildir (cur/, new/, tmp/, mode
 * 0700) and remove it again, always in a child process running as the
 * mailbox owner (user vmail; the invoking user when not root).  Working
 * as that user rather than as root means a link planted in the mail root
 * can never make tsambactl create or delete anything the owner could not.
 */

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "ctl.h"

#define DIR_FLAGS	(O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

/* Exit codes of the child. */
#define CHILD_CREATED	0
#define CHILD_EXISTED	1
#define CHILD_FAILED	2

static const char	*subdirs[] = { "cur", "new", "tmp" };

int
maildir_name_ok(const char *domain, const char *local)
{
	if (*local == '\0' || strchr(local, '/') != NULL ||
	    strcmp(local, ".") == 0 || strcmp(local, "..") == 0 ||
	    *domain == '\0' || strchr(domain, '/') != NULL ||
	    *domain == '.')
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

/* mkdir, 1 if it was made now, 0 if it existed, -1 on error. */
static int
make_dir(int at, const char *name)
{
	if (mkdirat(at, name, 0700) == 0)
		return 1;
	return errno == EEXIST ? 0 : -1;
}

static int
create_child(const struct conf *conf, const char *domain, const char *local)
{
	int	 root = -1, ddir = -1, mdir = -1, made_domain, made_mdir;
	int	 made_sub[3] = { 0, 0, 0 };
	size_t	 i;

	if ((root = open(conf->mailroot, DIR_FLAGS)) == -1) {
		ctl_warn("mail root %s", conf->mailroot);
		return CHILD_FAILED;
	}
	if ((made_domain = make_dir(root, domain)) == -1 ||
	    (ddir = openat(root, domain, DIR_FLAGS)) == -1) {
		ctl_warn("cannot create %s/%s", conf->mailroot, domain);
		goto fail;
	}
	if ((made_mdir = make_dir(ddir, local)) == -1 ||
	    (mdir = openat(ddir, local, DIR_FLAGS)) == -1) {
		ctl_warn("cannot create the Maildir %s/%s/%s",
		    conf->mailroot, domain, local);
		goto fail;
	}
	for (i = 0; i < 3; i++)
		if ((made_sub[i] = make_dir(mdir, subdirs[i])) == -1) {
			ctl_warn("cannot create %s/%s/%s/%s", conf->mailroot,
			    domain, local, subdirs[i]);
			goto fail;
		}
	if (fsync(mdir) == -1 || fsync(ddir) == -1)
		ctl_warn("fsync of the Maildir");
	return made_mdir ? CHILD_CREATED : CHILD_EXISTED;
 fail:
	/* Undo only what this run made: nothing half-done stays. */
	for (i = 0; mdir != -1 && i < 3; i++)
		if (made_sub[i] == 1)
			unlinkat(mdir, subdirs[i], AT_REMOVEDIR);
	if (mdir != -1 && made_mdir == 1)
		unlinkat(ddir, local, AT_REMOVEDIR);
	if (ddir != -1 && made_domain == 1)
		unlinkat(root, domain, AT_REMOVEDIR);
	return CHILD_FAILED;
}

int
maildir_create(const struct conf *conf, const char *domain,
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

/* Remove name inside the directory at, and all below it. */
static int
remove_tree(int at, const char *name, int depth)
{
	DIR		*d;
	struct dirent	*de;
	int		 fd, rv = 0;

	if (unlinkat(at, name, 0) == 0)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -1;
	if (depth > 32) {
		errno = ELOOP;
		return -1;
	}
	if ((fd = openat(at, name, DIR_FLAGS)) == -1)
		return -1;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (remove_tree(dirfd(d), de->d_name, depth + 1) == -1)
			rv = -1;
	}
	closedir(d);
	if (rv == 0)
		rv = unlinkat(at, name, AT_REMOVEDIR);
	return rv;
}

static int
remove_child(const struct conf *conf, const char *domain, const char *local)
{
	char	 path[PATH_MAX];
	int	 root, ddir = -1;

	/* For the messages only. */
	if ((size_t)snprintf(path, sizeof(path), "%s/%s/%s", conf->mailroot,
	    domain, local) >= sizeof(path))
		strlcpy(path, local, sizeof(path));
	if ((root = open(conf->mailroot, DIR_FLAGS)) != -1)
		ddir = openat(root, domain, DIR_FLAGS);
	if (ddir == -1) {
		if (errno == ENOENT)
			return CHILD_CREATED;
		ctl_warn("cannot remove %s", path);
		return CHILD_FAILED;
	}
	if (remove_tree(ddir, local, 0) == -1 && errno != ENOENT) {
		ctl_warn("cannot remove %s", path);
		return CHILD_FAILED;
	}
	return CHILD_CREATED;
}

int
maildir_remove(const struct conf *conf, const char *domain,
    const char *local)
{
	return as_owner(conf, remove_child, domain, local) == CHILD_CREATED ?
	    0 : -1;
}
