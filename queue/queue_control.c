/*
 * queue.control.sock: tsambactl's view of the queue (list, show) and
 * its levers (flush, hold, release, delete).  The parent creates the
 * socket as root, mode 0600, and hands the listening descriptor to the
 * queue process; each client is checked again with SO_PEERCRED: only
 * root and the queue's own user may ask.  Requests and answers are in
 * lib/proto.h (IMSG_CTL_QUEUE_*, IMSG_CTL_DONE); a malformed request
 * drops that client, never the queue.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <event.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "imsg.h"
#include "log.h"
#include "queue.h"
#include "timefmt.h"
#include "unixsock.h"

#define CONTROL_CLIENTS_MAX	16
#define DETAIL_LINE_MAX		1024

struct ctl_client {
	TAILQ_ENTRY(ctl_client)	 entry;
	struct imsgev		 iev;
	uid_t			 uid;
	int			 hello;
	int			 dead;
};

TAILQ_HEAD(ctl_client_list, ctl_client);

static struct ctl_client_list	 clients = TAILQ_HEAD_INITIALIZER(clients);
static struct ctl_client_list	 graveyard =
    TAILQ_HEAD_INITIALIZER(graveyard);
static struct event		 accept_ev, reap_ev;
static unsigned int		 nclients;

static void
control_reap(int fd, short ev, void *arg)
{
	struct ctl_client	*c;

	while ((c = TAILQ_FIRST(&graveyard)) != NULL) {
		TAILQ_REMOVE(&graveyard, c, entry);
		free(c);
	}
}

/* From inside its handler the imsgev still looks at itself: free later. */
static void
control_close(struct ctl_client *c)
{
	struct timeval	 tv = { 0, 0 };

	if (c->dead)
		return;
	c->dead = 1;
	imsgev_clear(&c->iev);
	TAILQ_REMOVE(&clients, c, entry);
	nclients--;
	TAILQ_INSERT_TAIL(&graveyard, c, entry);
	evtimer_add(&reap_ev, &tv);
}

static void
control_bad(struct ctl_client *c, const char *what)
{
	log_warnx("control: uid %u: %s, closing", (unsigned)c->uid, what);
	control_close(c);
}

static int
send_done(struct ctl_client *c, uint64_t id, int failed, const char *msg)
{
	struct ibuf	*b;

	if ((b = imsg_create(IMSG_CTL_DONE, 0, -1)) == NULL)
		return -1;
	ibuf_add_u64(b, id);
	ibuf_add_u8(b, failed ? 1 : 0);
	ibuf_add_str(b, msg);
	return imsgev_send(&c->iev, b);
}

static off_t
msg_size(const struct msg *m)
{
	struct stat	 st;
	char		 path[64];

	spool_msgpath("queue", m->env.id, path, sizeof(path));
	return stat(path, &st) == 0 ? st.st_size : 0;
}

/* The reply that explains best why the message is still here. */
static const char *
last_error(const struct msg *m)
{
	const struct rcpt	*r;

	TAILQ_FOREACH(r, &m->env.rcpts, entry)
		if (r->state == RCPT_PENDING && r->error[0] != '\0')
			return r->error;
	return "";
}

struct list_ctx {
	struct ctl_client	*c;
	uint64_t		 id;
	int			 error;
};

static void
list_one(struct msg *m, void *arg)
{
	struct list_ctx		*ctx = arg;
	struct rcpt		*r;
	struct ibuf		*b;
	uint32_t		 n = 0;

	if (ctx->error)
		return;
	TAILQ_FOREACH(r, &m->env.rcpts, entry)
		if (r->state == RCPT_PENDING)
			n++;
	if ((b = imsg_create(IMSG_CTL_QUEUE_ENTRY, 0, -1)) == NULL) {
		ctx->error = 1;
		return;
	}
	ibuf_add_u64(b, ctx->id);
	ibuf_add_str(b, m->env.id);
	ibuf_add_str(b, m->env.sender);
	ibuf_add_u32(b, n);
	ibuf_add_u64(b, (uint64_t)msg_size(m));
	ibuf_add_u64(b, (uint64_t)m->env.created);
	ibuf_add_u64(b, m->env.held ? 0 : (uint64_t)scheduler_next_try(m));
	ibuf_add_u8(b, m->env.held);
	ibuf_add_str(b, last_error(m));
	if (imsgev_send(&ctx->c->iev, b) == -1)
		ctx->error = 1;
}

static void
control_list(struct ctl_client *c, uint64_t id)
{
	struct list_ctx	 ctx = { c, id, 0 };

	scheduler_foreach(list_one, &ctx);
	if (ctx.error || send_done(c, id, 0, "") == -1)
		control_bad(c, "cannot answer LIST");
}

static int
detail(struct ctl_client *c, uint64_t id, const char *fmt, ...)
    __attribute__((__format__ (printf, 3, 4)));

static int
detail(struct ctl_client *c, uint64_t id, const char *fmt, ...)
{
	struct ibuf	*b;
	va_list		 ap;
	char		 line[DETAIL_LINE_MAX];

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if ((b = imsg_create(IMSG_CTL_QUEUE_DETAIL, 0, -1)) == NULL)
		return -1;
	ibuf_add_u64(b, id);
	ibuf_add_str(b, line);
	return imsgev_send(&c->iev, b);
}

static void
when(time_t t, char *buf, size_t bufsz)
{
	if (t <= 0)
		strlcpy(buf, "-", bufsz);
	else
		time_iso8601(t, buf, bufsz);
}

static const char *
state_text(const struct rcpt *r)
{
	if (r->state == RCPT_DONE)
		return "delivered";
	if (r->state == RCPT_FAILED)
		return "failed";
	if (r->inflight || r->transfer != NULL)
		return "delivering";
	return "pending";
}

/* The envelope, human readable, one DETAIL per line. */
static int
show_msg(struct ctl_client *c, uint64_t id, struct msg *m)
{
	struct rcpt	*r;
	char		 t1[TIME_ISO8601_SIZE], t2[TIME_ISO8601_SIZE];
	int		 rv = 0;

	when(m->env.created, t1, sizeof(t1));
	when(m->env.created + (time_t)queue_conf->queue_lifetime, t2,
	    sizeof(t2));
	rv |= detail(c, id, "id: %s", m->env.id);
	rv |= detail(c, id, "sender: <%s>", m->env.sender);
	rv |= detail(c, id, "auth: %s", m->env.auth[0] ? m->env.auth : "-");
	rv |= detail(c, id, "client: %s (helo %s)", m->env.client,
	    m->env.helo);
	rv |= detail(c, id, "size: %lld", (long long)msg_size(m));
	rv |= detail(c, id, "arrived: %s", t1);
	rv |= detail(c, id, "expires: %s", t2);
	rv |= detail(c, id, "held: %s", m->env.held ? "yes" : "no");
	rv |= detail(c, id, "delay notice sent: %s",
	    m->env.warned ? "yes" : "no");
	TAILQ_FOREACH(r, &m->env.rcpts, entry) {
		when(r->next_try, t1, sizeof(t1));
		rv |= detail(c, id, "rcpt: <%s> %s %s tries=%u next=%s%s%s",
		    r->addr, (r->flags & RCPT_LOCAL) ? "local" : "remote",
		    state_text(r), r->tries,
		    r->state == RCPT_PENDING ? t1 : "-",
		    r->error[0] ? " reply=" : "", r->error);
	}
	return rv ? -1 : 0;
}

static void
control_request(struct ctl_client *c, struct imsg *imsg)
{
	struct msg	*m = NULL;
	char		 arg[ADDR_MAX + 1], err[256];
	uint64_t	 id;
	uint8_t		 silent = 0;
	uint32_t	 type = imsg->hdr.type;
	int		 rv = 0, n, held;

	arg[0] = '\0';
	err[0] = '\0';
	if (imsg_get_u64(imsg, &id) == -1 ||
	    (type != IMSG_CTL_QUEUE_LIST &&
	    imsg_get_str(imsg, arg, sizeof(arg)) == -1) ||
	    (type == IMSG_CTL_QUEUE_DEL && imsg_get_u8(imsg, &silent) == -1) ||
	    imsg_get_end(imsg) == -1) {
		control_bad(c, "malformed request");
		return;
	}
	if (type == IMSG_CTL_QUEUE_LIST) {
		control_list(c, id);
		return;
	}
	if (type == IMSG_CTL_QUEUE_FLUSH) {
		n = scheduler_flush(arg, &held);
		log_info("control: flush %s: %d message%s, %d held",
		    arg[0] ? arg : "all", n, n == 1 ? "" : "s", held);
		if (held > 0)
			snprintf(err, sizeof(err), "%d message%s scheduled "
			    "now, %d on hold left alone", n, n == 1 ? "" : "s",
			    held);
		else
			snprintf(err, sizeof(err), "%d message%s scheduled "
			    "now", n, n == 1 ? "" : "s");
		if (send_done(c, id, 0, err) == -1)
			control_bad(c, "cannot answer");
		return;
	}
	if ((m = scheduler_find(arg)) == NULL) {
		snprintf(err, sizeof(err), "no message %s in the queue", arg);
		rv = -1;
	} else if (type == IMSG_CTL_QUEUE_SHOW)
		rv = show_msg(c, id, m);
	else if (type == IMSG_CTL_QUEUE_HOLD)
		rv = scheduler_hold(m, 1, err, sizeof(err));
	else if (type == IMSG_CTL_QUEUE_RELEASE)
		rv = scheduler_hold(m, 0, err, sizeof(err));
	else if (type == IMSG_CTL_QUEUE_DEL)
		rv = scheduler_delete(m, silent, err, sizeof(err));
	if (send_done(c, id, rv == -1, err) == -1)
		control_bad(c, "cannot answer");
}

static void
control_dispatch(struct imsgev *iev, struct imsg *imsg, void *arg)
{
	struct ctl_client	*c = arg;

	if (imsg == NULL) {
		control_close(c);
		return;
	}
	if (c->dead)
		return;
	if (imsg->fd != -1) {
		close(imsg->fd);
		imsg->fd = -1;
		control_bad(c, "unexpected file descriptor");
		return;
	}
	if (!c->hello) {
		if (imsg_check_hello(imsg, "queue.control.sock") == -1) {
			control_bad(c, "no valid hello");
			return;
		}
		c->hello = 1;
		return;
	}
	switch (imsg->hdr.type) {
	case IMSG_CTL_QUEUE_LIST:
	case IMSG_CTL_QUEUE_SHOW:
	case IMSG_CTL_QUEUE_FLUSH:
	case IMSG_CTL_QUEUE_HOLD:
	case IMSG_CTL_QUEUE_RELEASE:
	case IMSG_CTL_QUEUE_DEL:
		control_request(c, imsg);
		break;
	default:
		control_bad(c, "unexpected message type");
		break;
	}
}

static void
control_accept(int lfd, short ev, void *arg)
{
	struct ctl_client	*c;
	struct ucred		 cred;
	int			 fd;

	if ((fd = unixsock_accept(lfd, NULL, 0, "control", "control the queue",
	    &cred)) == -1)
		return;
	if (nclients >= CONTROL_CLIENTS_MAX ||
	    (c = calloc(1, sizeof(*c))) == NULL) {
		log_warnx("control: too many clients");
		close(fd);
		return;
	}
	c->uid = cred.uid;
	TAILQ_INSERT_TAIL(&clients, c, entry);
	nclients++;
	imsgev_init(&c->iev, fd, control_dispatch, c);
	if (imsg_send_hello(&c->iev.ibuf, "tsamba-queue") == -1) {
		control_close(c);
		return;
	}
	imsgev_update(&c->iev);
}

void
control_init(int listenfd)
{
	if (fcntl(listenfd, F_SETFL, O_NONBLOCK) == -1)
		fatal("fcntl queue.control.sock");
	evtimer_set(&reap_ev, control_reap, NULL);
	event_set(&accept_ev, listenfd, EV_READ | EV_PERSIST, control_accept,
	    NULL);
	if (event_add(&accept_ev, NULL) == -1)
		fatal("event_add queue.control.sock");
}
