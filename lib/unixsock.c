/*
 * UNIX sockets between the daemons (see unixsock.h): one way to create
 * a server socket, to connect to one and to check a peer, so that every
 * daemon treats stale sockets, file modes and peer uids alike.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "unixsock.h"

static int
unixsock_addr(const char *path, struct sockaddr_un *sun)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (*path == '\0' || strlcpy(sun->sun_path, path,
	    sizeof(sun->sun_path)) >= sizeof(sun->sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int
unixsock_listen(const char *path, mode_t mode, int backlog, int flags)
{
	struct sockaddr_un	 sun;
	struct stat		 st;
	mode_t			 old;
	int			 fd;

	if (unixsock_addr(path, &sun) == -1)
		fatalx("socket path too long: %s", path);
	/* A socket left by a previous run; never remove anything else. */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			fatalx("%s exists and is not a socket", path);
		if (unlink(path) == -1)
			fatal("unlink %s", path);
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | flags, 0)) == -1)
		fatal("socket");
	/* No moment in which the socket has a wider mode than asked. */
	old = umask(0777 & ~mode);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		fatal("bind %s", path);
	umask(old);
	if (chmod(path, mode) == -1)
		fatal("chmod %s", path);
	if (listen(fd, backlog) == -1)
		fatal("listen %s", path);
	return fd;
}

int
unixsock_connect(const char *path, int timeout)
{
	struct sockaddr_un	 sun;
	struct timeval		 tv = { timeout, 0 };
	int			 fd, saved;

	if (unixsock_addr(path, &sun) == -1)
		return -1;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (timeout > 0 && setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv,
	    sizeof(tv)) == -1)
		log_warn("SO_SNDTIMEO");
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	if (timeout > 0) {
		/* The timeout was for connect(2) only. */
		tv.tv_sec = 0;
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv,
		    sizeof(tv));
	}
	return fd;
}

int
unixsock_connect_as(const char *path, int timeout, uid_t uid, gid_t gid)
{
	gid_t	 oldgid = getegid();
	int	 fd, saved;

	if (geteuid() != 0 || uid == 0)
		return unixsock_connect(path, timeout);
	/* The saved ids stay 0: root comes back right after connect(2). */
	if (setegid(gid) == -1)
		fatal("setegid %u", (unsigned)gid);
	if (seteuid(uid) == -1)
		fatal("seteuid %u", (unsigned)uid);
	fd = unixsock_connect(path, timeout);
	saved = errno;
	if (seteuid(0) == -1 || setegid(oldgid) == -1)
		fatal("cannot regain root after connecting to %s", path);
	errno = saved;
	return fd;
}

/* Root and our own uid may always talk to us, others only if listed. */
int
unixsock_peer_check(int fd, const uid_t *uids, size_t nuids,
    const char *what, const char *task, struct ucred *cred)
{
	socklen_t	 len = sizeof(*cred);
	size_t		 i;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, cred, &len) == -1) {
		log_warn("%s: SO_PEERCRED", what);
		return -1;
	}
	if (cred->uid == 0 || cred->uid == geteuid())
		return 0;
	for (i = 0; i < nuids; i++)
		if (uids[i] == cred->uid)
			return 0;
	log_warnx("%s: uid %u pid %d may not %s", what, (unsigned)cred->uid,
	    (int)cred->pid, task);
	return -1;
}

int
unixsock_accept(int lfd, const uid_t *uids, size_t nuids, const char *what,
    const char *task, struct ucred *cred)
{
	int	 fd;

	if ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) ==
	    -1) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			log_warn("%s: accept", what);
		return -1;
	}
	if (unixsock_peer_check(fd, uids, nuids, what, task, cred) == -1) {
		close(fd);
		errno = EACCES;
		return -1;
	}
	return fd;
}
