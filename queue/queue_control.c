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
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "channel.h"
#include "conf.h"
#include "control.h"
#include "imsg.h"
#include "log.h"
#include "queue.h"
#include "timefmt.h"

#define DETAIL_LINE_MAX		1024

static const struct channel_type control_types[] = {
	{ IMSG_CTL_QUEUE_LIST, 0 },
	{ IMSG_CTL_QUEUE_SHOW, 0 },
	{ IMSG_CTL_QUEUE_FLUSH, 0 },
	{ IMSG_CTL_QUEUE_HOLD, 0 },
	{ IMSG_CTL_QUEUE_RELEASE, 0 },
	{ IMSG_CTL_QUEUE_DEL, 0 },
	{ 0, 0 }
};

static void	 control_request(struct channel *, struct imsg *,
		    union imsg_msg *, void *);

static struct control	 ctl = { .us = "tsamba-queue",
	.task = "control the queue", .types = control_types,
	.request = control_request };

static void
control_bad(struct control_client *c, const char *what)
{
	log_warnx("control: uid %u: %s, closing", (unsigned)c->uid, what);
	control_close(c);
}

static int
send_done(struct control_client *c, uint64_t id, int failed, const char *msg)
{
	struct msg_ctl_done	 m = { .id = id, .failed = failed ? 1 : 0,
	    .message = msg };

	return channel_send(&c->ch, msg_ctl_done_pack(&m, -1));
}

static off_t
msg_size(const struct msg *m)
{
	struct stat	 st;
	char		 path[64];

	spool_msgpath("queue", m->env.id, path, sizeof(path));
	/* As delivered: the envelope's header fields and the file. */
	return stat(path, &st) == 0 ? st.st_size +
	    (off_t)strlen(spool_prefix(&m->env)) : 0;
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
	struct control_client	*c;
	uint64_t		 id;
	int			 error;
};

static void
list_one(struct msg *m, void *arg)
{
	struct list_ctx			*ctx = arg;
	struct rcpt			*r;
	struct msg_ctl_queue_entry	 e = {
		.id = ctx->id, .msgid = m->env.id, .sender = m->env.sender,
		.size = (uint64_t)msg_size(m),
		.created = (uint64_t)m->env.created,
		.next = m->env.held ? 0 : (uint64_t)scheduler_next_try(m),
		.held = m->env.held, .error = last_error(m),
	};

	if (ctx->error)
		return;
	TAILQ_FOREACH(r, &m->env.rcpts, entry)
		if (r->state == RCPT_PENDING)
			e.nrcpt++;
	if (channel_send(&ctx->c->ch, msg_ctl_queue_entry_pack(&e, -1)) ==
	    -1)
		ctx->error = 1;
}

static void
control_list(struct control_client *c, uint64_t id)
{
	struct list_ctx	 ctx = { c, id, 0 };

	scheduler_foreach(list_one, &ctx);
	if (ctx.error || send_done(c, id, 0, "") == -1)
		control_bad(c, "cannot answer LIST");
}

static int
detail(struct control_client *c, uint64_t id, const char *fmt, ...)
    __attribute__((__format__ (printf, 3, 4)));

static int
detail(struct control_client *c, uint64_t id, const char *fmt, ...)
{
	struct msg_ctl_queue_detail	 d = { .id = id };
	va_list				 ap;
	char				 line[DETAIL_LINE_MAX];

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	d.text = line;
	return channel_send(&c->ch, msg_ctl_queue_detail_pack(&d, -1));
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
show_msg(struct control_client *c, uint64_t id, struct msg *m)
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

/* The id, the message id or flush target, and silent of a request. */
static void
request_fields(uint32_t type, union imsg_msg *u, uint64_t *id,
    const char **arg, uint8_t *silent)
{
	*arg = "";
	*silent = 0;
	switch (type) {
	case IMSG_CTL_QUEUE_LIST:
		*id = u->ctl_queue_list.id;
		break;
	case IMSG_CTL_QUEUE_SHOW:
		*id = u->ctl_queue_show.id;
		*arg = u->ctl_queue_show.msgid;
		break;
	case IMSG_CTL_QUEUE_FLUSH:
		*id = u->ctl_queue_flush.id;
		*arg = u->ctl_queue_flush.target;
		break;
	case IMSG_CTL_QUEUE_HOLD:
		*id = u->ctl_queue_hold.id;
		*arg = u->ctl_queue_hold.msgid;
		break;
	case IMSG_CTL_QUEUE_RELEASE:
		*id = u->ctl_queue_release.id;
		*arg = u->ctl_queue_release.msgid;
		break;
	default:
		*id = u->ctl_queue_del.id;
		*arg = u->ctl_queue_del.msgid;
		*silent = u->ctl_queue_del.silent;
		break;
	}
}

static void
control_request(struct channel *ch, struct imsg *imsg, union imsg_msg *u,
    void *arg_)
{
	struct control_client	*c = arg_;
	struct msg		*m = NULL;
	const char		*arg;
	char			 err[256];
	uint64_t		 id;
	uint8_t			 silent;
	uint32_t		 type = imsg->hdr.type;
	int			 rv = 0, n, held;

	if (c->dead)
		return;
	err[0] = '\0';
	request_fields(type, u, &id, &arg, &silent);
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

void
control_init(int listenfd)
{
	control_start(&ctl, listenfd);
}
