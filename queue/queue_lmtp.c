/*
 * Local delivery: an LMTP client (RFC 2033) over sockets that the parent
 * connects for us (the queue is chrooted into the spool).  Up to
 * conf->queue_lmtp_sessions sessions, each reused for many messages and
 * closed after LMTP_IDLE_SEC without work.  One transaction carries all
 * due local recipients of a message; after DATA the server answers once
 * per accepted recipient.  A session that breaks or times out leaves its
 * unanswered recipients pending: they are retried, never lost.
 */

#include <sys/types.h>
#include <sys/queue.h>

#include <errno.h>
#include <event.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "conf.h"
#include "imsg.h"
#include "io.h"
#include "log.h"
#include "queue.h"
#include "smtp_body.h"
#include "smtp_reply.h"

#define LMTP_IDLE_SEC		30
#define LMTP_TIMEOUT_MSEC	(300 * 1000)
#define LMTP_CHUNK		(32 * 1024)
#define LMTP_OUT_HIGH		(256 * 1024)
#define LMTP_OUT_LOW		(64 * 1024)

enum lmtp_state {
	LS_CONNECTING,		/* waiting for the parent's fd */
	LS_GREETING,
	LS_LHLO,
	LS_IDLE,
	LS_TXN,			/* MAIL, RCPT and DATA replies */
	LS_BODY,
	LS_DOT,			/* one reply per accepted recipient */
	LS_RSET,
	LS_QUIT,
};

struct lmtp_session {
	TAILQ_ENTRY(lmtp_session) entry;
	uint64_t		 reqid;
	struct io		*io;
	enum lmtp_state		 state;
	int			 pipelining;
	int			 folder;	/* LMTP_FOLDER_PARAM offered */
	struct event		 idle_ev;

	/* The transaction. */
	struct msg		*msg;
	struct rcpt		**rcpts;	/* selected, in RCPT order */
	size_t			 nrcpts;
	size_t			 sent;		/* commands sent */
	size_t			 replied;
	int			 mail_failed;
	int			 need_rset;
	size_t			 naccepted;
	size_t			 ndot;		/* replies after the dot */
	int			 discard_dot;	/* DATA with no recipient */

	int			 bodyfd;
	struct body_encoder	 enc;

	struct smtp_reply	 reply;		/* the one being read */
};

TAILQ_HEAD(lmtp_sessions, lmtp_session);

static struct lmtp_sessions	 sessions = TAILQ_HEAD_INITIALIZER(sessions);
static unsigned int		 nsessions;
static struct channel		*parent_ch;
static uint64_t			 next_reqid = 1;
/* The session being read; lmtp_free() clears it when it goes away. */
static struct lmtp_session	*reading;

static void	lmtp_io(struct io *, int, void *);
static void	lmtp_fail(struct lmtp_session *, const char *);
static void	lmtp_start_txn(struct lmtp_session *);

void
lmtp_init(struct channel *ch)
{
	parent_ch = ch;
}

static void
lmtp_free(struct lmtp_session *s)
{
	if (reading == s)
		reading = NULL;
	TAILQ_REMOVE(&sessions, s, entry);
	nsessions--;
	evtimer_del(&s->idle_ev);
	if (s->io != NULL)
		io_free(s->io);
	if (s->bodyfd != -1)
		close(s->bodyfd);
	free(s->rcpts);
	free(s);
}

static void
lmtp_idle_timeout(int fd, short ev, void *arg)
{
	struct lmtp_session	*s = arg;

	log_debug("lmtp session idle, closing");
	s->state = LS_QUIT;
	io_print(s->io, "QUIT\r\n");
	io_set_timeout(s->io, 5000);
}

static void
lmtp_set_idle(struct lmtp_session *s)
{
	struct timeval	 tv = { LMTP_IDLE_SEC, 0 };

	s->state = LS_IDLE;
	io_set_timeout(s->io, 0);
	evtimer_add(&s->idle_ev, &tv);
}

/* Attach the selected recipients of m to the session. */
static int
lmtp_attach(struct lmtp_session *s, struct msg *m)
{
	struct rcpt	*r;
	size_t		 n = 0;

	TAILQ_FOREACH(r, &m->env.rcpts, entry)
		if (r->inflight)
			n++;
	free(s->rcpts);
	if ((s->rcpts = calloc(n, sizeof(*s->rcpts))) == NULL)
		return -1;
	n = 0;
	TAILQ_FOREACH(r, &m->env.rcpts, entry)
		if (r->inflight) {
			r->accepted = 0;
			r->reply = 0;
			s->rcpts[n++] = r;
		}
	s->nrcpts = n;
	s->msg = m;
	s->sent = s->replied = s->naccepted = s->ndot = 0;
	s->mail_failed = s->discard_dot = 0;
	return 0;
}

int
lmtp_deliver(struct msg *m)
{
	struct lmtp_session		*s;
	struct msg_queue_lmtp_connect	 c;
	unsigned int			 max = queue_conf->queue_lmtp_sessions;

	TAILQ_FOREACH(s, &sessions, entry)
		if (s->state == LS_IDLE)
			break;
	if (s != NULL) {
		evtimer_del(&s->idle_ev);
		if (lmtp_attach(s, m) == -1)
			return -1;
		lmtp_start_txn(s);
		return 0;
	}
	if (nsessions >= (max ? max : 1))
		return -1;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return -1;
	s->bodyfd = -1;
	s->reqid = next_reqid++;
	s->state = LS_CONNECTING;
	evtimer_set(&s->idle_ev, lmtp_idle_timeout, s);
	if (lmtp_attach(s, m) == -1) {
		free(s);
		return -1;
	}
	c.id = s->reqid;
	if (channel_send(parent_ch, msg_queue_lmtp_connect_pack(&c, -1)) ==
	    -1)
		fatalx("cannot ask the parent for an LMTP connection");
	TAILQ_INSERT_TAIL(&sessions, s, entry);
	nsessions++;
	return 0;
}

/* The parent's answer to LMTP_CONNECT. */
void
lmtp_fd(struct imsg *imsg, struct msg_queue_lmtp_fd *m)
{
	struct lmtp_session	*s;
	uint8_t			 failed = m->failed;
	int			 fd = imsg->fd;

	imsg->fd = -1;
	TAILQ_FOREACH(s, &sessions, entry)
		if (s->reqid == m->id && s->state == LS_CONNECTING)
			break;
	if (s == NULL)
		fatalx("LMTP_FD for an unknown request");
	if (failed || fd == -1) {
		if (fd != -1)
			close(fd);
		lmtp_fail(s, "cannot connect to the LMTP server");
		return;
	}
	if ((s->io = io_new(fd, lmtp_io, s)) == NULL) {
		close(fd);
		lmtp_fail(s, "out of memory");
		return;
	}
	io_set_timeout(s->io, LMTP_TIMEOUT_MSEC);
	io_set_lowat(s->io, LMTP_OUT_LOW);
	s->state = LS_GREETING;
}

/* Record a final answer for a recipient of the transaction. */
static void
rcpt_result(struct rcpt *r, int code, const char *text)
{
	r->reply = code;
	strlcpy(r->error, text, sizeof(r->error));
}

/*
 * The transaction is over: hand the results to the scheduler and make
 * the session available again.
 */
static void
lmtp_txn_done(struct lmtp_session *s)
{
	struct msg	*m = s->msg;

	s->msg = NULL;
	if (s->need_rset) {
		s->need_rset = 0;
		s->state = LS_RSET;
		io_print(s->io, "RSET\r\n");
	} else
		lmtp_set_idle(s);
	scheduler_done(m);
	/* Free again: the next waiting message goes out at once. */
	if (s->state == LS_IDLE)
		scheduler_lmtp_ready();
}

/*
 * Connection lost, timeout or protocol error: the recipients without a
 * final answer stay pending and are retried.
 */
static void
lmtp_fail(struct lmtp_session *s, const char *why)
{
	struct msg	*m = s->msg;
	size_t		 i;
	char		 text[REPLY_MAX];

	if (m != NULL) {
		log_warnx("%s: lmtp: %s", m->env.id, why);
		snprintf(text, sizeof(text), "lmtp: %s", why);
		for (i = 0; i < s->nrcpts; i++)
			if (s->rcpts[i]->reply == 0)
				rcpt_result(s->rcpts[i], 0, text);
		s->msg = NULL;
	} else if (s->state != LS_QUIT)
		log_warnx("lmtp: %s", why);
	lmtp_free(s);
	if (m != NULL)
		scheduler_done(m);
	/* A session may be opened in its place. */
	scheduler_lmtp_ready();
	scheduler_kick();
}

static void
lmtp_send_cmd(struct lmtp_session *s)
{
	struct envelope	*env = &s->msg->env;
	struct rcpt	*r;

	if (s->sent == 0) {
		io_printf(s->io, "MAIL FROM:<%s>%s%s\r\n", env->sender,
		    env->body != 0 ? " BODY=8BITMIME" : "",
		    env->smtputf8 ? " SMTPUTF8" : "");
	} else if (s->sent <= s->nrcpts) {
		r = s->rcpts[s->sent - 1];
		/* Only tsamba-lmtpd offers it, and only to us. */
		io_printf(s->io, "RCPT TO:<%s>%s\r\n", r->addr,
		    (r->flags & RCPT_JUNK) && s->folder ?
		    " " LMTP_FOLDER_PARAM "=Junk" : "");
	} else
		io_print(s->io, "DATA\r\n");
	s->sent++;
}

static void
lmtp_start_txn(struct lmtp_session *s)
{
	s->state = LS_TXN;
	io_set_timeout(s->io, LMTP_TIMEOUT_MSEC);
	log_debug("%s: lmtp transaction, %zu recipients", s->msg->env.id,
	    s->nrcpts);
	if (s->pipelining)
		while (s->sent < s->nrcpts + 2)
			lmtp_send_cmd(s);
	else
		lmtp_send_cmd(s);
}

/* 0, or -1 when the session failed (and is freed). */
static int
lmtp_body_start(struct lmtp_session *s)
{
	char	 path[64];

	spool_msgpath("queue", s->msg->env.id, path, sizeof(path));
	if ((s->bodyfd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		log_warn("%s", path);
		lmtp_fail(s, "cannot open the message file");
		return -1;
	}
	body_encoder_init(&s->enc);
	s->state = LS_BODY;
	/* The envelope's header fields first: CRLF lines, no dot to stuff. */
	if (io_print(s->io, spool_prefix(&s->msg->env)) == -1) {
		lmtp_fail(s, "output buffer");
		return -1;
	}
	return 0;
}

/*
 * Stream the message with dot-stuffing and CRLF line ends until the
 * output buffer is full; IO_LOWAT brings us back.
 */
static void
lmtp_body_pump(struct lmtp_session *s)
{
	unsigned char	 in[LMTP_CHUNK], out[2 * LMTP_CHUNK + 2];
	ssize_t		 n;
	size_t		 o;

	while (s->state == LS_BODY && io_queued(s->io) < LMTP_OUT_HIGH) {
		n = read(s->bodyfd, in, sizeof(in));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			log_warn("%s: read", s->msg->env.id);
			lmtp_fail(s, "cannot read the message file");
			return;
		}
		if (n == 0) {
			close(s->bodyfd);
			s->bodyfd = -1;
			if (body_needs_eol(&s->enc))
				io_print(s->io, "\r\n");
			io_print(s->io, ".\r\n");
			s->state = LS_DOT;
			return;
		}
		o = body_encode(&s->enc, in, n, out);
		if (io_write(s->io, out, o) == -1) {
			lmtp_fail(s, "output buffer");
			return;
		}
	}
}

/* A reply to MAIL, RCPT or DATA. */
static void
lmtp_txn_reply(struct lmtp_session *s)
{
	size_t	 idx = s->replied++, i;
	struct rcpt *r;

	if (idx == 0) {
		if (!smtp_reply_is_2xx(s->reply.code)) {
			s->mail_failed = 1;
			s->need_rset = 1;
			for (i = 0; i < s->nrcpts; i++)
				rcpt_result(s->rcpts[i], s->reply.code,
				    s->reply.text);
		}
	} else if (idx <= s->nrcpts) {
		r = s->rcpts[idx - 1];
		if (s->mail_failed)
			;
		else if (smtp_reply_is_2xx(s->reply.code)) {
			r->accepted = 1;
			s->naccepted++;
		} else
			rcpt_result(r, s->reply.code, s->reply.text);
	} else {
		/* DATA */
		if (s->reply.code == 354 && s->naccepted > 0) {
			if (lmtp_body_start(s) == 0)
				lmtp_body_pump(s);
			return;
		}
		if (s->reply.code == 354) {
			/* A server that took DATA without recipients. */
			io_print(s->io, ".\r\n");
			s->discard_dot = 1;
			s->state = LS_DOT;
			return;
		}
		for (i = 0; i < s->nrcpts; i++)
			if (s->rcpts[i]->accepted)
				rcpt_result(s->rcpts[i], s->reply.code,
				    s->reply.text);
		s->need_rset = 1;
		lmtp_txn_done(s);
		return;
	}

	if (s->pipelining)
		return;
	/* One command at a time: stop early when nothing can follow. */
	if (s->mail_failed || (idx == s->nrcpts && s->naccepted == 0)) {
		s->need_rset = 1;
		lmtp_txn_done(s);
		return;
	}
	lmtp_send_cmd(s);
}

static void
lmtp_dot_reply(struct lmtp_session *s)
{
	size_t	 i, n = 0;

	if (s->discard_dot) {
		lmtp_txn_done(s);
		return;
	}
	for (i = 0; i < s->nrcpts; i++) {
		if (!s->rcpts[i]->accepted)
			continue;
		if (n++ == s->ndot) {
			rcpt_result(s->rcpts[i], s->reply.code, s->reply.text);
			break;
		}
	}
	if (++s->ndot == s->naccepted)
		lmtp_txn_done(s);
}

/* A complete reply (its last line read) in s->reply. */
static void
lmtp_reply(struct lmtp_session *s)
{
	switch (s->state) {
	case LS_GREETING:
		if (s->reply.code != 220) {
			lmtp_fail(s, s->reply.text);
			return;
		}
		s->state = LS_LHLO;
		io_printf(s->io, "LHLO %s\r\n", queue_conf->hostname);
		break;
	case LS_LHLO:
		if (!smtp_reply_is_2xx(s->reply.code)) {
			lmtp_fail(s, s->reply.text);
			return;
		}
		lmtp_start_txn(s);
		break;
	case LS_TXN:
		lmtp_txn_reply(s);
		break;
	case LS_DOT:
		lmtp_dot_reply(s);
		break;
	case LS_RSET:
		if (!smtp_reply_is_2xx(s->reply.code)) {
			lmtp_fail(s, s->reply.text);
			return;
		}
		lmtp_set_idle(s);
		scheduler_lmtp_ready();
		break;
	case LS_QUIT:
		lmtp_free(s);
		scheduler_lmtp_ready();
		break;
	default:
		lmtp_fail(s, "unexpected reply");
		break;
	}
}

static void
lmtp_read(struct lmtp_session *s)
{
	const char	*ext;
	char		*line;
	size_t		 len;
	int		 toolong, bare, r;

	reading = s;
	while (reading == s &&
	    (line = io_getline(s->io, &len, &toolong, &bare)) != NULL) {
		if (s->state == LS_IDLE || s->state == LS_CONNECTING ||
		    s->state == LS_BODY) {
			lmtp_fail(s, "unexpected input from the server");
			break;
		}
		if ((r = smtp_reply_line(&s->reply, line, len)) == -1) {
			lmtp_fail(s, "malformed reply");
			break;
		}
		if (s->state == LS_LHLO &&
		    (ext = smtp_reply_ext(&s->reply, line, len)) != NULL &&
		    strcasecmp(ext, "PIPELINING") == 0)
			s->pipelining = 1;
		if (s->state == LS_LHLO && ext != NULL &&
		    strcasecmp(ext, LMTP_FOLDER_PARAM) == 0)
			s->folder = 1;
		if (r == 1)
			lmtp_reply(s);
	}
	reading = NULL;
}

static void
lmtp_io(struct io *io, int event, void *arg)
{
	struct lmtp_session	*s = arg;

	switch (event) {
	case IO_DATAIN:
		lmtp_read(s);
		break;
	case IO_LOWAT:
		if (s->state == LS_BODY)
			lmtp_body_pump(s);
		break;
	case IO_TIMEOUT:
		lmtp_fail(s, "timeout");
		break;
	case IO_DISCONNECTED:
		lmtp_fail(s, "connection closed by the server");
		break;
	case IO_ERROR:
		lmtp_fail(s, io_error(io));
		break;
	default:
		break;
	}
}
