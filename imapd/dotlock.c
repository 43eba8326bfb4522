/*
 * A dot-lock: "<file>.lock" made with O_CREAT|O_EXCL beside the file.
 * It holds "<pid>:<host>" as Dovecot's do, so that a lock left by a
 * dead process of this host is broken at once; any other lock is
 * broken once its mtime is older than the stale age (Dovecot uses two
 * minutes for dovecot-uidlist).  The holder may write the new contents
 * of the file into the lock file and rename it over the file: the
 * rewrite and the unlock are then one atomic step, as in Dovecot.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "dotlock.h"

#define POLL_MS		20

/* The lock's owner is a process of this host that no longer runs. */
static int
owner_dead(int at, const char *lock)
{
	char	 buf[256], host[128], *colon, *end;
	ssize_t	 n;
	long	 pid;
	int	 fd;

	if ((fd = openat(at, lock, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	if ((colon = strchr(buf, ':')) == NULL)
		return 0;
	*colon = '\0';
	pid = strtol(buf, &end, 10);
	if (*end != '\0' || pid <= 0 || gethostname(host, sizeof(host)) == -1)
		return 0;
	host[sizeof(host) - 1] = '\0';
	if (strcmp(colon + 1, host) != 0)
		return 0;
	return kill((pid_t)pid, 0) == -1 && errno == ESRCH;
}

/* Break the lock if it is stale; 1 if it was removed. */
static int
break_stale(int at, const char *lock, int stale)
{
	struct stat	 st;

	if (fstatat(at, lock, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return errno == ENOENT;
	if (st.st_mtime + stale > time(NULL) && !owner_dead(at, lock))
		return 0;
	return unlinkat(at, lock, 0) == 0 || errno == ENOENT;
}

static int
try_create(struct dotlock *l)
{
	char	 host[128], buf[192];
	int	 n;

	l->fd = openat(l->at, l->lock, O_WRONLY | O_CREAT | O_EXCL |
	    O_NOFOLLOW | O_CLOEXEC, 0600);
	if (l->fd == -1)
		return -1;
	if (gethostname(host, sizeof(host)) == -1)
		strlcpy(host, "localhost", sizeof(host));
	host[sizeof(host) - 1] = '\0';
	n = snprintf(buf, sizeof(buf), "%ld:%s", (long)getpid(), host);
	/* The owner mark is only a hint: a failed write is no error. */
	if (n > 0 && (size_t)n < sizeof(buf))
		(void)write_all(l->fd, buf, n);
	return 0;
}

/*
 * Take the lock on file below at, waiting up to wait seconds: 0, or -1
 * with errno (EWOULDBLOCK when another holder kept it).
 */
int
dotlock_take(int at, const char *file, int stale, int wait,
    struct dotlock *l)
{
	struct timespec	 ts = { 0, POLL_MS * 1000000L };
	time_t		 deadline = time(NULL) + wait;
	int		 n;

	l->at = at;
	l->fd = -1;
	n = snprintf(l->lock, sizeof(l->lock), "%s.lock", file);
	if (n < 0 || (size_t)n >= sizeof(l->lock) ||
	    strlcpy(l->file, file, sizeof(l->file)) >= sizeof(l->file)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (;;) {
		if (try_create(l) == 0)
			return 0;
		if (errno != EEXIST)
			return -1;
		if (break_stale(at, l->lock, stale))
			continue;
		if (time(NULL) >= deadline) {
			errno = EWOULDBLOCK;
			return -1;
		}
		nanosleep(&ts, NULL);
	}
}

/*
 * The lock file becomes the file with contents buf: written, fsynced,
 * renamed over the file.  The lock is released either way.
 */
int
dotlock_replace(struct dotlock *l, const void *buf, size_t len)
{
	struct stat	 st;
	mode_t		 mode = 0600;
	int		 rv = 0, saved;

	/* As Dovecot: the file gets its directory's modes (0755: 0644). */
	if (fstat(l->at, &st) == 0)
		mode = (st.st_mode & 0666) | 0600;
	if (ftruncate(l->fd, 0) == -1 || lseek(l->fd, 0, SEEK_SET) == -1 ||
	    write_all(l->fd, buf, len) == -1 || fsync(l->fd) == -1 ||
	    fchmod(l->fd, mode) == -1 ||
	    renameat(l->at, l->lock, l->at, l->file) == -1)
		rv = -1;
	saved = errno;
	close(l->fd);
	l->fd = -1;
	if (rv == -1)
		unlinkat(l->at, l->lock, 0);
	errno = saved;
	return rv;
}

void
dotlock_release(struct dotlock *l)
{
	int	 saved = errno;

	if (l->fd == -1)
		return;
	close(l->fd);
	l->fd = -1;
	unlinkat(l->at, l->lock, 0);
	errno = saved;
}
