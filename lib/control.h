/*
 * A daemon's control socket (authd, imapd, the queue): tsambactl's way
 * in.  The socket is mode 0600; each client is checked again with
 * SO_PEERCRED (root and the daemon's own uid), at most
 * CONTROL_CLIENTS_MAX at once, each on a channel of its own.  The
 * daemon writes only its request function; a client that broke the
 * protocol or went away is closed here.
 */

#ifndef TSAMBA_CONTROL_H
#define TSAMBA_CONTROL_H

#include <sys/types.h>
#include <sys/queue.h>

#include <limits.h>

#include "channel.h"

#define CONTROL_CLIENTS_MAX	16

struct control_client {
	TAILQ_ENTRY(control_client)	 entry;
	struct channel			 ch;
	struct control			*ctl;
	uid_t				 uid;
	int				 dead;	/* closed, freed later */
};
TAILQ_HEAD(control_clients, control_client);

struct control {
	/* Set by the daemon before control_start(). */
	const char			*us;	/* our HELLO */
	const char			*task;	/* "may not <task>" */
	const struct channel_type	*types;
	/* A request of types[]; arg is the struct control_client. */
	void				(*request)(struct channel *,
					    struct imsg *, union imsg_msg *,
					    void *);
	/* Ours. */
	struct channel_server		 server;
	struct control_clients		 clients;
	size_t				 n;
	int				 fd;
	char				 path[PATH_MAX];
};

/* As root: listen on path, mode 0600 (served from control_start()). */
void	control_listen(struct control *, const char *path);
/* Serve the socket of control_listen(), or fd (made non-blocking). */
void	control_start(struct control *, int fd);
/* Send b (fatal if it could not be built); a failure closes c. */
void	control_send(struct control_client *, struct ibuf *b);
/* The CTL_DONE that ends the answer to request id, through control_send. */
void	control_done(struct control_client *, uint64_t id, int failed,
	    const char *msg);
/* Closed at once, freed from a later turn of the loop. */
void	control_close(struct control_client *);
/* Stop listening, unlink the socket, close every client. */
void	control_shutdown(struct control *);

#endif
