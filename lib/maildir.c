/*
 * Maildir on disk: create a Maildir or a folder so that a crash cannot
 * lose it, deliver a message so that a reader never sees half of it,
 * remove a tree, and clean what a killed writer left in tmp/.
 *
 * A delivery is the Maildir protocol: a unique file in tmp/, written
 * and fsynced, then linked into new/ (or cur/ with flags) and the
 * directory fsynced before anyone is told it is there.  link(2) rather
 * than rename(2): it never replaces an existing message.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "maildir.h"

#define DIR_FLAGS	(O_RDONLY | O_DIRECTORY | O_CLOEXEC)
#define REMOVE_DEPTH	32	/* Maildir++ trees are two levels deep */

static const char	*subdirs[] = { "cur", "new", "tmp" };
#define NSUBDIRS	(sizeof(subdirs) / sizeof(subdirs[0]))

/* mkdir, mode 0700, the parent synced: 1 made now, 0 was there, -1. */
static int
make_dir(int at, const char *name)
{
	if (mkdirat(at, name, 0700) == -1)
		return errno == EEXIST ? 0 : -1;
	/* A new directory is only durable once its parent is synced. */
	return fsync(at) == -1 ? -1 : 1;
}

/* cur/ new/ tmp/ in the open directory md; made[i] says what is new. */
static int
make_subdirs(int md, int made[NSUBDIRS])
{
	size_t	 i;
	int	 any = 0;

	for (i = 0; i < NSUBDIRS; i++) {
		if (mkdirat(md, subdirs[i], 0700) == 0)
			made[i] = any = 1;
		else if (errno != EEXIST)
			return -1;
	}
	return any && fsync(md) == -1 ? -1 : 0;
}

/* Remove path and its parents down to offset first: what we made. */
static void
undo_made(int at, char *path, size_t first)
{
	char	*s;

	for (;;) {
		unlinkat(at, path, AT_REMOVEDIR);
		if ((s = strrchr(path, '/')) == NULL || (size_t)(s - path) <
		    first)
			break;
		*s = '\0';
	}
}

/*
 * mkdir -p path below at, then its cur/ new/ tmp/; every directory
 * made is fsynced into its parent.  On failure nothing this call made
 * is left.  MAILDIR_CREATED if the Maildir itself was made now,
 * MAILDIR_EXISTED if it was there (it is completed), -1.
 */
int
maildir_create(int at, const char *path, int flags)
{
	char	 p[PATH_MAX], *c, *s;
	size_t	 len, first = 0, i;
	int	 dfd, nfd, r = 0, any = 0, saved, made_sub[NSUBDIRS] = { 0 };
	int	 oflags = DIR_FLAGS;

	if (flags & MAILDIR_NOFOLLOW)
		oflags |= O_NOFOLLOW;
	if ((len = strlcpy(p, path, sizeof(p))) >= sizeof(p)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	while (len > 1 && p[len - 1] == '/')
		p[--len] = '\0';
	if ((dfd = openat(at, ".", DIR_FLAGS)) == -1)
		return -1;
	for (c = p; ; c = s + 1) {
		if ((s = strchr(c, '/')) != NULL)
			*s = '\0';
		if (*c != '\0') {
			if ((r = make_dir(dfd, c)) == -1)
				goto fail;
			if (r == 1 && !any) {
				any = 1;
				first = c - p;
			}
			nfd = openat(dfd, c, oflags);
			close(dfd);
			if ((dfd = nfd) == -1)
				goto fail;
		}
		if (s == NULL)
			break;
		*s = '/';
	}
	if (make_subdirs(dfd, made_sub) == -1)
		goto fail;
	close(dfd);
	return r == 1 ? MAILDIR_CREATED : MAILDIR_EXISTED;

 fail:
	saved = errno;
	if (s != NULL)
		*s = '/';
	for (i = 0; dfd != -1 && i < NSUBDIRS; i++)
		if (made_sub[i])
			unlinkat(dfd, subdirs[i], AT_REMOVEDIR);
	if (dfd != -1)
		close(dfd);
	if (any)
		undo_made(at, p, first);
	errno = saved;
	return -1;
}

/*
 * A Maildir++ folder (dir as maildir_folder_dir() gives it, ".Sent")
 * in the open Maildir md, with the maildirfolder file that tells a
 * delivery agent it is a folder.  As maildir_create().
 */
int
maildir_folder_create(int md, const char *dir)
{
	char	 name[NAME_MAX + 1], path[PATH_MAX];
	int	 r, fd, saved;

	if (maildir_folder_name(dir, '.', name, sizeof(name)) == -1 ||
	    dir[0] != '.') {
		errno = EINVAL;
		return -1;
	}
	if ((r = maildir_create(md, dir, MAILDIR_NOFOLLOW)) == -1)
		return -1;
	snprintf(path, sizeof(path), "%s/maildirfolder", dir);
	if ((fd = openat(md, path, O_WRONLY | O_CREAT | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1)
		goto fail;
	close(fd);
	if (fsync_dir_at(md, dir) == -1)
		goto fail;
	return r;
 fail:
	saved = errno;
	if (r == MAILDIR_CREATED)
		maildir_remove(md, dir);
	errno = saved;
	return -1;
}

int
maildir_open(int at, const char *path)
{
	return openat(at, path, DIR_FLAGS);
}

static int
remove_tree(int at, const char *name, int depth)
{
	DIR		*d;
	struct dirent	*de;
	int		 rv = 0;

	/* A file or a symbolic link goes; a link is never followed. */
	if (unlinkat(at, name, 0) == 0)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -1;
	if (depth > REMOVE_DEPTH) {
		errno = ELOOP;
		return -1;
	}
	if ((d = opendir_at(at, name)) == NULL)
		return -1;
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

/* Remove path below at and all in it, following no link; 0 or -1. */
int
maildir_remove(int at, const char *path)
{
	return remove_tree(at, path, 0);
}

/* A new file in tmp/ with a unique name, open for writing. */
int
maildir_tmp_open(int md, struct maildir_uniq *u, struct maildir_tmp *t)
{
	char	 path[MAILDIR_NAME_MAX + 8];
	int	 tries;

	t->fd = -1;
	t->size = t->lines = 0;
	t->cr = 0;
	/* The name is unique by rule; EEXIST means a clock step back. */
	for (tries = 0; tries < 3; tries++) {
		if (maildir_uniq_next(u, t->base, sizeof(t->base)) == -1)
			return -1;
		snprintf(path, sizeof(path), "tmp/%s", t->base);
		t->fd = openat(md, path, O_WRONLY | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_CLOEXEC, 0600);
		if (t->fd != -1 || errno != EEXIST)
			break;
	}
	return t->fd == -1 ? -1 : 0;
}

/*
 * Append to the message, counting the LFs that become CRLF for the
 * CRLF size (W=): all of them in a file with LF line ends, none in one
 * kept with CRLF (an IMAP APPEND of a literal8).
 */
int
maildir_tmp_write(struct maildir_tmp *t, const void *buf, size_t len)
{
	const char	*p = buf, *end = p + len;

	if (len == 0)
		return 0;
	if (write_all(t->fd, buf, len) == -1)
		return -1;
	while ((p = memchr(p, '\n', end - p)) != NULL) {
		if (p == buf ? !t->cr : p[-1] != '\r')
			t->lines++;
		p++;
	}
	t->cr = end[-1] == '\r';
	t->size += len;
	return 0;
}

/*
 * Publish the message: fsync, then link it as <base>,S=<size>,W=<vsize>
 * into new/, or into cur/ with ":2,<flags>" when flags is not NULL (an
 * IMAP APPEND), and fsync that directory.  name gets the final file
 * name.  On failure the file in tmp/ is gone too.
 */
int
maildir_tmp_commit(int md, struct maildir_tmp *t,
    const struct maildir_flags *flags, char *name, size_t namesz)
{
	char	 tmp[MAILDIR_NAME_MAX + 8], dst[MAILDIR_NAME_MAX + 8];
	char	 info[64] = "";
	int	 n, saved;

	snprintf(tmp, sizeof(tmp), "tmp/%s", t->base);
	if (fsync(t->fd) == -1)
		goto fail;
	n = close(t->fd);
	t->fd = -1;
	if (n == -1)
		goto fail;
	if (flags != NULL &&
	    maildir_flags_format(flags, info, sizeof(info)) == -1)
		goto fail;
	n = snprintf(name, namesz, "%s,S=%zu,W=%zu%s", t->base, t->size,
	    t->size + t->lines, info);
	if (n < 0 || (size_t)n >= namesz || n > NAME_MAX) {
		errno = ENAMETOOLONG;
		goto fail;
	}
	snprintf(dst, sizeof(dst), "%s/%s", flags != NULL ? "cur" : "new",
	    name);
	if (linkat(md, tmp, md, dst, 0) == -1)
		goto fail;
	unlinkat(md, tmp, 0);
	return fsync_dir_at(md, flags != NULL ? "cur" : "new");

 fail:
	saved = errno;
	unlinkat(md, tmp, 0);
	errno = saved;
	return -1;
}

/* Give up on a message being written: nothing stays in tmp/. */
void
maildir_tmp_abort(int md, struct maildir_tmp *t)
{
	char	 tmp[MAILDIR_NAME_MAX + 8];
	int	 saved = errno;

	if (t->fd != -1)
		close(t->fd);
	t->fd = -1;
	snprintf(tmp, sizeof(tmp), "tmp/%s", t->base);
	unlinkat(md, tmp, 0);
	errno = saved;
}

/*
 * The Maildir rule: a file in tmp/ not accessed for 36 hours belongs to
 * a writer that died, and is removed.  Both the access and the change
 * of contents must be that old: a file system mounted noatime keeps
 * the creation time as atime, and a writer still filling a file keeps
 * its mtime fresh.  The number of files removed, or -1.
 */
int
maildir_tmp_clean(int md, time_t now)
{
	struct stat	 st;
	struct dirent	*de;
	DIR		*d;
	time_t		 cutoff = now - MAILDIR_TMP_STALE;
	int		 removed = 0;

	if ((d = opendir_at(md, "tmp")) == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) == -1 || S_ISDIR(st.st_mode))
			continue;
		if (st.st_atime >= cutoff || st.st_mtime >= cutoff)
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) == 0)
			removed++;
	}
	closedir(d);
	return removed;
}

/*
 * Give a message new flags: rename "cur/x:2,S" or "new/x" (from, with
 * its directory) to "cur/x:2,<flags>".  name gets the new file name.
 * ENOENT means another process renamed or removed it first: the caller
 * finds its new name and tries again.  A message already carrying these
 * flags in cur/ is left alone.
 */
int
maildir_rename_flags(int md, const char *from,
    const struct maildir_flags *f, char *name, size_t namesz)
{
	char		 to[MAILDIR_NAME_MAX + 8];
	const char	*base;

	if (strncmp(from, "cur/", 4) != 0 && strncmp(from, "new/", 4) != 0) {
		errno = EINVAL;
		return -1;
	}
	base = from + 4;
	if (maildir_name_set_flags(base, f, name, namesz) == -1)
		return -1;
	if (strlen(name) > NAME_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	snprintf(to, sizeof(to), "cur/%s", name);
	if (strcmp(from, to) == 0)
		return faccessat(md, from, F_OK, AT_SYMLINK_NOFOLLOW);
	return renameat(md, from, md, to);
}
