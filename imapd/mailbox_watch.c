/*
 * Watching a selected mailbox for changes by others (lmtpd delivering
 * into new/, other sessions renaming in cur/, dovecot-uidlist being
 * replaced) with inotify(7), so IDLE reports them at once instead of
 * on its next poll.  The events only say "look again"; what changed is
 * found by mailbox_sync() as always.
 */

#include <sys/inotify.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <unistd.h>

#include "log.h"
#include "mailbox.h"
#include "mailbox_watch.h"

#define WATCH_MASK	(IN_CREATE | IN_DELETE | IN_MOVED_FROM | \
			    IN_MOVED_TO | IN_CLOSE_WRITE | IN_ATTRIB)

/*
 * The folder's new/, cur/ and the folder itself (dovecot-uidlist is
 * renamed into it).  inotify wants paths: the mail process may be
 * chrooted with no /proc, so we step into the folder and back out.
 */
int
mailbox_watch_open(const struct mailbox *mb, int home)
{
	static const char	*dirs[] = { ".", "new", "cur" };
	size_t			 i;
	int			 fd;

	if ((fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1) {
		log_warn("inotify_init1");
		return -1;
	}
	if (fchdir(mb->md) == -1) {
		close(fd);
		return -1;
	}
	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		if (inotify_add_watch(fd, dirs[i], WATCH_MASK) == -1) {
			log_warn("inotify_add_watch %s/%s", mb->name,
			    dirs[i]);
			close(fd);
			fd = -1;
			break;
		}
	}
	if (fchdir(home) == -1)
		log_warn("fchdir back to the mail home");
	return fd;
}

/* Read away what is queued: 1 if anything happened, 0 if not. */
int
mailbox_watch_drain(int fd)
{
	char	 buf[4096]
	    __attribute__((__aligned__(__alignof__(struct inotify_event))));
	int	 any = 0;
	ssize_t	 n;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		any = 1;
	if (n == -1 && errno != EAGAIN && errno != EINTR)
		log_warn("inotify read");
	return any;
}
