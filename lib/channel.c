/*
 * channel: a named imsg peer with the handshake, the table of accepted
 * types, pending requests by id with deadlines, reconnection with
 * backoff and flow control (see channel.h), and the accepting side of a
 * listening socket.  Every daemon and tsambactl talk through it.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/tree.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event.h>

#include "channel.h"
#include "imsg.h"
#include "log.h"
#include "proto.h"
#include "unixsock.h"

static int	req_cmp(struct channel_req *, struct channel_req *);
RB_PROTOTYPE(channel_reqs, channel_req, entry, req_cmp);

static void	channel_dispatch(struct imsgev *, struct imsg *, void *);
static void	channel_drained(struct imsgev *, void *);
static void	channel_retry(int, short, void *);
static void	channel_down(struct channel *, const char *);

static int
req_cmp(struct channel_req *a, struct channel_req *b)
{
	return a->id < b->id ? -1 : a->id > b->id;
}

RB_GENERATE(channel_reqs, channel_req, entry, req_cmp);

void
channel_init(struct channel *ch, const char *name, const char *us,
    const struct channel_type *types, const struct channel_cbs *cbs,
    void *arg)
{
	memset(ch, 0, sizeof(*ch));
	strlcpy(ch->name, name, sizeof(ch->name));
	strlcpy(ch->us, us, sizeof(ch->us));
	ch->types = types;
	if (cbs != NULL)
		ch->cbs = *cbs;
	ch->arg = arg;
	ch->state = CHANNEL_DOWN;
	ch->iev.ibuf.fd = -1;
	RB_INIT(&ch->reqs);
	ch->next_id = 1;
	ch->backoff = CHANNEL_BACKOFF_MIN;
	evtimer_set(&ch->retry, channel_retry, ch);
}

static struct ibuf *
hello_pack(struct channel *ch)
{
	struct msg_hello	 m = { .version = PROTO_VERSION,
	    .who = ch->us };

	return msg_hello_pack(&m, -1);
}

void
channel_attach(struct channel *ch, int fd)
{
	int	 flags;

	if ((flags = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1)
		log_warn("%s: fcntl", ch->name);
	imsgev_init(&ch->iev, fd, channel_dispatch, ch);
	/* Only a channel that asked for it is told it drained. */
	ch->iev.drained = ch->lowat > 0 ? channel_drained : NULL;
	ch->iev.lowat = ch->lowat;
	ch->state = CHANNEL_HELLO;
	if (imsgev_send(&ch->iev, hello_pack(ch)) == -1)
		channel_drop(ch, "cannot send HELLO");
}

static void
channel_connect_now(struct channel *ch)
{
	int	 fd;

	ch->state = CHANNEL_CONNECTING;
	if (ch->cbs.connect != NULL) {
		ch->cbs.connect(ch, ch->arg);
		return;
	}
	if ((fd = unixsock_connect(ch->path, 1)) == -1) {
		log_debug("%s: connect %s: %s", ch->name, ch->path,
		    strerror(errno));
		channel_connect_failed(ch);
		return;
	}
	channel_attach(ch, fd);
}

void
channel_start(struct channel *ch, const char *path)
{
	ch->reconnect = 1;
	if (path != NULL)
		strlcpy(ch->path, path, sizeof(ch->path));
	channel_connect_now(ch);
}

static void
channel_schedule(struct channel *ch)
{
	struct timeval	 tv;

	ch->state = CHANNEL_CONNECTING;
	tv.tv_sec = ch->backoff / 1000;
	tv.tv_usec = (ch->backoff % 1000) * 1000;
	evtimer_add(&ch->retry, &tv);
	ch->backoff *= 2;
	if (ch->backoff > CHANNEL_BACKOFF_MAX)
		ch->backoff = CHANNEL_BACKOFF_MAX;
}

void
channel_connect_failed(struct channel *ch)
{
	log_debug("%s unreachable, retry in %d ms", ch->name, ch->backoff);
	channel_schedule(ch);
}

static void
channel_retry(int fd, short ev, void *arg)
{
	channel_connect_now(arg);
}

static void
req_fail_all(struct channel *ch)
{
	struct channel_req	*r;

	while ((r = RB_MIN(channel_reqs, &ch->reqs)) != NULL) {
		channel_req_cancel(r);
		r->cb(r, NULL, NULL);
	}
}

/* Down: close, fail what waits, tell the daemon, maybe reconnect. */
static void
channel_down(struct channel *ch, const char *why)
{
	if (ch->state == CHANNEL_DOWN ||
	    (ch->state == CHANNEL_CONNECTING && ch->iev.ibuf.fd == -1)) {
		evtimer_del(&ch->retry);
		ch->state = CHANNEL_DOWN;
		return;
	}
	if (why != NULL)
		log_warnx("channel to %s lost: %s", ch->name, why);
	imsgev_clear(&ch->iev);
	ch->state = CHANNEL_DOWN;
	req_fail_all(ch);
	if (ch->reconnect && ch->state == CHANNEL_DOWN)
		channel_schedule(ch);
	/* Last: the daemon may free the channel (from the next turn). */
	if (ch->cbs.down != NULL)
		ch->cbs.down(ch, ch->arg);
}

void
channel_drop(struct channel *ch, const char *why)
{
	channel_down(ch, why);
}

void
channel_close(struct channel *ch)
{
	ch->reconnect = 0;
	evtimer_del(&ch->retry);
	channel_down(ch, NULL);
}

static void
channel_free_now(int fd, short ev, void *p)
{
	free(p);
}

void
channel_free_later(void *p)
{
	struct timeval	 now = { 0, 0 };

	if (event_once(-1, EV_TIMEOUT, channel_free_now, p, &now) == -1)
		fatal("event_once");
}

int
channel_up(const struct channel *ch)
{
	return ch->state == CHANNEL_HELLO || ch->state == CHANNEL_UP;
}

int
channel_send(struct channel *ch, struct ibuf *b)
{
	if (b == NULL)
		return -1;
	if (!channel_up(ch)) {
		ibuf_free(b);
		return -1;
	}
	return imsgev_send(&ch->iev, b);
}

static void
req_deadline(int fd, short ev, void *arg)
{
	struct channel_req	*r = arg;

	log_warnx("%s: request %llu got no answer in time", r->ch->name,
	    (unsigned long long)r->id);
	channel_req_cancel(r);
	r->cb(r, NULL, NULL);
}

uint64_t
channel_req_add(struct channel *ch, struct channel_req *r, int timeout,
    channel_answer_cb cb, void *arg)
{
	struct timeval	 tv;

	r->id = ch->next_id++;
	r->ch = ch;
	r->cb = cb;
	r->arg = arg;
	r->timed = timeout > 0;
	RB_INSERT(channel_reqs, &ch->reqs, r);
	if (r->timed) {
		tv.tv_sec = timeout / 1000;
		tv.tv_usec = (timeout % 1000) * 1000;
		evtimer_set(&r->deadline, req_deadline, r);
		evtimer_add(&r->deadline, &tv);
	}
	return r->id;
}

void
channel_req_cancel(struct channel_req *r)
{
	if (r->ch == NULL)
		return;
	RB_REMOVE(channel_reqs, &r->ch->reqs, r);
	if (r->timed)
		evtimer_del(&r->deadline);
	r->timed = 0;
	r->ch = NULL;
}

int
channel_req_pending(const struct channel_req *r)
{
	return r->ch != NULL;
}

size_t
channel_req_count(const struct channel *ch)
{
	struct channel_req	*r;
	size_t			 n = 0;

	RB_FOREACH(r, channel_reqs, (struct channel_reqs *)&ch->reqs)
		n++;
	return n;
}

size_t
channel_queued(const struct channel *ch)
{
	return ch->iev.ibuf.fd == -1 ? 0 : ch->iev.ibuf.wqlen;
}

void
channel_set_drain(struct channel *ch, size_t low)
{
	ch->lowat = low;
	ch->iev.lowat = low;
	ch->iev.drained = channel_drained;
	ch->iev.above = ch->iev.ibuf.fd != -1 && ch->iev.ibuf.wqlen > low;
}

static void
channel_drained(struct imsgev *iev, void *arg)
{
	struct channel	*ch = arg;

	if (ch->cbs.drained != NULL)
		ch->cbs.drained(ch, ch->arg);
}

void
channel_pause(struct channel *ch)
{
	imsgev_pause(&ch->iev);
}

void
channel_resume(struct channel *ch)
{
	imsgev_resume(&ch->iev);
}

/* The peer's HELLO: 0, or -1 with why filled in. */
static int
hello_check(struct channel *ch, struct imsg *imsg, char *why, size_t sz)
{
	union imsg_msg	 u;

	if (imsg->hdr.type != IMSG_HELLO) {
		snprintf(why, sz, "expected HELLO, got %s (%u)",
		    imsg_type_name(imsg->hdr.type), imsg->hdr.type);
		return -1;
	}
	if (imsg->fd != -1) {
		snprintf(why, sz, "HELLO with a file descriptor");
		return -1;
	}
	if (imsg_unpack(imsg, &u) == -1) {
		snprintf(why, sz, "malformed HELLO");
		return -1;
	}
	if (u.hello.version != PROTO_VERSION) {
		snprintf(why, sz, "HELLO: peer %s speaks protocol version %u, "
		    "we speak %u", u.hello.who, u.hello.version,
		    PROTO_VERSION);
		return -1;
	}
	return 0;
}

static const struct channel_type *
type_find(const struct channel *ch, uint32_t type)
{
	const struct channel_type	*t;

	for (t = ch->types; t != NULL && t->type != 0; t++)
		if (t->type == type)
			return t;
	return NULL;
}

/* A message of the table, well formed: 0, or -1 with why filled in. */
static int
msg_check(struct channel *ch, struct imsg *imsg, union imsg_msg *u,
    const struct channel_type **tp, char *why, size_t sz)
{
	const char	*name = imsg_type_name(imsg->hdr.type);

	if ((*tp = type_find(ch, imsg->hdr.type)) == NULL) {
		snprintf(why, sz, "unexpected message %s (%u)", name,
		    imsg->hdr.type);
		return -1;
	}
	if (imsg->fd != -1 && !imsg_type_fd(imsg->hdr.type)) {
		snprintf(why, sz, "%s with a file descriptor", name);
		return -1;
	}
	if (imsg_unpack(imsg, u) == -1) {
		snprintf(why, sz, "malformed %s", name);
		return -1;
	}
	return 0;
}

/* Every answer begins with the u64 id of its request: 0, or -1. */
static int
answer_id(const struct imsg *imsg, uint64_t *id)
{
	int	 i;

	if (imsg->len < 8)
		return -1;
	*id = 0;
	for (i = 7; i >= 0; i--)
		*id = (*id << 8) | imsg->data[i];
	return 0;
}

static struct channel_req *
req_find(struct channel *ch, struct imsg *imsg)
{
	struct channel_req	 key;

	if (answer_id(imsg, &key.id) == -1)
		return NULL;
	return RB_FIND(channel_reqs, &ch->reqs, &key);
}

static void
channel_answer(struct channel *ch, const struct channel_type *t,
    struct imsg *imsg, union imsg_msg *u)
{
	struct channel_req	*r;

	if ((r = req_find(ch, imsg)) == NULL) {
		log_debug("%s: %s for no pending request", ch->name,
		    imsg_type_name(imsg->hdr.type));
		if (ch->cbs.dispatch != NULL)
			ch->cbs.dispatch(ch, imsg, u, ch->arg);
		return;
	}
	if (t->flags & CHANNEL_ANSWER)
		channel_req_cancel(r);
	r->cb(r, imsg, u);
}

static void
channel_dispatch(struct imsgev *iev, struct imsg *imsg, void *arg)
{
	struct channel			*ch = arg;
	const struct channel_type	*t;
	union imsg_msg			 u;
	char				 why[160];

	if (imsg == NULL) {
		/* Only a channel we keep up is worth a warning. */
		if (!ch->reconnect)
			log_debug("channel to %s: connection closed",
			    ch->name);
		channel_drop(ch, ch->reconnect ? "connection closed" : NULL);
		return;
	}
	if (ch->state == CHANNEL_HELLO) {
		if (hello_check(ch, imsg, why, sizeof(why)) == -1)
			goto drop;
		ch->state = CHANNEL_UP;
		ch->backoff = CHANNEL_BACKOFF_MIN;
		log_debug("channel to %s up", ch->name);
		if (ch->cbs.up != NULL)
			ch->cbs.up(ch, ch->arg);
		return;
	}
	if (msg_check(ch, imsg, &u, &t, why, sizeof(why)) == -1)
		goto drop;
	if (t->flags & (CHANNEL_ANSWER | CHANNEL_PART))
		channel_answer(ch, t, imsg, &u);
	else if (ch->cbs.dispatch != NULL)
		ch->cbs.dispatch(ch, imsg, &u, ch->arg);
	/* A descriptor its handler did not take is closed. */
	if (imsg->fd != -1) {
		close(imsg->fd);
		imsg->fd = -1;
	}
	return;
 drop:
	if (imsg->fd != -1) {
		close(imsg->fd);
		imsg->fd = -1;
	}
	channel_drop(ch, why);
}

/* Blocking use. */

/* -1 (poll's forever) for an end of tv_sec -1. */
static int
ms_left(const struct timespec *end)
{
	struct timespec	 now;
	long long	 ms;

	if (end->tv_sec == -1)
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (end->tv_sec - now.tv_sec) * 1000LL +
	    (end->tv_nsec - now.tv_nsec) / 1000000;
	return ms < 0 ? 0 : (int)ms;
}

/* The next message, whatever it is: 0, or -1 (logged). */
static int
sync_read(struct channel *ch, struct imsg *imsg, int timeout)
{
	struct timespec	 end;
	struct pollfd	 pfd;
	ssize_t		 n;
	int		 rv;

	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += timeout / 1000;
	end.tv_nsec += (timeout % 1000) * 1000000L;
	if (end.tv_nsec >= 1000000000L) {
		end.tv_sec++;
		end.tv_nsec -= 1000000000L;
	}
	if (imsgbuf_flush_until(&ch->iev.ibuf, timeout < 0 ? NULL : &end) ==
	    -1) {
		log_warn("%s: write", ch->name);
		return -1;
	}
	if (timeout < 0)
		end.tv_sec = -1;
	while ((rv = imsg_get(&ch->iev.ibuf, imsg)) == 0) {
		pfd.fd = ch->iev.ibuf.fd;
		pfd.events = POLLIN;
		if ((rv = poll(&pfd, 1, ms_left(&end))) == -1 &&
		    errno == EINTR)
			continue;
		if (rv <= 0) {
			log_warnx("%s: no answer in time", ch->name);
			return -1;
		}
		if ((n = imsgbuf_read(&ch->iev.ibuf)) == -1 &&
		    (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0) {
			log_debug("%s: connection closed", ch->name);
			ch->state = CHANNEL_DOWN;
			return -1;
		}
	}
	if (rv == -1) {
		log_warnx("%s: malformed message", ch->name);
		return -1;
	}
	return 0;
}

int
channel_sync_hello(struct channel *ch, int fd, int timeout)
{
	struct imsg	 imsg;
	char		 why[160];
	int		 rv;

	imsgbuf_init(&ch->iev.ibuf, fd);
	ch->state = CHANNEL_HELLO;
	if (imsg_close(&ch->iev.ibuf, hello_pack(ch)) == -1 ||
	    sync_read(ch, &imsg, timeout) == -1)
		goto fail;
	rv = hello_check(ch, &imsg, why, sizeof(why));
	if (imsg.fd != -1)
		close(imsg.fd);
	imsg_free(&imsg);
	if (rv == -1) {
		log_warnx("%s: %s", ch->name, why);
		goto fail;
	}
	ch->state = CHANNEL_UP;
	return 0;
 fail:
	channel_sync_close(ch);
	return -1;
}

int
channel_sync_send(struct channel *ch, struct ibuf *b)
{
	if (b == NULL || imsg_close(&ch->iev.ibuf, b) == -1 ||
	    imsgbuf_flush(&ch->iev.ibuf) == -1) {
		log_warn("%s: write", ch->name);
		return -1;
	}
	return 0;
}

void
channel_sync_close(struct channel *ch)
{
	if (ch->iev.ibuf.fd == -1)
		return;
	imsgbuf_clear(&ch->iev.ibuf);
	close(ch->iev.ibuf.fd);
	ch->iev.ibuf.fd = -1;
	ch->state = CHANNEL_DOWN;
}

int
channel_sync_get(struct channel *ch, struct imsg *imsg, union imsg_msg *u,
    int timeout)
{
	const struct channel_type	*t;
	char				 why[160];

	if (ch->state != CHANNEL_UP || sync_read(ch, imsg, timeout) == -1)
		return -1;
	if (msg_check(ch, imsg, u, &t, why, sizeof(why)) == -1) {
		log_warnx("%s: %s", ch->name, why);
		if (imsg->fd != -1)
			close(imsg->fd);
		imsg_free(imsg);
		return -1;
	}
	return 0;
}

int
channel_sync_request(struct channel *ch, struct ibuf *b, uint64_t id,
    int (*each)(struct imsg *, union imsg_msg *, void *), void *arg,
    int timeout)
{
	const struct channel_type	*t;
	struct imsg			 imsg;
	union imsg_msg			 u;
	uint64_t			 got;
	int				 rv, last;

	if (b == NULL || imsg_close(&ch->iev.ibuf, b) == -1) {
		log_warnx("%s: request does not fit", ch->name);
		return -1;
	}
	for (;;) {
		if (channel_sync_get(ch, &imsg, &u, timeout) == -1)
			return -1;
		t = type_find(ch, imsg.hdr.type);
		if (!(t->flags & (CHANNEL_ANSWER | CHANNEL_PART)) ||
		    answer_id(&imsg, &got) == -1 || got != id) {
			log_warnx("%s: unexpected %s", ch->name,
			    imsg_type_name(imsg.hdr.type));
			rv = -1;
			last = 1;
		} else {
			rv = each(&imsg, &u, arg);
			last = (t->flags & CHANNEL_ANSWER) != 0;
		}
		if (imsg.fd != -1)
			close(imsg.fd);
		imsg_free(&imsg);
		if (rv == -1 || last)
			return rv;
	}
}

/* The server side. */

static void
server_resume(int fd, short ev, void *arg)
{
	struct channel_server	*srv = arg;

	event_add(&srv->ev, NULL);
}

static void
server_accept(int lfd, short ev, void *arg)
{
	struct channel_server	*srv = arg;
	struct ucred		 cred;
	struct timeval		 tv = { 1, 0 };
	socklen_t		 len = sizeof(cred);
	int			 fd;

	for (;;) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EMFILE || errno == ENFILE) {
				log_warn("%s: accept, pausing", srv->what);
				event_del(&srv->ev);
				evtimer_add(&srv->pause, &tv);
			} else if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED)
				log_warn("%s: accept", srv->what);
			return;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred,
		    &len) == -1) {
			log_warn("%s: SO_PEERCRED", srv->what);
			close(fd);
			continue;
		}
		srv->accepted(srv, fd, &cred, srv->arg);
	}
}

void
channel_server_init(struct channel_server *srv, int lfd, const char *what,
    void (*accepted)(struct channel_server *, int, const struct ucred *,
    void *), void *arg)
{
	srv->fd = lfd;
	strlcpy(srv->what, what, sizeof(srv->what));
	srv->accepted = accepted;
	srv->arg = arg;
	event_set(&srv->ev, lfd, EV_READ | EV_PERSIST, server_accept, srv);
	evtimer_set(&srv->pause, server_resume, srv);
	if (event_add(&srv->ev, NULL) == -1)
		fatal("%s: event_add", what);
}

void
channel_server_close(struct channel_server *srv)
{
	event_del(&srv->ev);
	evtimer_del(&srv->pause);
	if (srv->fd != -1)
		close(srv->fd);
	srv->fd = -1;
}
