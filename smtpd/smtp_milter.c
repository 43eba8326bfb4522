/*
 * The milter client of the smtp engine: once a message is in its spool
 * file and before MSG_COMMIT, each milter of the listener, in order, is
 * given the whole transaction over one connection (OPTNEG, CONNECT,
 * HELO, MAIL, RCPT, DATA, the headers, EOH, the body, EOB) and its
 * verdict and edits are applied: accept, reject, tempfail or a custom
 * reply, discard (250, then the file is rolled back), quarantine (the
 * message is committed on hold), header and body edits (the spool file
 * is rewritten before the next milter reads it), a new sender, deleted
 * recipients and added ones (looked up with authd like RCPT TO).
 *
 * The conversation is per message rather than per SMTP command: no
 * milter connection waits on an idle client, and every milter sees the
 * transaction exactly as it will be committed.  A reject at CONNECT,
 * HELO or MAIL therefore refuses the message at the end of DATA; one at
 * RCPT drops that recipient only.
 *
 * A milter that is down, too slow (its timeout counts for the connect
 * and for each reply; SMFIR_PROGRESS restarts it) or breaks the
 * protocol gets its on-failure action: tempfail (451 4.7.1) or accept
 * (the message goes on without it).  Every such event is logged.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <event.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "addr.h"
#include "conf.h"
#include "esc.h"
#include "log.h"
#include "milter.h"
#include "proto.h"
#include "smtpd.h"
#include "stats.h"

#define SID(s)	((unsigned long long)(s)->id)

#define MILTER_HEADERS_MAX	(1024 * 1024)	/* header block read */
#define MILTER_OUT_MAX		(MILTER_CHUNK_MAX * 2 + 65536)
#define MILTER_IN_START		4096

/* Where the conversation with the current milter stands. */
enum mstage {
	MS_CONNECTING = 0,
	MS_OPTNEG,
	MS_CONNECT,
	MS_HELO,
	MS_MAIL,
	MS_RCPT,
	MS_DATA,
	MS_HEADER,
	MS_EOH,
	MS_BODY,
	MS_EOB,
	MS_DONE,
};

struct mhdr {
	TAILQ_ENTRY(mhdr)	 entry;
	char			*name;
	char			*value;	/* after the colon, folds kept */
};
TAILQ_HEAD(mhdr_list, mhdr);

struct maddr {
	TAILQ_ENTRY(maddr)	 entry;
	char			 addr[ADDR_MAX + 1];
};
TAILQ_HEAD(maddr_list, maddr);

struct milter_run {
	TAILQ_ENTRY(milter_run)	 entry;		/* while the parent connects */
	uint64_t		 connect_id;	/* 0: not waiting for it */
	struct smtp_session	*s;
	struct smtp_tx		*tx;
	int			 msgfd;		/* the spool file */
	off_t			 body_off;	/* where the body starts */
	off_t			 body_len;
	struct mhdr_list	 headers;

	size_t			 idx;		/* of the listener's milters */
	struct conf_milter	*cm;
	int			 fd;
	struct event		 ev_read;
	struct event		 ev_write;
	struct event		 ev_timer;
	int			 writing;
	enum mstage		 stage;
	int			 waiting;	/* for a reply */
	char			 awaiting;	/* to this SMFIC_* */
	uint32_t		 version;	/* negotiated */
	uint32_t		 actions;
	uint32_t		 proto;
	struct milter_out	 out;
	size_t			 outoff;
	uint8_t			*in;
	size_t			 inlen;
	size_t			 insize;
	struct smtp_rcpt	*rcpt;		/* the one at MS_RCPT */
	struct mhdr		*hdr;		/* the one at MS_HEADER */
	off_t			 body_pos;

	/* Edits asked at EOB by the current milter. */
	int			 edited;	/* headers or body */
	uint8_t			*newbody;
	size_t			 newbodylen;
	int			 replbody;

	/* Over all milters. */
	struct maddr_list	 addrcpts;	/* to look up */
	int			 held;
	struct channel_req	 lookup;	/* authd LOOKUP_RCPT */
};

/* Runs waiting for the parent to connect a UNIX-socket milter. */
static TAILQ_HEAD(, milter_run) connecting = TAILQ_HEAD_INITIALIZER(connecting);
static uint64_t		 connect_ids;	/* CONNECT ids, ours alone */

static void	 run_begin(int, short, void *);
static void	 run_free(struct milter_run *);
static void	 run_next_milter(struct milter_run *);
static void	 run_finish(struct milter_run *);
static void	 run_verdict_reply(struct milter_run *, const char *);
static void	 milter_close(struct milter_run *);
static void	 milter_fail(struct milter_run *, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));
static void	 milter_connect(struct milter_run *);
static uint32_t	 milter_index(const struct conf_milter *);
static void	 milter_io(int, short, void *);
static void	 milter_timeout(int, short, void *);
static void	 milter_step(struct milter_run *);
static int	 milter_send_stage(struct milter_run *, int *);
static int	 milter_flush(struct milter_run *);
static void	 milter_input(struct milter_run *);
static int	 milter_handle(struct milter_run *, struct milter_reply *);
static void	 milter_timer(struct milter_run *);
static void	 milter_count(const char *);
static int	 read_headers(struct milter_run *);
static int	 apply_edits(struct milter_run *);
static void	 refusal_text(const struct milter_reply *, char *, size_t);
static void	 lookup_next(struct milter_run *);
static void	 lookup_answer(struct channel_req *, struct imsg *,
		    union imsg_msg *);

int
milter_wanted(struct smtp_session *s)
{
	const struct conf_listen	*cl = s->l->cl;

	if (cl->nmilters == 0)
		return 0;
	/* Submissions only where the listener asks (DKIM signing). */
	if (s->auth_user[0] != '\0' && !(cl->flags & LISTEN_MILTER_AUTH))
		return 0;
	return 1;
}

int
milter_start(struct smtp_session *s, int msgfd)
{
	static const struct timeval	 now = { 0, 0 };
	struct milter_run		*run;

	if ((run = calloc(1, sizeof(*run))) == NULL) {
		log_warn("session %016llx: milter", SID(s));
		if (msgfd != -1)
			close(msgfd);
		return -1;
	}
	run->s = s;
	run->tx = s->tx;
	run->msgfd = msgfd;
	run->fd = -1;
	TAILQ_INIT(&run->headers);
	TAILQ_INIT(&run->addrcpts);
	s->tx->milter = run;
	/*
	 * From the event loop, not from inside the session's input
	 * loop: a verdict that comes at once (a milter refusing the
	 * connect) then resumes the session like any other answer.
	 */
	evtimer_set(&run->ev_timer, run_begin, run);
	evtimer_add(&run->ev_timer, &now);
	return 0;
}

static void
run_begin(int fd, short ev, void *arg)
{
	struct milter_run	*run = arg;

	if (run->msgfd == -1 || read_headers(run) == -1) {
		log_warnx("session %016llx: message %s: cannot read it for "
		    "the milters", SID(run->s), run->tx->msgid);
		run_verdict_reply(run, NULL);
		return;
	}
	run->idx = 0;
	run_next_milter(run);
}

/* The transaction goes (RSET, end of session): drop the run with it. */
void
milter_tx_free(struct smtp_tx *tx)
{
	if (tx->milter == NULL)
		return;
	run_free(tx->milter);
	tx->milter = NULL;
}

static void
run_free(struct milter_run *run)
{
	struct mhdr	*h;
	struct maddr	*a;

	milter_close(run);
	channel_req_cancel(&run->lookup);
	/* A begin or connect timer may still be pending. */
	if (evtimer_initialized(&run->ev_timer))
		evtimer_del(&run->ev_timer);
	if (run->msgfd != -1)
		close(run->msgfd);
	while ((h = TAILQ_FIRST(&run->headers)) != NULL) {
		TAILQ_REMOVE(&run->headers, h, entry);
		free(h->name);
		free(h->value);
		free(h);
	}
	while ((a = TAILQ_FIRST(&run->addrcpts)) != NULL) {
		TAILQ_REMOVE(&run->addrcpts, a, entry);
		free(a);
	}
	free(run->newbody);
	free(run->in);
	milter_out_free(&run->out);
	free(run);
}

/* The message's verdict is in: give the session back its turn. */
static void
run_end(struct milter_run *run, int commit)
{
	struct smtp_session	*s = run->s;

	run->tx->milter = NULL;
	if (commit)
		run->tx->held = run->held;
	run_free(run);
	smtp_milter_done(s, commit);
}

/* A refusal: the milter's own reply, or 451 4.7.1 when reply is NULL. */
static void
run_verdict_reply(struct milter_run *run, const char *reply)
{
	struct smtp_session	*s = run->s;
	char			 line[1024];
	const char		*p, *eol;
	size_t			 n;

	if (reply == NULL) {
		smtp_status(s, 451, ESC_DELIVERY_NOT_AUTHORIZED,
		    "Error: content filter unavailable, try again later");
		run_end(run, 0);
		return;
	}
	for (p = reply; ; p = eol + 2) {
		if ((eol = strstr(p, "\r\n")) == NULL)
			n = strlen(p);
		else
			n = eol - p;
		if (n >= sizeof(line))
			n = sizeof(line) - 1;
		memcpy(line, p, n);
		line[n] = '\0';
		/* A reply cut to fit ends on its last line all the same. */
		if (eol == NULL && n > 3 && line[3] == '-')
			line[3] = ' ';
		smtp_reply(s, "%s", line);
		if (eol == NULL)
			break;
	}
	run_end(run, 0);
}

static void
run_next_milter(struct milter_run *run)
{
	const struct conf_listen	*cl = run->s->l->cl;

	milter_close(run);
	if (run->idx >= cl->nmilters) {
		run_finish(run);
		return;
	}
	run->cm = cl->milters[run->idx++];
	run->stage = MS_CONNECTING;
	run->waiting = 0;
	run->edited = 0;
	run->replbody = 0;
	free(run->newbody);
	run->newbody = NULL;
	run->newbodylen = 0;
	run->inlen = 0;
	run->outoff = 0;
	milter_out_free(&run->out);
	milter_out_init(&run->out, MILTER_OUT_MAX);
	milter_connect(run);
}

/* Every milter had its say: look up added recipients, then commit. */
static void
run_finish(struct milter_run *run)
{
	if (!TAILQ_EMPTY(&run->addrcpts)) {
		lookup_next(run);
		return;
	}
	if (TAILQ_EMPTY(&run->tx->rcpts)) {
		log_info("session %016llx: message %s: the milters left no "
		    "recipient, dropped", SID(run->s), run->tx->msgid);
		smtp_status(run->s, 250, ESC_OTHER_STATUS, "Ok: queued as %s",
		    run->tx->msgid);
		run_end(run, 0);
		return;
	}
	run_end(run, 1);
}

static void
milter_close(struct milter_run *run)
{
	if (run->connect_id != 0) {
		TAILQ_REMOVE(&connecting, run, entry);
		run->connect_id = 0;
		evtimer_del(&run->ev_timer);
	}
	if (run->fd == -1)
		return;
	event_del(&run->ev_read);
	event_del(&run->ev_write);
	evtimer_del(&run->ev_timer);
	close(run->fd);
	run->fd = -1;
	run->writing = 0;
}

/* Down, slow or broken: the milter's on-failure action. */
static void
milter_fail(struct milter_run *run, const char *fmt, ...)
{
	char	 why[256];
	va_list	 ap;

	va_start(ap, fmt);
	(void)vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	milter_close(run);
	milter_count("failure");
	if (run->cm->on_failure == MILTER_FAIL_ACCEPT) {
		log_warnx("session %016llx: milter %s: %s: skipped for "
		    "message %s", SID(run->s), run->cm->name, why,
		    run->tx->msgid);
		run_next_milter(run);
		return;
	}
	log_warnx("session %016llx: milter %s: %s: message %s tempfailed",
	    SID(run->s), run->cm->name, why, run->tx->msgid);
	run_verdict_reply(run, NULL);
}

/* tsamba_milter_actions_total{action=...} (tsamba-smtpd(8)). */
static void
milter_count(const char *action)
{
	stats_inc(ST_MILTER_ACTIONS, stats_label_index(SL_MILTER_ACTION,
	    action));
}

static void
milter_timer(struct milter_run *run)
{
	struct timeval	 tv;

	tv.tv_sec = run->cm->timeout;
	tv.tv_usec = 0;
	evtimer_add(&run->ev_timer, &tv);
}

static void
milter_timeout(int fd, short ev, void *arg)
{
	struct milter_run	*run = arg;

	static const char *const names[] = { "connecting", "OPTNEG",
	    "CONNECT", "HELO", "MAIL", "RCPT", "DATA", "HEADER", "EOH",
	    "BODY", "EOB", "QUIT" };

	if (run->stage == MS_CONNECTING)
		milter_fail(run, "timed out connecting");
	else
		milter_fail(run, "timed out waiting for the reply to %s",
		    names[run->stage]);
}

static void
milter_connect(struct milter_run *run)
{
	struct conf_milter	*cm = run->cm;
	int			 fd;

	evtimer_set(&run->ev_timer, milter_timeout, run);
	/*
	 * The engine's chroot is empty: the parent connects a UNIX
	 * socket (as the engine's user, so the socket's permissions
	 * still decide) and passes it, as for authd and the queue.
	 */
	if (cm->ss.ss_family == AF_UNIX) {
		run->connect_id = ++connect_ids;
		TAILQ_INSERT_TAIL(&connecting, run, entry);
		engine_connect_milter(run->connect_id, milter_index(cm));
		milter_timer(run);
		return;
	}
	fd = socket(cm->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1) {
		milter_fail(run, "socket: %s", strerror(errno));
		return;
	}
	run->fd = fd;
	event_set(&run->ev_read, fd, EV_READ | EV_PERSIST, milter_io, run);
	event_set(&run->ev_write, fd, EV_WRITE, milter_io, run);
	if (connect(fd, (struct sockaddr *)&cm->ss, cm->sslen) == -1 &&
	    errno != EINPROGRESS) {
		milter_fail(run, "connect %s: %s", cm->target,
		    strerror(errno));
		return;
	}
	/* Writable once connected (or failed: SO_ERROR says). */
	run->writing = 1;
	event_add(&run->ev_write, NULL);
	milter_timer(run);
}

static uint32_t
milter_index(const struct conf_milter *cm)
{
	const struct conf_milter	*m;
	uint32_t			 i = 0;

	TAILQ_FOREACH(m, &smtpd_conf->milters, entry) {
		if (m == cm)
			break;
		i++;
	}
	return i;
}

void
milter_connected(uint64_t id, int fd)
{
	struct milter_run	*run;

	TAILQ_FOREACH(run, &connecting, entry)
		if (run->connect_id == id)
			break;
	if (run == NULL) {
		/* The message went meanwhile. */
		if (fd != -1)
			close(fd);
		return;
	}
	TAILQ_REMOVE(&connecting, run, entry);
	run->connect_id = 0;
	if (fd == -1) {
		milter_fail(run, "connect %s failed", run->cm->target);
		return;
	}
	if (fcntl(fd, F_SETFL, O_NONBLOCK) == -1) {
		close(fd);
		milter_fail(run, "fcntl: %s", strerror(errno));
		return;
	}
	run->fd = fd;
	event_set(&run->ev_read, fd, EV_READ | EV_PERSIST, milter_io, run);
	event_set(&run->ev_write, fd, EV_WRITE, milter_io, run);
	run->writing = 1;
	event_add(&run->ev_write, NULL);
}

static void
milter_io(int fd, short ev, void *arg)
{
	struct milter_run	*run = arg;
	socklen_t		 len;
	int			 err;

	if (ev & EV_WRITE) {
		run->writing = 0;
		if (run->stage == MS_CONNECTING) {
			len = sizeof(err);
			if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err,
			    &len) == -1)
				err = errno;
			if (err != 0) {
				milter_fail(run, "connect %s: %s",
				    run->cm->target, strerror(err));
				return;
			}
			evtimer_del(&run->ev_timer);
			event_add(&run->ev_read, NULL);
			run->stage = MS_OPTNEG;
			if (milter_put_optneg(&run->out, MILTER_VERSION,
			    MILTER_ACTIONS_OFFERED, MILTER_PROTO_OFFERED) ==
			    -1) {
				milter_fail(run, "cannot build OPTNEG");
				return;
			}
			run->waiting = 1;
			milter_timer(run);
		}
		if (milter_flush(run) == 0)
			milter_step(run);
		return;
	}
	if (ev & EV_READ)
		milter_input(run);
}

/* Write what is queued: 0 all out, 1 some left, -1 the run failed. */
static int
milter_flush(struct milter_run *run)
{
	ssize_t	 n;

	while (run->outoff < run->out.len) {
		n = write(run->fd, run->out.buf + run->outoff,
		    run->out.len - run->outoff);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				if (!run->writing) {
					run->writing = 1;
					event_add(&run->ev_write, NULL);
				}
				/* A milter that stops reading times out. */
				if (!run->waiting)
					milter_timer(run);
				return 1;
			}
			milter_fail(run, "write: %s", strerror(errno));
			return -1;
		}
		run->outoff += n;
	}
	milter_out_reset(&run->out);
	run->outoff = 0;
	if (!run->waiting && run->stage != MS_CONNECTING)
		evtimer_del(&run->ev_timer);
	return 0;
}

static void
milter_input(struct milter_run *run)
{
	struct milter_reply	 r;
	const uint8_t		*data;
	size_t			 dlen, used, need;
	uint8_t			*nin;
	ssize_t			 n;
	char			 cmd, err[128];
	uint32_t		 plen;
	int			 rv;

	if (run->inlen == run->insize) {
		need = run->insize ? run->insize * 2 : MILTER_IN_START;
		if (run->inlen >= 4) {
			memcpy(&plen, run->in, 4);
			plen = ntohl(plen);
			if (plen <= MILTER_PACKET_MAX + 1 && 4 + plen > need)
				need = 4 + plen;
		}
		if (need > MILTER_PACKET_MAX + MILTER_HDR_LEN)
			need = MILTER_PACKET_MAX + MILTER_HDR_LEN;
		if (need <= run->insize) {
			milter_fail(run, "reply too long");
			return;
		}
		if ((nin = realloc(run->in, need)) == NULL) {
			milter_fail(run, "out of memory");
			return;
		}
		run->in = nin;
		run->insize = need;
	}
	n = read(run->fd, run->in + run->inlen, run->insize - run->inlen);
	if (n == -1) {
		if (errno == EINTR || errno == EAGAIN)
			return;
		milter_fail(run, "read: %s", strerror(errno));
		return;
	}
	if (n == 0) {
		milter_fail(run, "connection closed");
		return;
	}
	run->inlen += n;
	for (;;) {
		rv = milter_frame(run->in, run->inlen, MILTER_PACKET_MAX,
		    &cmd, &data, &dlen, &used);
		if (rv == 0)
			return;
		if (rv == -1) {
			milter_fail(run, "bad packet length");
			return;
		}
		if (milter_parse_reply(cmd, data, dlen, &r, err,
		    sizeof(err)) == -1) {
			milter_fail(run, "bad reply: %s", err);
			return;
		}
		/* Handled before the buffer moves: r points into it. */
		rv = milter_handle(run, &r);
		if (rv == -1)
			return;		/* run failed, ended or moved on */
		memmove(run->in, run->in + used, run->inlen - used);
		run->inlen -= used;
		if (rv == 1) {
			milter_step(run);
			return;
		}
	}
}

/*
 * Go through the stages this milter takes part in until a reply is
 * awaited, the output is full, or the milter is done with (then the
 * next one starts).
 */
static void
milter_step(struct milter_run *run)
{
	int	 reply;

	for (;;) {
		if (run->out.len > run->outoff && milter_flush(run) != 0)
			return;		/* output pending, or failed */
		if (run->waiting)
			return;
		if (run->stage == MS_DONE) {
			/* This milter let the message through. */
			milter_count("accept");
			/* Best effort: the milter may be gone already. */
			if (milter_put_quit(&run->out) == 0)
				(void)write(run->fd, run->out.buf,
				    run->out.len);
			milter_close(run);
			if (apply_edits(run) == -1)
				return;
			run_next_milter(run);
			return;
		}
		if (milter_send_stage(run, &reply) == -1)
			return;
		log_debug("session %016llx: milter %s: stage %d queued, "
		    "%zu bytes, reply %d", SID(run->s), run->cm->name,
		    run->stage, run->out.len, reply);
		if (reply) {
			run->waiting = 1;
			milter_timer(run);
		}
	}
}

static const char *
macro_proto(struct smtp_session *s)
{
	return s->esmtp ? "ESMTP" : "SMTP";
}

/*
 * Queue the packets of the current stage and move stage on; *reply
 * says whether the milter answers it.  -1: the run failed.
 */
static int
milter_send_stage(struct milter_run *run, int *reply)
{
	struct smtp_session	*s = run->s;
	struct smtp_tx		*tx = run->tx;
	struct milter_out	*o = &run->out;
	uint32_t		 p = run->proto;
	char			 path[ADDR_MAX + 3], portbuf[8];
	char			 buf[MILTER_CHUNK_MAX];
	const char		*args[1], *value;
	ssize_t			 n;
	size_t			 want;

	*reply = 0;
	switch (run->stage) {
	case MS_CONNECTING:
	case MS_OPTNEG:
	case MS_DONE:
		return 0;
	case MS_CONNECT:
		run->stage = MS_HELO;
		if (p & SMFIP_NOCONNECT)
			return 0;
		(void)snprintf(portbuf, sizeof(portbuf), "%d", s->port);
		{
			struct milter_macro	 m[] = {
				{ "j", smtpd_conf->hostname },
				{ "{daemon_name}", "tsamba" },
				{ "v", "tsamba" },
				{ "{client_addr}", s->ip },
				{ "{client_port}", portbuf },
				{ "{client_name}", "unknown" },
				{ "{client_ptr}", "unknown" },
				{ "_", s->ip },
			};
			(void)milter_put_macros(o, SMFIC_CONNECT, m,
			    sizeof(m) / sizeof(m[0]));
		}
		(void)milter_put_connect(o, "unknown",
		    s->ss.ss_family == AF_INET6 ? '6' : '4', s->port, s->ip);
		*reply = !(p & SMFIP_NR_CONN);
		run->awaiting = SMFIC_CONNECT;
		break;
	case MS_HELO:
		run->stage = MS_MAIL;
		if ((p & SMFIP_NOHELO) || s->helo[0] == '\0')
			return 0;
		{
			struct milter_macro	 m[] = {
				{ "{tls_version}", s->tls ? "TLS" : NULL },
			};
			(void)milter_put_macros(o, SMFIC_HELO, m, 1);
		}
		(void)milter_put_helo(o, s->helo);
		*reply = !(p & SMFIP_NR_HELO);
		run->awaiting = SMFIC_HELO;
		break;
	case MS_MAIL:
		run->stage = MS_RCPT;
		run->rcpt = TAILQ_FIRST(&tx->rcpts);
		if (p & SMFIP_NOMAIL)
			return 0;
		{
			struct milter_macro	 m[] = {
				{ "i", tx->msgid },
				{ "{mail_addr}", tx->sender },
				{ "{auth_authen}", s->auth_user[0] != '\0' ?
				    s->auth_user : NULL },
				{ "{auth_type}", s->auth_user[0] != '\0' ?
				    "PLAIN" : NULL },
				{ "r", macro_proto(s) },
			};
			(void)milter_put_macros(o, SMFIC_MAIL, m,
			    sizeof(m) / sizeof(m[0]));
		}
		(void)snprintf(path, sizeof(path), "<%s>", tx->sender);
		args[0] = path;
		(void)milter_put_mail(o, args, 1);
		*reply = !(p & SMFIP_NR_MAIL);
		run->awaiting = SMFIC_MAIL;
		break;
	case MS_RCPT:
		if (run->rcpt == NULL) {
			run->stage = MS_DATA;
			return 0;
		}
		if (p & SMFIP_NORCPT) {
			run->stage = MS_DATA;
			return 0;
		}
		{
			struct milter_macro	 m[] = {
				{ "{rcpt_addr}", run->rcpt->addr },
			};
			(void)milter_put_macros(o, SMFIC_RCPT, m, 1);
		}
		(void)snprintf(path, sizeof(path), "<%s>", run->rcpt->orcpt);
		args[0] = path;
		(void)milter_put_rcpt(o, args, 1);
		*reply = !(p & SMFIP_NR_RCPT);
		run->awaiting = SMFIC_RCPT;
		/* Without a reply to wait for, the next one now. */
		if (!*reply)
			run->rcpt = TAILQ_NEXT(run->rcpt, entry);
		break;
	case MS_DATA:
		run->stage = MS_HEADER;
		run->hdr = TAILQ_FIRST(&run->headers);
		/* DATA came with version 4 of the protocol. */
		if ((p & SMFIP_NODATA) || run->version < 4)
			return 0;
		{
			struct milter_macro	 m[] = {
				{ "i", tx->msgid },
			};
			(void)milter_put_macros(o, SMFIC_DATA, m, 1);
		}
		(void)milter_put_data(o);
		*reply = !(p & SMFIP_NR_DATA);
		run->awaiting = SMFIC_DATA;
		break;
	case MS_HEADER:
		if (run->hdr == NULL || (p & SMFIP_NOHDRS)) {
			run->stage = MS_EOH;
			return 0;
		}
		value = run->hdr->value;
		/* Without HDR_LEADSPC the milter sees no leading space. */
		if (!(p & SMFIP_HDR_LEADSPC) && *value == ' ')
			value++;
		(void)milter_put_header(o, run->hdr->name, value);
		*reply = !(p & SMFIP_NR_HDR);
		run->awaiting = SMFIC_HEADER;
		run->hdr = TAILQ_NEXT(run->hdr, entry);
		break;
	case MS_EOH:
		run->stage = MS_BODY;
		run->body_pos = 0;
		if (p & SMFIP_NOEOH)
			return 0;
		(void)milter_put_eoh(o);
		*reply = !(p & SMFIP_NR_EOH);
		run->awaiting = SMFIC_EOH;
		break;
	case MS_BODY:
		if ((p & SMFIP_NOBODY) || run->body_pos >= run->body_len) {
			run->stage = MS_EOB;
			return 0;
		}
		want = run->body_len - run->body_pos;
		if (want > sizeof(buf))
			want = sizeof(buf);
		n = pread(run->msgfd, buf, want, run->body_off +
		    run->body_pos);
		if (n <= 0) {
			log_warn("session %016llx: message %s: read",
			    SID(s), tx->msgid);
			run_verdict_reply(run, NULL);
			return -1;
		}
		run->body_pos += n;
		(void)milter_put_body(o, buf, n);
		*reply = !(p & SMFIP_NR_BODY);
		run->awaiting = SMFIC_BODY;
		break;
	case MS_EOB:
		{
			struct milter_macro	 m[] = {
				{ "i", tx->msgid },
			};
			(void)milter_put_macros(o, SMFIC_BODYEOB, m, 1);
		}
		(void)milter_put_eob(o);
		*reply = 1;
		run->awaiting = SMFIC_BODYEOB;
		break;
	}
	if (o->error) {
		milter_fail(run, "packet too large for the milter");
		return -1;
	}
	return 0;
}

/* An address from a milter, "<a@b>" or "a@b", into mbox: 0 or -1. */
static int
milter_addr(const char *in, char *mbox, size_t size, int allow_null)
{
	struct mailaddr	 a;
	const char	*rest;

	if (addr_parse_path(in, &a, ADDR_ALLOW_NOBRACKET | ADDR_ALLOW_UTF8 |
	    (allow_null ? ADDR_ALLOW_NULL : 0), &rest) == -1 || *rest != '\0')
		return -1;
	addr_format(&a, mbox, size);
	return 0;
}

static int
edit_header(struct milter_run *run, struct milter_reply *r)
{
	struct mhdr	*h, *at = NULL;
	uint32_t	 i = 0;
	char		*value, *q;
	const char	*p;

	/* Folds as "\r\n" in the file; a milter may use "\n" alone. */
	if ((value = malloc(strlen(r->value) * 2 + 2)) == NULL)
		return -1;
	q = value;
	if (!(run->proto & SMFIP_HDR_LEADSPC))
		*q++ = ' ';
	for (p = r->value; *p != '\0'; p++) {
		if (*p == '\n' && (p == r->value || p[-1] != '\r'))
			*q++ = '\r';
		*q++ = *p;
	}
	*q = '\0';
	if (r->cmd == SMFIR_CHGHEADER) {
		TAILQ_FOREACH(h, &run->headers, entry)
			if (strcasecmp(h->name, r->name) == 0 &&
			    ++i == (r->index ? r->index : 1))
				break;
		if (h != NULL && r->value[0] == '\0') {
			TAILQ_REMOVE(&run->headers, h, entry);
			free(h->name);
			free(h->value);
			free(h);
			free(value);
			return 0;
		}
		if (h != NULL) {
			free(h->value);
			h->value = value;
			return 0;
		}
		if (r->value[0] == '\0') {
			free(value);
			return 0;
		}
		/* Changing a header that is not there adds it. */
	}
	if ((h = calloc(1, sizeof(*h))) == NULL ||
	    (h->name = strdup(r->name)) == NULL) {
		free(h);
		free(value);
		return -1;
	}
	h->value = value;
	if (r->cmd == SMFIR_INSHEADER) {
		TAILQ_FOREACH(at, &run->headers, entry)
			if (i++ == r->index)
				break;
	}
	if (at != NULL)
		TAILQ_INSERT_BEFORE(at, h, entry);
	else
		TAILQ_INSERT_TAIL(&run->headers, h, entry);
	return 0;
}

static void
del_rcpt(struct milter_run *run, const char *mbox)
{
	struct smtp_tx		*tx = run->tx;
	struct smtp_rcpt	*r, *next;

	TAILQ_FOREACH_SAFE(r, &tx->rcpts, entry, next) {
		if (strcasecmp(r->addr, mbox) != 0 &&
		    strcasecmp(r->orcpt, mbox) != 0)
			continue;
		if (run->rcpt == r)
			run->rcpt = next;
		TAILQ_REMOVE(&tx->rcpts, r, entry);
		tx->envsize -= 2 + strlen(r->addr) + 2 + strlen(r->orcpt) + 1;
		log_info("session %016llx: message %s: milter %s removed "
		    "recipient <%s>", SID(run->s), tx->msgid, run->cm->name,
		    r->addr);
		free(r);
	}
}

/*
 * The reply a refusal gets: the milter's own (SMFIR_REPLYCODE, cut to
 * whole lines if too long), else 550 5.7.1 or 451 4.7.1.
 */
static void
refusal_text(const struct milter_reply *r, char *reply, size_t size)
{
	char	*cut;

	if (r->cmd == SMFIR_REJECT) {
		(void)esc_reply(reply, size, 550, ESC_DELIVERY_NOT_AUTHORIZED,
		    "Error: message content rejected");
		return;
	}
	if (r->cmd == SMFIR_TEMPFAIL) {
		(void)esc_reply(reply, size, 451, ESC_DELIVERY_NOT_AUTHORIZED,
		    "Error: message content deferred, try again later");
		return;
	}
	if (strlcpy(reply, r->text, size) < size)
		return;
	for (cut = reply + strlen(reply); cut > reply + 1; cut--)
		if (cut[-1] == '\n' && cut[-2] == '\r') {
			cut[-2] = '\0';
			break;
		}
}

/* A reply that needs the negotiated action: -1 if not negotiated. */
static int
need_action(struct milter_run *run, struct milter_reply *r, uint32_t act)
{
	if (run->awaiting != SMFIC_BODYEOB) {
		milter_fail(run, "%s before end of message",
		    milter_cmd_name(r->cmd));
		return -1;
	}
	if (!(run->actions & act)) {
		milter_fail(run, "%s without negotiating it",
		    milter_cmd_name(r->cmd));
		return -1;
	}
	return 0;
}

/*
 * One reply.  0: keep reading; 1: the awaited reply, go on with the
 * next stage; -1: the run failed, ended or moved on to another milter.
 */
static int
milter_handle(struct milter_run *run, struct milter_reply *r)
{
	struct smtp_tx	*tx = run->tx;
	struct maddr	*a;
	char		 mbox[ADDR_MAX + 1], err[128], reply[2048];
	uint8_t		*nb;

	log_debug("session %016llx: milter %s: %s", SID(run->s),
	    run->cm->name, milter_cmd_name(r->cmd));
	if (!run->waiting) {
		milter_fail(run, "%s without a request",
		    milter_cmd_name(r->cmd));
		return -1;
	}
	if (run->stage == MS_OPTNEG) {
		if (milter_check_optneg(r, MILTER_ACTIONS_OFFERED,
		    MILTER_PROTO_OFFERED, err, sizeof(err)) == -1) {
			milter_fail(run, "negotiation: %s", err);
			return -1;
		}
		run->version = r->version;
		run->actions = r->actions;
		run->proto = r->proto;
		run->stage = MS_CONNECT;
		evtimer_del(&run->ev_timer);
		run->waiting = 0;
		return 1;
	}
	switch (r->cmd) {
	case SMFIR_PROGRESS:
		milter_timer(run);
		return 0;
	case SMFIR_CONTINUE:
		break;
	case SMFIR_SKIP:
		if (run->awaiting != SMFIC_BODY ||
		    !(run->proto & SMFIP_SKIP)) {
			milter_fail(run, "SKIP out of the body");
			return -1;
		}
		evtimer_del(&run->ev_timer);
		run->waiting = 0;
		run->stage = MS_EOB;
		return 1;
	case SMFIR_ACCEPT:
		/* This milter is done with the message, edits and all. */
		run->awaiting = 0;
		log_debug("session %016llx: milter %s: accept",
		    SID(run->s), run->cm->name);
		run->stage = MS_DONE;
		break;
	case SMFIR_REJECT:
	case SMFIR_TEMPFAIL:
	case SMFIR_REPLYCODE:
		refusal_text(r, reply, sizeof(reply));
		milter_count(r->cmd == SMFIR_REPLYCODE ? "replycode" :
		    r->cmd == SMFIR_REJECT ? "reject" : "tempfail");
		if (run->awaiting == SMFIC_RCPT) {
			/* That recipient only, as at RCPT TO. */
			log_info("session %016llx: message %s: milter %s "
			    "refused a recipient", SID(run->s), tx->msgid,
			    run->cm->name);
			smtp_log_milter(run->s, run->cm->name,
			    run->rcpt->orcpt, reply);
			if (reply[0] == '5')
				stats_inc(ST_SMTP_RCPT_REJECTED,
				    run->s->l->slot);
			strlcpy(mbox, run->rcpt->addr, sizeof(mbox));
			del_rcpt(run, mbox);
			if (TAILQ_EMPTY(&tx->rcpts)) {
				milter_close(run);
				run_verdict_reply(run, reply);
				return -1;
			}
			run->waiting = 0;
			evtimer_del(&run->ev_timer);
			return 1;
		}
		log_info("session %016llx: message %s refused by milter %s",
		    SID(run->s), tx->msgid, run->cm->name);
		smtp_log_milter(run->s, run->cm->name, NULL, reply);
		milter_close(run);
		run_verdict_reply(run, reply);
		return -1;
	case SMFIR_DISCARD:
		milter_count("discard");
		log_info("session %016llx: message %s discarded by milter %s: "
		    "from=<%s>", SID(run->s), tx->msgid, run->cm->name,
		    tx->sender);
		milter_close(run);
		smtp_status(run->s, 250, ESC_OTHER_STATUS, "Ok: queued as %s",
		    tx->msgid);
		run_end(run, 0);
		return -1;
	case SMFIR_QUARANTINE:
		if (need_action(run, r, SMFIF_QUARANTINE) == -1)
			return -1;
		milter_count("quarantine");
		log_info("session %016llx: message %s quarantined by milter "
		    "%s: %s", SID(run->s), tx->msgid, run->cm->name, r->text);
		run->held = 1;
		return 0;
	case SMFIR_ADDHEADER:
	case SMFIR_INSHEADER:
	case SMFIR_CHGHEADER:
		if (need_action(run, r, r->cmd == SMFIR_CHGHEADER ?
		    SMFIF_CHGHDRS : SMFIF_ADDHDRS) == -1)
			return -1;
		if (edit_header(run, r) == -1) {
			milter_fail(run, "out of memory");
			return -1;
		}
		milter_count("header");
		run->edited = 1;
		return 0;
	case SMFIR_REPLBODY:
		if (need_action(run, r, SMFIF_CHGBODY) == -1)
			return -1;
		if (run->newbodylen + r->bodylen >
		    smtpd_conf->max_message_size) {
			milter_fail(run, "replaced body too large");
			return -1;
		}
		if ((nb = realloc(run->newbody, run->newbodylen +
		    r->bodylen + 1)) == NULL) {
			milter_fail(run, "out of memory");
			return -1;
		}
		if (!run->replbody)
			milter_count("body");
		memcpy(nb + run->newbodylen, r->body, r->bodylen);
		run->newbody = nb;
		run->newbodylen += r->bodylen;
		run->replbody = 1;
		run->edited = 1;
		return 0;
	case SMFIR_CHGFROM:
		if (need_action(run, r, SMFIF_CHGFROM) == -1)
			return -1;
		if (milter_addr(r->addr, mbox, sizeof(mbox), 1) == -1) {
			milter_fail(run, "CHGFROM: bad address");
			return -1;
		}
		milter_count("sender");
		log_info("session %016llx: message %s: milter %s changed the "
		    "sender <%s> to <%s>", SID(run->s), tx->msgid,
		    run->cm->name, tx->sender, mbox);
		tx->envsize += strlen(mbox);
		tx->envsize -= strlen(tx->sender);
		strlcpy(tx->sender, mbox, sizeof(tx->sender));
		return 0;
	case SMFIR_ADDRCPT:
	case SMFIR_ADDRCPT_PAR:
		if (need_action(run, r, r->cmd == SMFIR_ADDRCPT ?
		    SMFIF_ADDRCPT : SMFIF_ADDRCPT_PAR) == -1)
			return -1;
		if (milter_addr(r->addr, mbox, sizeof(mbox), 0) == -1) {
			milter_fail(run, "ADDRCPT: bad address");
			return -1;
		}
		if ((a = calloc(1, sizeof(*a))) == NULL) {
			milter_fail(run, "out of memory");
			return -1;
		}
		strlcpy(a->addr, mbox, sizeof(a->addr));
		TAILQ_INSERT_TAIL(&run->addrcpts, a, entry);
		milter_count("recipient");
		return 0;
	case SMFIR_DELRCPT:
		if (need_action(run, r, SMFIF_DELRCPT) == -1)
			return -1;
		if (milter_addr(r->addr, mbox, sizeof(mbox), 0) == -1) {
			milter_fail(run, "DELRCPT: bad address");
			return -1;
		}
		del_rcpt(run, mbox);
		milter_count("recipient");
		return 0;
	default:
		milter_fail(run, "unexpected %s", milter_cmd_name(r->cmd));
		return -1;
	}
	/* CONTINUE, SKIP or ACCEPT: the awaited answer. */
	evtimer_del(&run->ev_timer);
	run->waiting = 0;
	if (run->awaiting == SMFIC_RCPT && run->rcpt != NULL)
		run->rcpt = TAILQ_NEXT(run->rcpt, entry);
	else if (run->awaiting == SMFIC_BODYEOB)
		run->stage = MS_DONE;
	return 1;
}

/*
 * The header block of the spool file into run->headers.  The body
 * starts after the empty line, or at the first line that is no header
 * (nothing is lost: the rewrite puts the empty line in).
 */
static int
read_headers(struct milter_run *run)
{
	struct stat	 st;
	struct mhdr	*h;
	char		*buf, *p, *end, *line, *colon;
	size_t		 len;
	ssize_t		 n;

	if (fstat(run->msgfd, &st) == -1)
		return -1;
	len = st.st_size < MILTER_HEADERS_MAX ? st.st_size :
	    MILTER_HEADERS_MAX;
	if ((buf = malloc(len + 1)) == NULL)
		return -1;
	if ((n = pread(run->msgfd, buf, len, 0)) != (ssize_t)len) {
		free(buf);
		return -1;
	}
	buf[len] = '\0';
	p = buf;
	end = buf + len;
	while (p < end) {
		line = p;
		if (end - p >= 2 && p[0] == '\r' && p[1] == '\n') {
			p += 2;
			break;
		}
		/* One header: up to a CRLF not followed by a fold. */
		while ((p = memchr(p, '\n', end - p)) != NULL && p + 1 < end &&
		    (p[1] == ' ' || p[1] == '\t'))
			p++;
		if (p == NULL || p + 1 > end || p == line || p[-1] != '\r' ||
		    (colon = memchr(line, ':', p - line)) == NULL ||
		    colon == line || memchr(line, ' ', colon - line) != NULL ||
		    memchr(line, '\t', colon - line) != NULL) {
			p = line;
			break;
		}
		if ((h = calloc(1, sizeof(*h))) == NULL ||
		    (h->name = strndup(line, colon - line)) == NULL ||
		    (h->value = strndup(colon + 1, p - 1 - colon - 1)) ==
		    NULL) {
			if (h != NULL)
				free(h->name);
			free(h);
			free(buf);
			return -1;
		}
		TAILQ_INSERT_TAIL(&run->headers, h, entry);
		p++;
	}
	run->body_off = p - buf;
	run->body_len = st.st_size - run->body_off;
	free(buf);
	return 0;
}

/* A replaced body with CRLF line ends only, and a last CRLF. */
static uint8_t *
body_crlf(const uint8_t *in, size_t len, size_t *outlen)
{
	uint8_t	*out, *q;
	size_t	 i;

	if ((out = malloc(len * 2 + 2)) == NULL)
		return NULL;
	q = out;
	for (i = 0; i < len; i++) {
		if (in[i] == '\r' && i + 1 < len && in[i + 1] == '\n') {
			*q++ = '\r';
			*q++ = '\n';
			i++;
		} else if (in[i] == '\r' || in[i] == '\n') {
			*q++ = '\r';
			*q++ = '\n';
		} else
			*q++ = in[i];
	}
	if (q > out && q[-1] != '\n') {
		*q++ = '\r';
		*q++ = '\n';
	}
	*outlen = q - out;
	return out;
}

/* Write the edited headers and body back into the spool file. */
static int
apply_edits(struct milter_run *run)
{
	struct mhdr	*h;
	uint8_t		*body = NULL, *msg = NULL;
	size_t		 bodylen, hlen = 2, len;
	ssize_t		 n;

	if (!run->edited)
		return 0;
	if (run->replbody)
		body = body_crlf(run->newbody, run->newbodylen, &bodylen);
	else if ((body = malloc(run->body_len + 1)) != NULL) {
		bodylen = run->body_len;
		if (pread(run->msgfd, body, bodylen, run->body_off) !=
		    (ssize_t)bodylen) {
			free(body);
			body = NULL;
		}
	}
	if (body == NULL)
		goto fail;
	TAILQ_FOREACH(h, &run->headers, entry)
		hlen += strlen(h->name) + 1 + strlen(h->value) + 2;
	if ((msg = malloc(hlen + bodylen)) == NULL)
		goto fail;
	len = 0;
	TAILQ_FOREACH(h, &run->headers, entry)
		len += snprintf((char *)msg + len, hlen - len, "%s:%s\r\n",
		    h->name, h->value);
	memcpy(msg + len, "\r\n", 2);
	len += 2;
	memcpy(msg + len, body, bodylen);
	len += bodylen;
	if ((n = pwrite(run->msgfd, msg, len, 0)) != (ssize_t)len ||
	    ftruncate(run->msgfd, len) == -1)
		goto fail;
	run->body_off = hlen;
	run->body_len = bodylen;
	log_info("session %016llx: message %s: edited by milter %s",
	    SID(run->s), run->tx->msgid, run->cm->name);
	free(body);
	free(msg);
	return 0;
 fail:
	log_warn("session %016llx: message %s: rewriting it for milter %s",
	    SID(run->s), run->tx->msgid, run->cm->name);
	free(body);
	free(msg);
	run_verdict_reply(run, NULL);
	return -1;
}

/*
 * Added recipients go through authd like RCPT TO: aliases expand, an
 * unknown local user is left out (logged), and a domain not hosted
 * here is delivered remotely, since the admin's milter asked for it.
 * The run asks on its own request (the session's is for its commands)
 * with the session's lookup timeout.
 */
static void
lookup_next(struct milter_run *run)
{
	struct maddr			*a = TAILQ_FIRST(&run->addrcpts);
	struct msg_auth_lookup_rcpt	 m = { .address = a->addr };
	struct channel			*ch;

	if ((ch = engine_channel(CONNECT_AUTHD)) == NULL)
		goto fail;
	m.id = channel_req_add(ch, &run->lookup,
	    smtpd_conf->timeout_lookup * 1000, lookup_answer, run);
	if (channel_send(ch, msg_auth_lookup_rcpt_pack(&m, -1)) == -1) {
		channel_req_cancel(&run->lookup);
		goto fail;
	}
	return;
 fail:
	log_warnx("session %016llx: message %s: cannot look up the "
	    "recipients a milter added", SID(run->s), run->tx->msgid);
	run_verdict_reply(run, NULL);
}

/*
 * authd's answer for a recipient a milter added, or (imsg NULL) its
 * failure: authd lost or too slow.
 */
static void
lookup_answer(struct channel_req *r, struct imsg *imsg, union imsg_msg *u)
{
	struct milter_run		*run = r->arg;
	struct smtp_session		*s = run->s;
	struct msg_auth_rcpt_result	*m;
	struct rec_auth_rcpt		 e;
	struct channel			*ch;
	struct maddr			*a;
	int				 full = 0;

	if (imsg == NULL) {
		log_warnx("session %016llx: message %s: authd did not answer "
		    "for the recipients a milter added", SID(s),
		    run->tx->msgid);
		run_verdict_reply(run, NULL);
		return;
	}
	m = &u->auth_rcpt_result;
	if (imsg->hdr.type != IMSG_AUTH_RCPT_RESULT ||
	    (m->rcpts.n > 0 && m->status != LOOKUP_OK) ||
	    m->status > LOOKUP_INVALID) {
		log_warnx("session %016llx: %s makes no sense here", SID(s),
		    imsg_type_name(imsg->hdr.type));
		/* The verdict frees run and r with it. */
		ch = engine_channel(CONNECT_AUTHD);
		run_verdict_reply(run, NULL);
		if (ch != NULL)
			channel_drop(ch, "malformed or unexpected answer");
		return;
	}
	a = TAILQ_FIRST(&run->addrcpts);
	TAILQ_REMOVE(&run->addrcpts, a, entry);
	strlcpy(run->tx->pending_orcpt, a->addr,
	    sizeof(run->tx->pending_orcpt));
	switch (m->status) {
	case LOOKUP_OK:
		while (!full && rec_auth_rcpt_next(imsg, &m->rcpts, &e) == 0)
			if (smtp_tx_add_rcpt(run->tx, e.mailbox,
			    e.flags & RCPT_LOCAL) == -1)
				full = 1;
		break;
	case LOOKUP_NOTHOSTED:
		if (smtp_tx_add_rcpt(run->tx, a->addr, 0) == -1)
			full = 1;
		break;
	case LOOKUP_TEMPFAIL:
		free(a);
		log_warnx("session %016llx: message %s: lookup of an added "
		    "recipient failed", SID(s), run->tx->msgid);
		run_verdict_reply(run, NULL);
		return;
	default:
		break;
	}
	if (full)
		log_warnx("session %016llx: message %s: envelope full, added "
		    "recipient <%s> left out", SID(s), run->tx->msgid,
		    a->addr);
	else if (m->rcpts.n > 0 || m->status == LOOKUP_NOTHOSTED)
		log_info("session %016llx: message %s: recipient <%s> added "
		    "by a milter", SID(s), run->tx->msgid, a->addr);
	else
		log_info("session %016llx: message %s: added recipient <%s> "
		    "unknown, left out", SID(s), run->tx->msgid, a->addr);
	free(a);
	run_finish(run);
}
