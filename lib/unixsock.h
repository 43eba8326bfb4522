/*
 * UNIX sockets between the daemons of the suite: a listening socket in
 * the run directory, a connection to one, and the SO_PEERCRED check of
 * who connected.  Who may ask is decided by the peer's uid, not by the
 * file mode.
 */

#ifndef TSAMBA_UNIXSOCK_H
#define TSAMBA_UNIXSOCK_H

#include <sys/types.h>
#include <sys/socket.h>

/*
 * For start-up, as root: a listening stream socket at path with the
 * given file mode.  A stale socket left there is removed first, anything
 * else at the path is fatal.  flags are extra socket(2) type flags
 * (SOCK_NONBLOCK, SOCK_CLOEXEC).  The descriptor; fatal() on any error.
 */
int	unixsock_listen(const char *path, mode_t mode, int backlog,
	    int flags);

/*
 * Connect to the socket at path (close-on-exec).  timeout > 0 bounds in
 * seconds how long a full backlog may block connect(2).  The descriptor,
 * or -1 with errno set (ENAMETOOLONG for a path that does not fit); the
 * caller says what failed, as loud as it needs.
 */
int	unixsock_connect(const char *path, int timeout);

/*
 * As unixsock_connect(), but a root process connects with the effective
 * uid (and gid) of the role it connects for, so that the server's
 * SO_PEERCRED names that role and not root: the parents of the chrooted
 * engines connect on their behalf.  Not root, it connects as itself.
 */
int	unixsock_connect_as(const char *path, int timeout, uid_t, gid_t);

/*
 * Whether the peer of fd may talk to us, by SO_PEERCRED: root and our
 * own uid always, other uids only if among uids[].  0 with *cred filled
 * in, or -1: refused (logged as "<what>: uid U pid P may not <task>") or
 * SO_PEERCRED failed (logged).
 */
int	unixsock_peer_check(int fd, const uid_t *uids, size_t nuids,
	    const char *what, const char *task, struct ucred *cred);

/*
 * Accept a connection (non-blocking, close-on-exec) from a peer that
 * may talk to us, by SO_PEERCRED: root and our own uid always, other
 * uids only if among uids[].  The descriptor with *cred filled in, or -1:
 * a refused peer (closed, logged as "<what>: uid U pid P may not <task>",
 * errno EACCES), nothing to accept, or an accept4(2) error, logged
 * unless EAGAIN, EINTR or ECONNABORTED (errno kept: on EMFILE the caller
 * may pause).
 */
int	unixsock_accept(int lfd, const uid_t *uids, size_t nuids,
	    const char *what, const char *task, struct ucred *cred);

#endif
