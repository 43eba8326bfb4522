/*
 * Unit tests for lib/privdrop.c.  As root, a child drops to "nobody"
 * inside a fresh directory and checks from the inside that it is that
 * user, cannot get root back and sees the directory as "/".  A second
 * child first becomes an ordinary user and checks that priv_drop() then
 * only warns and leaves it where it is.  Without root this is skipped.
 */

#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "privdrop.h"
#include "unit.h"

static int
child_status(pid_t pid)
{
	int	 status;

	if (waitpid(pid, &status, 0) == -1)
		return -1;
	if (!WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/* In the child: drop and look around. */
static void
drop_child(const char *dir, uid_t uid, gid_t gid)
{
	priv_drop("nobody", dir, "test");
	CHECK(getuid() == uid);
	CHECK(geteuid() == uid);
	CHECK(getgid() == gid);
	CHECK(getegid() == gid);
	CHECK(setuid(0) == -1);
	CHECK(seteuid(0) == -1);
	CHECK(setgid(0) == -1);
	CHECK(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1);
	CHECK(getgroups(0, NULL) <= 1);
	CHECK(access("/marker", F_OK) == 0);
	CHECK(access("/etc/passwd", F_OK) == -1);
	_exit(unit_failures != 0);
}

static void
drop_ids_child(const char *dir, uid_t uid, gid_t gid)
{
	priv_drop_ids(uid, gid, dir, "test");
	CHECK(getuid() == uid && geteuid() == uid);
	CHECK(getgid() == gid && getegid() == gid);
	CHECK(setuid(0) == -1);
	CHECK(access("/marker", F_OK) == 0);
	_exit(unit_failures != 0);
}

/* Already unprivileged: priv_drop() must warn and change nothing. */
static void
nonroot_child(const char *dir, uid_t uid, gid_t gid)
{
	char	 marker[PATH_MAX];

	if (setgroups(0, NULL) == -1 || setresgid(gid, gid, gid) == -1 ||
	    setresuid(uid, uid, uid) == -1)
		_exit(2);
	priv_drop("nobody", dir, "test");
	priv_drop("no-such-user-here", dir, "test");
	CHECK(getuid() == uid);
	snprintf(marker, sizeof(marker), "%s/marker", dir);
	CHECK(access(marker, F_OK) == 0);
	CHECK(access("/marker", F_OK) == -1);
	_exit(unit_failures != 0);
}

static void
test_lookup(void)
{
	uid_t	 uid;
	gid_t	 gid;

	CHECK(priv_lookup("root", &uid, &gid) == 0 && uid == 0 && gid == 0);
	CHECK(priv_lookup("no-such-user-here", &uid, &gid) == -1);
	CHECK(priv_lookup("", &uid, &gid) == -1);
}

int
main(void)
{
	char	 dir[] = "/tmp/tsamba-privdrop.XXXXXX";
	char	 marker[PATH_MAX];
	uid_t	 uid;
	gid_t	 gid;
	pid_t	 pid;
	int	 fd;

	log_init(1, "test_privdrop");
	test_lookup();
	if (geteuid() != 0) {
		printf("test_privdrop: not root, drop tests skipped\n");
		return unit_done("test_privdrop");
	}
	if (priv_lookup("nobody", &uid, &gid) == -1) {
		printf("test_privdrop: no user nobody, drop tests skipped\n");
		return unit_done("test_privdrop");
	}
	if (mkdtemp(dir) == NULL || chmod(dir, 0755) == -1)
		fatal("mkdtemp");
	snprintf(marker, sizeof(marker), "%s/marker", dir);
	if ((fd = open(marker, O_CREAT | O_WRONLY, 0644)) == -1)
		fatal("%s", marker);
	close(fd);
	fflush(stdout);

	if ((pid = fork()) == -1)
		fatal("fork");
	if (pid == 0)
		drop_child(dir, uid, gid);
	CHECK(child_status(pid) == 0);

	if ((pid = fork()) == -1)
		fatal("fork");
	if (pid == 0)
		drop_ids_child(dir, uid, gid);
	CHECK(child_status(pid) == 0);

	if ((pid = fork()) == -1)
		fatal("fork");
	if (pid == 0)
		nonroot_child(dir, uid, gid);
	CHECK(child_status(pid) == 0);

	/* An unknown user is fatal, never a silent stay as root. */
	if ((pid = fork()) == -1)
		fatal("fork");
	if (pid == 0) {
		priv_drop("no-such-user-here", dir, "test");
		_exit(0);
	}
	CHECK(child_status(pid) == 1);

	/* Dropping to root is refused. */
	if ((pid = fork()) == -1)
		fatal("fork");
	if (pid == 0) {
		priv_drop_ids(0, 0, "", "test");
		_exit(0);
	}
	CHECK(child_status(pid) == 1);

	unlink(marker);
	rmdir(dir);
	return unit_done("test_privdrop");
}
