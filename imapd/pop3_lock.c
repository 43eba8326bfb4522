/*
 * The POP3 session lock: one POP3 session at a time on a mailbox, as
 * Dovecot's pop3_lock_session does it (RFC 2449 [IN-USE] for the next
 * one), so that two clients never both download and delete.  The lock
 * is "dovecot-pop3-session.lock" in the INBOX with flock(2) on it: the
 * kernel frees it when a session dies, so a crash leaves no lock
 * behind; the file is removed at the end of the session.
 */

#include <sys/types.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "log.h"
#include "pop3_lock.h"

#define POP3_LOCK_NAME	"dovecot-pop3-session.lock"

/* The lock fd, -1 with errno EWOULDBLOCK when another session has it. */
int
pop3_lock_take(int md)
{
	struct stat	 a, b;
	int		 fd;

	for (;;) {
		if ((fd = openat(md, POP3_LOCK_NAME, O_RDWR | O_CREAT |
		    O_NOFOLLOW | O_CLOEXEC, 0600)) == -1)
			return -1;
		if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
			close(fd);
			if (errno == EINTR)
				continue;
			return -1;
		}
		/*
		 * The holder before us may have removed the file between
		 * our open and our flock: then ours is no lock at all.
		 */
		if (fstat(fd, &a) == 0 && fstatat(md, POP3_LOCK_NAME, &b,
		    AT_SYMLINK_NOFOLLOW) == 0 && a.st_ino == b.st_ino &&
		    a.st_dev == b.st_dev)
			return fd;
		close(fd);
	}
}

void
pop3_lock_release(int md, int fd)
{
	if (fd == -1)
		return;
	if (unlinkat(md, POP3_LOCK_NAME, 0) == -1 && errno != ENOENT)
		log_warn("unlink %s", POP3_LOCK_NAME);
	close(fd);
}
