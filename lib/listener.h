/*
 * Listening sockets on the event loop, the same in every engine: accept
 * in bursts and hand each connection over; when the process runs out of
 * descriptors (or kernel memory), stop accepting rather than spin, and
 * take up again as soon as a session ends, with a timer as the fallback.
 */

#ifndef TSAMBA_LISTENER_H
#define TSAMBA_LISTENER_H

#include <sys/types.h>
#include <sys/socket.h>

/* A new connection: fd is non-blocking and close-on-exec. */
typedef void	(*listener_cb)(int fd, struct sockaddr_storage *, socklen_t,
		    void *arg);

struct listener;

/* After event_init(): watch the listening socket fd once started. */
struct listener	*listener_new(int fd, listener_cb, void *arg);
/* Start accepting (at once, or when a pause for descriptors ends). */
void		 listener_start(struct listener *);
/*
 * The engine is ready (its certificates are in): start every listener,
 * and from now on each new one as listener_new() makes it; logged.
 */
void		 listener_start_all(void);
/* A session ended and gave back its descriptors: accept again. */
void		 listener_fd_freed(void);

/* Descriptors an engine holds besides its sessions: stdio, log, loop. */
#define LISTENER_FDS_RESERVED	32

/*
 * At start-up: raise the soft RLIMIT_NOFILE to the hard limit, and warn
 * once when sessions * per_session + reserve descriptors still do not
 * fit, with the numbers.  what names the daemon's sessions ("SMTP").
 */
void		 listener_check_fd_limit(const char *what,
		    unsigned int sessions, unsigned int per_session,
		    unsigned int reserve);

#endif
