/*
 * channel: the one way tsamba processes talk to each other.  A channel
 * is a named peer on an imsg socket that:
 *
 * - opens with the HELLO/version handshake (nothing else is accepted
 *   before the peer's HELLO; a peer of another version is dropped);
 * - accepts only the types of its table, an fd only where proto_msgs.def
 *   allows one, and only payloads that unpack whole; anything else drops
 *   the peer with a log line naming the type;
 * - keeps the requests it sent in a tree by their 64-bit id, each with a
 *   deadline; an answer goes to its request's callback, and when the
 *   channel drops (or the deadline passes) the callback is called with
 *   no answer, so every caller can tell its own client "try later";
 * - reconnects, when it has a way to (a socket path, or a connector the
 *   daemon supplies: the parent's CONNECT/CONNECTED), with one backoff
 *   rule for everyone;
 * - says when its write queue has drained below a mark (flow control).
 *
 * A daemon writes only its dispatch function and its callbacks.
 */

#ifndef TSAMBA_CHANNEL_H
#define TSAMBA_CHANNEL_H

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/tree.h>

#include <stdint.h>

#include <event.h>

#include "imsg.h"
#include "proto.h"

#define CHANNEL_NAME_MAX	64
#define CHANNEL_BACKOFF_MIN	100	/* msec: first retry */
#define CHANNEL_BACKOFF_MAX	10000	/* msec: doubling stops here */

/* Flags of an accepted type. */
#define CHANNEL_ANSWER	0x01	/* answers a request: ends it */
#define CHANNEL_PART	0x02	/* part of an answer: the request goes on */

struct channel_type {
	uint32_t	 type;
	int		 flags;
};

struct channel;
struct channel_req;

/* An answer (imsg, m) or, with imsg NULL, a failure: drop or deadline. */
typedef void	(*channel_answer_cb)(struct channel_req *, struct imsg *,
		    union imsg_msg *);

/*
 * A pending request, embedded in the caller's own structure (no
 * allocation per request).
 */
struct channel_req {
	RB_ENTRY(channel_req)	 entry;
	uint64_t		 id;
	struct channel		*ch;
	struct event		 deadline;
	int			 timed;
	channel_answer_cb	 cb;
	void			*arg;
};
RB_HEAD(channel_reqs, channel_req);

struct channel_cbs {
	/*
	 * A message of the table that is not an answer to a request, or
	 * an answer that came late (its request failed or was cancelled:
	 * a daemon may have something to give back).
	 */
	void	(*dispatch)(struct channel *, struct imsg *, union imsg_msg *,
		    void *);
	/* The peer's HELLO arrived: the channel is up. */
	void	(*up)(struct channel *, void *);
	/*
	 * The channel dropped (pending requests have already failed).  The
	 * channel may be called into still after this returns: free it
	 * from a later turn of the loop, not here.
	 */
	void	(*down)(struct channel *, void *);
	/* The write queue fell below the mark of channel_set_drain(). */
	void	(*drained)(struct channel *, void *);
	/*
	 * Get a connected fd, now or later, and hand it to channel_attach()
	 * (or call channel_connect_failed()); NULL: connect to the path.
	 */
	void	(*connect)(struct channel *, void *);
};

enum channel_state {
	CHANNEL_DOWN = 0,
	CHANNEL_CONNECTING,	/* waiting for an fd, or for the retry */
	CHANNEL_HELLO,		/* attached, waiting for the peer's HELLO */
	CHANNEL_UP,
};

struct channel {
	char				 name[CHANNEL_NAME_MAX];
	char				 us[CHANNEL_NAME_MAX];
	const struct channel_type	*types;
	struct channel_cbs		 cbs;
	void				*arg;
	enum channel_state		 state;
	struct imsgev			 iev;
	struct channel_reqs		 reqs;
	uint64_t			 next_id;
	size_t				 lowat;		/* drained mark */
	/* Reconnecting. */
	int				 reconnect;
	char				 path[108];
	struct event			 retry;
	int				 backoff;	/* msec, next wait */
};

/*
 * A channel named name (the peer, for logs) saying us in its HELLO,
 * accepting types[] (ended by a type 0).  It is down until attached or
 * started.
 */
void	 channel_init(struct channel *, const char *name, const char *us,
	    const struct channel_type *types, const struct channel_cbs *,
	    void *arg);
/* Run on a connected fd (a socketpair, an accepted socket): HELLO out. */
void	 channel_attach(struct channel *, int fd);
/*
 * Connect now and whenever the channel drops, with backoff: to path,
 * or (path NULL) through cbs.connect.
 */
void	 channel_start(struct channel *, const char *path);
/* The connector could not get an fd: retry after the backoff. */
void	 channel_connect_failed(struct channel *);
/* Drop the peer (logged with why), fail its requests, maybe reconnect. */
void	 channel_drop(struct channel *, const char *why);
/* Close for good: as a drop, without reconnecting. */
void	 channel_close(struct channel *);
/*
 * free(p), the memory that holds a closed channel, from the next turn
 * of the loop: inside its callbacks the channel still looks at itself
 * after they return.
 */
void	 channel_free_later(void *p);
int	 channel_up(const struct channel *);

/*
 * Queue a built message (imsg_close + write); -1, the ibuf freed, if the
 * channel is not up or the ibuf overflowed.
 */
int	 channel_send(struct channel *, struct ibuf *);
/*
 * Register a request before sending it: the id to put in it.  timeout
 * in msec, 0 for none.  The request stays until its answer, its
 * deadline, a drop, or channel_req_cancel().
 */
uint64_t channel_req_add(struct channel *, struct channel_req *,
	    int timeout, channel_answer_cb, void *arg);
void	 channel_req_cancel(struct channel_req *);
int	 channel_req_pending(const struct channel_req *);
/* How many requests wait for an answer. */
size_t	 channel_req_count(const struct channel *);

/* Messages queued to write; above low the drained callback is armed. */
size_t	 channel_queued(const struct channel *);
void	 channel_set_drain(struct channel *, size_t low);

/* Stop and go on reading (imsgev_pause/resume). */
void	 channel_pause(struct channel *);
void	 channel_resume(struct channel *);

/*
 * Blocking use (tsambactl), off the event loop.  On a connected fd,
 * exchange HELLOs within timeout msec: 0, or -1 (logged, fd closed).
 */
int	 channel_sync_hello(struct channel *, int fd, int timeout);
/*
 * Write what is queued, then the next message of the table: 0 or -1
 * (state CHANNEL_DOWN at the peer's end).  timeout < 0: none.
 */
int	 channel_sync_get(struct channel *, struct imsg *, union imsg_msg *,
	    int timeout);
/* Queue and write b: 0, or -1 (logged). */
int	 channel_sync_send(struct channel *, struct ibuf *);
/*
 * Send a request (b, built with id) and hand each message answering id
 * to each() until one of a CHANNEL_ANSWER type, waiting at most timeout
 * msec for each: 0, or -1 (logged; each() returning -1 also stops).
 */
int	 channel_sync_request(struct channel *, struct ibuf *b, uint64_t id,
	    int (*each)(struct imsg *, union imsg_msg *, void *), void *arg,
	    int timeout);
void	 channel_sync_close(struct channel *);

/*
 * The server side: a listening socket on the event loop.  Each peer
 * accepted (SO_PEERCRED taken) is handed to accepted() with its uid and
 * pid; the daemon decides its role and calls channel_attach(), or
 * closes the fd.  On EMFILE/ENFILE accepting pauses for a second.
 */
struct channel_server {
	int		 fd;
	struct event	 ev;
	struct event	 pause;
	char		 what[CHANNEL_NAME_MAX];
	void		(*accepted)(struct channel_server *, int fd,
			    const struct ucred *, void *);
	void		*arg;
};

void	 channel_server_init(struct channel_server *, int lfd,
	    const char *what, void (*)(struct channel_server *, int,
	    const struct ucred *, void *), void *);
void	 channel_server_close(struct channel_server *);

#endif
