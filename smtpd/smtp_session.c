/*
 * One SMTP session (RFC 5321): the state machine, the commands and their
 * replies, pipelining (commands are taken in order and reading stops
 * while one waits for authd, the queue or the milters), STARTTLS,
 * timeouts and the per-session limits.  The transaction is in
 * smtp_tx.c, message bodies in smtp_data.c, AUTH, the sender check and
 * the ban check in smtp_auth.c, the milters in smtp_milter.c.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/tree.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "conf.h"
#include "esc.h"
#include "imsg.h"
#include "io.h"
#include "ip_limit.h"
#include "listener.h"
#include "stats.h"
#include "log.h"
#include "proto.h"
#include "tls_ctx.h"
#include "smtpd.h"

#define SID(s)	((unsigned long long)(s)->id)

static TAILQ_HEAD(, smtp_session) smtp_sessions =
    TAILQ_HEAD_INITIALIZER(smtp_sessions);
static unsigned int		 smtp_nsessions;

static void	smtp_io(struct io *, int, void *);
static void	smtp_lifetime(int, short, void *);
static void	smtp_free(struct smtp_session *, const char *);
static void	smtp_banner(struct smtp_session *);
static void	smtp_input(struct smtp_session *);
static void	smtp_line(struct smtp_session *, char *, size_t, int, int);
static int	smtp_data_input(struct smtp_session *);
static int	smtp_bdat_input(struct smtp_session *);
static void	smtp_bdat_chunk_done(struct smtp_session *);
static void	smtp_message_done(struct smtp_session *);
static void	smtp_commit(struct smtp_session *);
static void	smtp_checked(struct smtp_session *);
static void	smtp_filter(struct smtp_session *, int);
static int	smtp_grey_ask(struct smtp_session *, struct smtp_rcpt *,
		    size_t);
static void	smtp_reset(struct smtp_session *);
static void	smtp_req_abandon(struct smtp_session *);
static void	smtp_req_failed(struct smtp_session *);
static void	smtp_req_answer(struct channel_req *, struct imsg *,
		    union imsg_msg *);
static int	smtp_session_rcpt_result(struct smtp_session *,
		    struct imsg *, struct msg_auth_rcpt_result *);
static int	smtp_session_msg_created(struct smtp_session *,
		    struct imsg *, struct msg_queue_msg_created *);
static int	smtp_session_msg_committed(struct smtp_session *,
		    struct msg_queue_msg_committed *);
static int	smtp_send_create(struct smtp_session *);
static void	smtp_rcpt_accepted(struct smtp_session *);
static void	smtp_cmd_helo(struct smtp_session *, char *);
static void	smtp_cmd_ehlo(struct smtp_session *, char *);
static void	smtp_cmd_starttls(struct smtp_session *, char *);
static void	smtp_cmd_mail(struct smtp_session *, char *);
static void	smtp_cmd_rcpt(struct smtp_session *, char *);
static void	smtp_cmd_data(struct smtp_session *, char *);
static void	smtp_cmd_bdat(struct smtp_session *, char *);
static void	smtp_cmd_rset(struct smtp_session *, char *);
static void	smtp_cmd_noop(struct smtp_session *, char *);
static void	smtp_cmd_quit(struct smtp_session *, char *);
static void	smtp_cmd_vrfy(struct smtp_session *, char *);
static void	smtp_cmd_expn(struct smtp_session *, char *);
static void	smtp_cmd_help(struct smtp_session *, char *);

static void (*const smtp_handlers[CMD_NVERBS])(struct smtp_session *,
    char *) = {
	[CMD_HELO] =		smtp_cmd_helo,
	[CMD_EHLO] =		smtp_cmd_ehlo,
	[CMD_STARTTLS] =	smtp_cmd_starttls,
	[CMD_MAIL] =		smtp_cmd_mail,
	[CMD_RCPT] =		smtp_cmd_rcpt,
	[CMD_DATA] =		smtp_cmd_data,
	[CMD_BDAT] =		smtp_cmd_bdat,
	[CMD_RSET] =		smtp_cmd_rset,
	[CMD_NOOP] =		smtp_cmd_noop,
	[CMD_QUIT] =		smtp_cmd_quit,
	[CMD_VRFY] =		smtp_cmd_vrfy,
	[CMD_EXPN] =		smtp_cmd_expn,
	[CMD_HELP] =		smtp_cmd_help,
	[CMD_AUTH] =		auth_cmd,
};

/* Refuse a connection before any session exists for it. */
static void
smtp_refuse(int fd, struct smtp_listener *l, const char *msg)
{
	char	 buf[512];
	int	 n;

	stats_inc(ST_SMTP_REFUSED, l->slot);
	/* On an implicit TLS port a clear text reply would be noise. */
	if (!(l->cl->flags & LISTEN_SMTPS)) {
		n = snprintf(buf, sizeof(buf), "%s\r\n", msg);
		if (n > 0 && (size_t)n < sizeof(buf))
			(void)send(fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
	}
	close(fd);
}

void
smtp_session_new(int fd, struct smtp_listener *l, struct sockaddr_storage *ss,
    socklen_t sslen)
{
	struct smtp_session	*s;
	struct timeval		 tv;
	char			 ip[SMTP_IP_MAX], msg[CONF_HOST_MAX + 128];
	int			 port = 0;

	stats_inc(ST_SMTP_CONNECTIONS, l->slot);
	if (getnameinfo((struct sockaddr *)ss, sslen, ip, sizeof(ip), NULL, 0,
	    NI_NUMERICHOST) != 0)
		strlcpy(ip, "unknown", sizeof(ip));
	if (ss->ss_family == AF_INET)
		port = ntohs(((struct sockaddr_in *)ss)->sin_port);
	else if (ss->ss_family == AF_INET6)
		port = ntohs(((struct sockaddr_in6 *)ss)->sin6_port);

	if (smtpd_conf->max_sessions != 0 &&
	    smtp_nsessions >= smtpd_conf->max_sessions) {
		(void)esc_reply(msg, sizeof(msg), 421,
		    ESC_SYSTEM_NOT_ACCEPTING, "%s Too many sessions, try "
		    "again later", smtpd_conf->hostname);
		smtp_log_refuse(ip, port, msg);
		smtp_refuse(fd, l, msg);
		return;
	}
	if (limits_ip_acquire(ss, smtpd_conf->max_sessions_per_ip) == -1) {
		(void)esc_reply(msg, sizeof(msg), 421,
		    ESC_OTHER_SECURITY_STATUS, "%s Too many connections from "
		    "your address, try again later", smtpd_conf->hostname);
		smtp_log_refuse(ip, port, msg);
		smtp_refuse(fd, l, msg);
		return;
	}

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		log_warn("session: calloc");
		limits_ip_release(ss);
		close(fd);
		return;
	}
	s->id = ((uint64_t)arc4random() << 32) | arc4random();
	s->iprev_result = -1;
	s->l = l;
	s->ss = *ss;
	strlcpy(s->ip, ip, sizeof(s->ip));
	s->port = port;
	if ((s->io = io_new(fd, smtp_io, s)) == NULL) {
		log_warn("session: io_new");
		limits_ip_release(ss);
		close(fd);
		free(s);
		return;
	}
	TAILQ_INSERT_TAIL(&smtp_sessions, s, entry);
	smtp_nsessions++;
	stats_inc(ST_SMTP_SESSIONS, l->slot);

	/* RFC 5321 4.5.3.1.4: the 1000 octets include the CRLF. */
	io_set_maxline(s->io, smtpd_conf->max_line > 2 ?
	    smtpd_conf->max_line - 2 : 1);
	/* RFC 4954 4: an AUTH line may be longer. */
	if ((l->cl->flags & LISTEN_AUTH) &&
	    smtpd_conf->max_line < SMTP_AUTH_LINE_MAX)
		io_set_maxline(s->io, SMTP_AUTH_LINE_MAX - 2);
	io_set_timeout(s->io, smtpd_conf->timeout_idle * 1000);
	io_set_output_limit(s->io, SMTP_OUTPUT_LIMIT);
	evtimer_set(&s->lifetime, smtp_lifetime, s);
	if (smtpd_conf->timeout_session != 0) {
		tv.tv_sec = smtpd_conf->timeout_session;
		tv.tv_usec = 0;
		evtimer_add(&s->lifetime, &tv);
	}

	log_info("session %016llx: connect from [%s]:%d on %s port %u%s",
	    SID(s), s->ip, s->port, l->cl->addr, l->cl->port,
	    (l->cl->flags & LISTEN_SMTPS) ? " (smtps)" : "");
	auth_check_ban(s);
}

/* The ban check is done: implicit TLS or the banner. */
int
smtp_session_start(struct smtp_session *s)
{
	if (s->l->cl->flags & LISTEN_SMTPS) {
		s->tlsctx = tls_ctx_get(s->l->cl);
		if (s->tlsctx == NULL ||
		    io_start_tls_server(s->io, s->tlsctx->tls) == -1) {
			log_warnx("session %016llx: cannot start TLS: %s",
			    SID(s), s->tlsctx ? io_error(s->io) :
			    "no certificate");
			smtp_free(s, "TLS unavailable");
			return -1;
		}
		s->tls_handshake = 1;
		return 0;
	}
	smtp_banner(s);
	return 0;
}

/* The lists and iprev have answered: greet, or turn the client away. */
static void
smtp_connect_checked(struct smtp_session *s)
{
	if (--s->connect_pending > 0)
		return;
	s->req = REQ_NONE;
	smtp_banner(s);
	if (s->mode != MODE_CLOSING)
		smtp_req_done(s);
}

/* The DNS lists and FCrDNS, at once: 1 if the greeting waits for them. */
static int
smtp_connect_checks(struct smtp_session *s)
{
	if (s->banned || s->connect_checked)
		return 0;
	s->connect_checked = 1;
	if (dnsbl_start(s, smtp_connect_checked) == 0) {
		s->dnsbl_state = DNSBL_CLEAR;
		s->connect_pending++;
	}
	if (smtp_iprev_start(s, smtp_connect_checked) == 0)
		s->connect_pending++;
	if (s->connect_pending == 0)
		return 0;
	smtp_req_start(s, REQ_CHECK);
	return 1;
}

static void
smtp_banner(struct smtp_session *s)
{
	if (smtp_connect_checks(s))
		return;
	s->banner_sent = 1;
	/* With "dnsbl-at rcpt" the client is refused at RCPT TO instead. */
	if (s->dnsbl_state == DNSBL_LISTED && CONF_CHECK(s->l->cl,
	    smtpd_conf, check_dnsbl_at) == CHECK_DNSBL_CONNECT) {
		stats_inc(ST_CHECK_DNSBL, s->l->slot);
		smtp_log_refusing(s);
		smtp_close(s, 554, ESC_DELIVERY_NOT_AUTHORIZED, "Service "
		    "unavailable; client [%s] blocked using %s", s->ip,
		    s->dnsbl_zone);
		return;
	}
	if (s->banned) {
		smtp_log_refusing(s);
		stats_inc(ST_SMTP_BANNED, s->l->slot);
		smtp_close(s, 421, ESC_OTHER_SECURITY_STATUS, "%s Too many "
		    "failed logins from your address, try again later",
		    smtpd_conf->hostname);
		return;
	}
	smtp_reply(s, "220 %s ESMTP tsamba", smtpd_conf->hostname);
}

static void
smtp_free(struct smtp_session *s, const char *why)
{
	log_info("session %016llx: disconnect from [%s]:%d messages=%u "
	    "(%s)", SID(s), s->ip, s->port, s->nmessages, why);
	smtp_req_abandon(s);
	dnsbl_cancel(s);
	smtp_iprev_cancel(s);
	channel_req_cancel(&s->grey_req);
	smtp_reset(s);
	evtimer_del(&s->lifetime);
	io_free(s->io);
	tls_ctx_put(s->tlsctx);
	limits_ip_release(&s->ss);
	TAILQ_REMOVE(&smtp_sessions, s, entry);
	smtp_nsessions--;
	stats_dec(ST_SMTP_SESSIONS, s->l->slot);
	free(s);
	/* A listener paused for want of descriptors may go on. */
	listener_fd_freed();
}

static void
smtp_io(struct io *io, int event, void *arg)
{
	struct smtp_session	*s = arg;

	switch (event) {
	case IO_DATAIN:
		smtp_input(s);
		break;
	case IO_LOWAT:
		if (s->mode == MODE_CLOSING && io_queued(s->io) == 0)
			smtp_free(s, "closed");
		break;
	case IO_TLSREADY:
		s->tls_handshake = 0;
		s->tls = 1;
		stats_inc(ST_SMTP_TLS, stats_label_index(SL_TLS,
		    io_tls_info(s->io)));
		log_info("session %016llx: TLS started: %s", SID(s),
		    io_tls_info(s->io));
		if (!s->banner_sent)
			smtp_banner(s);
		break;
	case IO_TIMEOUT:
		if (s->mode == MODE_CLOSING || s->tls_handshake) {
			smtp_free(s, "timeout");
			break;
		}
		smtp_close(s, 421, ESC_BAD_CONNECTION,
		    "%s Error: timeout exceeded", smtpd_conf->hostname);
		break;
	case IO_DISCONNECTED:
		smtp_free(s, s->mode == MODE_CLOSING ? "closed" :
		    "client went away");
		break;
	case IO_ERROR:
	default:
		smtp_free(s, io_error(s->io));
		break;
	}
}

static void
smtp_lifetime(int fd, short ev, void *arg)
{
	struct smtp_session	*s = arg;

	if (s->mode == MODE_CLOSING || s->tls_handshake) {
		smtp_free(s, "session time limit");
		return;
	}
	smtp_close(s, 421, ESC_BAD_CONNECTION,
	    "%s Error: session time limit exceeded", smtpd_conf->hostname);
}

void
smtp_reply(struct smtp_session *s, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	io_vprintf(s->io, fmt, ap);
	va_end(ap);
	io_print(s->io, "\r\n");
}

/* "code x.y.z text": the enhanced code of the reply's class. */
static void
smtp_vstatus(struct smtp_session *s, int code, enum esc_code esc,
    const char *fmt, va_list ap)
{
	char	 line[512];
	int	 n;

	/* Formatted once, for the client and for smtp_log_reply(). */
	n = snprintf(line, sizeof(line), "%d %s ", code,
	    esc_for_reply(code, esc));
	if (n > 0 && (size_t)n < sizeof(line))
		(void)vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	smtp_log_reply(s, line);
	io_print(s->io, line);
	io_print(s->io, "\r\n");
}

void
smtp_status(struct smtp_session *s, int code, enum esc_code esc,
    const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	smtp_vstatus(s, code, esc, fmt, ap);
	va_end(ap);
}

/* A reply to a bad command: too many of them end the session. */
void
smtp_error(struct smtp_session *s, int code, enum esc_code esc,
    const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	smtp_vstatus(s, code, esc, fmt, ap);
	va_end(ap);
	if (++s->nerrors >= SMTP_MAX_ERRORS)
		smtp_close(s, 421, ESC_OTHER_SECURITY_STATUS,
		    "%s Error: too many errors", smtpd_conf->hostname);
}

/* Send a last reply; the session ends once it is written. */
void
smtp_close(struct smtp_session *s, int code, enum esc_code esc,
    const char *fmt, ...)
{
	va_list	 ap;

	if (s->mode == MODE_CLOSING)
		return;
	va_start(ap, fmt);
	smtp_vstatus(s, code, esc, fmt, ap);
	va_end(ap);
	s->mode = MODE_CLOSING;
	/* An answer still due from authd or the queue is not awaited. */
	smtp_req_abandon(s);
	io_pause_read(s->io);
	/*
	 * The idle timer is off after it fired: without a new one a client
	 * that never reads would keep the session (and its slot) until the
	 * session time limit.  The last reply gets a short grace.
	 */
	io_set_timeout(s->io, (smtpd_conf->timeout_idle < SMTP_CLOSE_GRACE ?
	    smtpd_conf->timeout_idle : SMTP_CLOSE_GRACE) * 1000);
}

/*
 * Forget the pending request.  A commit in flight may still succeed:
 * the message is then the queue's and must not be rolled back (the
 * client saw no 250 and may send it again; a duplicate, never a loss).
 */
static void
smtp_req_abandon(struct smtp_session *s)
{
	if (s->req == REQ_COMMIT && s->tx != NULL)
		s->tx->msgid[0] = '\0';
	/* The milters' verdict is no longer wanted: their run ends now. */
	if (s->req == REQ_MILTER && s->tx != NULL)
		milter_tx_free(s->tx);
	/* A late answer goes to the engine (a spool file goes back). */
	channel_req_cancel(&s->creq);
	s->req = REQ_NONE;
}

/* Take buffered input in order until it runs out or a request waits. */
static void
smtp_input(struct smtp_session *s)
{
	char	*line;
	size_t	 len;
	int	 toolong, bare;

	while (s->req == REQ_NONE && !s->tls_handshake) {
		switch (s->mode) {
		case MODE_CMD:
			line = io_getline(s->io, &len, &toolong, &bare);
			if (line == NULL)
				return;
			smtp_line(s, line, len, toolong, bare);
			break;
		case MODE_DATA:
			if (!smtp_data_input(s))
				return;
			break;
		case MODE_BDAT:
			if (!smtp_bdat_input(s))
				return;
			break;
		case MODE_CLOSING:
			return;
		}
	}
}

static void
smtp_line(struct smtp_session *s, char *line, size_t len, int toolong,
    int bare)
{
	struct smtp_cmd	 cmd;

	if (toolong) {
		if (s->auth_step != AUTH_STEP_NONE) {
			s->auth_step = AUTH_STEP_NONE;
			smtp_error(s, 500, ESC_AUTH_LINE_TOO_LONG,
			    "Authentication Exchange line is too long");
			return;
		}
		smtp_error(s, 500, ESC_SYNTAX_ERROR, "Error: line too long");
		return;
	}
	if (smtp_check_line(line, len, bare) == -1) {
		s->auth_step = AUTH_STEP_NONE;
		smtp_error(s, 500, ESC_SYNTAX_ERROR,
		    "Error: invalid characters in command");
		return;
	}
	/* The answer to a 334 challenge is no command. */
	if (s->auth_step != AUTH_STEP_NONE) {
		auth_line(s, line);
		return;
	}
	/* No earlier command's answer is still to come. */
	smtp_log_command(s, CMD_EMPTY, "");
	switch (smtp_parse_command(line, &cmd)) {
	case CMD_EMPTY:
		smtp_error(s, 500, ESC_SYNTAX_ERROR, "Error: bad syntax");
		break;
	case CMD_UNKNOWN:
	case CMD_NVERBS:
		smtp_error(s, 500, ESC_INVALID_COMMAND,
		    "Error: command not recognized");
		break;
	default:
		smtp_log_command(s, cmd.verb, cmd.args);
		smtp_handlers[cmd.verb](s, cmd.args);
		break;
	}
}

/* RFC 5321 4.1.4: a new EHLO, RSET or STARTTLS ends the transaction. */
static void
smtp_reset(struct smtp_session *s)
{
	smtp_tx_free(s->tx);
	s->tx = NULL;
	s->chunk_left = 0;
	s->chunk_reply[0] = '\0';
}

uint64_t
smtp_req_add(struct smtp_session *s, int which)
{
	struct channel	*ch;

	if ((ch = engine_channel(which)) == NULL)
		return 0;
	s->req_chan = which;
	/*
	 * An authd that hangs (a query stuck in the database) must not
	 * hold the client: past the lookup timeout the request fails as
	 * if the channel had dropped (4xx).  Never for the queue: a
	 * commit given up on may still succeed, and a message that
	 * comes again is a duplicate.
	 */
	return channel_req_add(ch, &s->creq, which == CONNECT_AUTHD ?
	    smtpd_conf->timeout_lookup * 1000 : 0, smtp_req_answer, s);
}

void
smtp_req_cancel(struct smtp_session *s)
{
	channel_req_cancel(&s->creq);
}

/* Wait for an answer: no other command is taken meanwhile. */
void
smtp_req_start(struct smtp_session *s, enum smtp_req req)
{
	s->req = req;
	io_pause_read(s->io);
}

/* The answer is in: carry on with the commands pipelined behind. */
void
smtp_req_done(struct smtp_session *s)
{
	if (s->mode == MODE_CLOSING)
		return;
	io_resume_read(s->io);
	smtp_input(s);
}

/* The type that answers each request. */
static const uint32_t smtp_req_answer_type[] = {
	[REQ_RCPT] = IMSG_AUTH_RCPT_RESULT,
	[REQ_CREATE] = IMSG_QUEUE_MSG_CREATED,
	[REQ_COMMIT] = IMSG_QUEUE_MSG_COMMITTED,
	[REQ_BAN] = IMSG_AUTH_BAN_RESULT,
	[REQ_LOGIN] = IMSG_AUTH_LOGIN_RESULT,
	[REQ_SENDER] = IMSG_AUTH_SENDER_RESULT,
	[REQ_CHECK] = IMSG_NONE,	/* no request of s->creq */
	[REQ_MILTER] = IMSG_NONE,	/* waits on no channel */
};

/*
 * The answer to the session's request, or (imsg NULL) its failure: the
 * channel dropped.  An answer that makes no sense fails the request and
 * drops the channel (fail-stop for the channel, not the engine: the
 * sessions of every other client go on while it is rebuilt).
 */
static void
smtp_req_answer(struct channel_req *r, struct imsg *imsg, union imsg_msg *m)
{
	struct smtp_session	*s = r->arg;
	struct channel		*ch;
	enum smtp_req		 req = s->req;
	int			 rv = -1;

	if (imsg == NULL) {
		smtp_req_failed(s);
		return;
	}
	if (req == REQ_NONE || imsg->hdr.type != smtp_req_answer_type[req])
		goto bad;
	s->req = REQ_NONE;
	switch (req) {
	case REQ_RCPT:
		rv = smtp_session_rcpt_result(s, imsg, &m->auth_rcpt_result);
		break;
	case REQ_CREATE:
		rv = smtp_session_msg_created(s, imsg, &m->queue_msg_created);
		break;
	case REQ_COMMIT:
		rv = smtp_session_msg_committed(s, &m->queue_msg_committed);
		break;
	case REQ_BAN:
		rv = smtp_session_ban_result(s, &m->auth_ban_result);
		break;
	case REQ_LOGIN:
		rv = smtp_session_login_result(s, &m->auth_login_result);
		break;
	case REQ_SENDER:
		rv = smtp_session_sender_result(s, &m->auth_sender_result);
		break;
	case REQ_CHECK:
	case REQ_MILTER:
	case REQ_NONE:
		break;
	}
	if (rv == 0)
		return;
	s->req = req;
 bad:
	log_warnx("session %016llx: %s makes no sense here", SID(s),
	    imsg_type_name(imsg->hdr.type));
	ch = engine_channel(s->req_chan);
	smtp_req_failed(s);
	if (ch != NULL)
		channel_drop(ch, "malformed or unexpected answer");
}

static void
smtp_req_failed(struct smtp_session *s)
{
	enum smtp_req	 req = s->req;

	s->req = REQ_NONE;
	switch (req) {
	case REQ_RCPT:
		smtp_status(s, 451, ESC_OTHER_MAIL_SYSTEM_STATUS,
		    "<%s>: Temporary lookup failure", s->tx->pending_orcpt);
		break;
	case REQ_CREATE:
		if (s->tx->bdat) {
			s->tx->bdat_failed = 1;
			data_begin(s->tx, -1);
			s->mode = MODE_BDAT;
		} else
			smtp_status(s, 451, ESC_OTHER_MAIL_SYSTEM_STATUS,
			    "Error: queue unavailable, try again later");
		break;
	case REQ_COMMIT:
		smtp_status(s, 451, ESC_OTHER_MAIL_SYSTEM_STATUS,
		    "Error: queue unavailable, try again later");
		/* The queue drops the unfinished file when it restarts. */
		s->tx->msgid[0] = '\0';
		smtp_reset(s);
		break;
	case REQ_BAN:
	case REQ_LOGIN:
	case REQ_SENDER:
		if (auth_req_failed(s, req) == -1)
			return;
		break;
	case REQ_CHECK:
	case REQ_MILTER:
	case REQ_NONE:
		break;
	}
	smtp_req_done(s);
}

static void
smtp_cmd_helo(struct smtp_session *s, char *args)
{
	if (smtp_parse_helo(args) == -1) {
		smtp_error(s, 501, ESC_INVALID_COMMAND_ARGUMENTS,
		    "Syntax: HELO hostname");
		return;
	}
	smtp_reset(s);
	strlcpy(s->helo, args, sizeof(s->helo));
	s->helo_done = 1;
	s->esmtp = 0;
	smtp_reply(s, "250 %s Hello %s [%s]", smtpd_conf->hostname, s->helo,
	    s->ip);
}

static void
smtp_cmd_ehlo(struct smtp_session *s, char *args)
{
	const char	*ext[12];
	char		 size[32];
	int		 i, n = 0;

	if (smtp_parse_helo(args) == -1) {
		smtp_error(s, 501, ESC_INVALID_COMMAND_ARGUMENTS,
		    "Syntax: EHLO hostname");
		return;
	}
	smtp_reset(s);
	strlcpy(s->helo, args, sizeof(s->helo));
	s->helo_done = 1;
	s->esmtp = 1;

	snprintf(size, sizeof(size), "SIZE %zu",
	    smtpd_conf->max_message_size);
	ext[n++] = "PIPELINING";
	ext[n++] = size;
	ext[n++] = "8BITMIME";
	ext[n++] = "SMTPUTF8";
	ext[n++] = "ENHANCEDSTATUSCODES";
	/* No BINARYMIME: the queue delivers over LMTP DATA. */
	ext[n++] = "CHUNKING";
	if ((s->l->cl->flags & (LISTEN_TLS | LISTEN_TLS_REQUIRE)) &&
	    !s->tls && s->l->cl->pki[0] != '\0')
		ext[n++] = "STARTTLS";
	if (auth_mechanisms_offered(s))
		ext[n++] = "AUTH PLAIN LOGIN";

	smtp_reply(s, "250-%s Hello %s [%s]", smtpd_conf->hostname, s->helo,
	    s->ip);
	for (i = 0; i < n; i++)
		smtp_reply(s, "250%c%s", i == n - 1 ? ' ' : '-', ext[i]);
}

static void
smtp_cmd_starttls(struct smtp_session *s, char *args)
{
	struct tls_ctx		*ctx;

	if (s->tls) {
		smtp_error(s, 503, ESC_INVALID_COMMAND,
		    "Error: TLS already active");
		return;
	}
	if (!(s->l->cl->flags & (LISTEN_TLS | LISTEN_TLS_REQUIRE)) ||
	    s->l->cl->pki[0] == '\0') {
		smtp_error(s, 502, ESC_INVALID_COMMAND,
		    "Error: STARTTLS not available");
		return;
	}
	if (*args != '\0') {
		smtp_error(s, 501, ESC_INVALID_COMMAND_ARGUMENTS,
		    "Syntax: STARTTLS");
		return;
	}
	if ((ctx = tls_ctx_get(s->l->cl)) == NULL) {
		smtp_status(s, 454, ESC_OTHER_SECURITY_STATUS,
		    "TLS not available due to temporary reason");
		return;
	}
	smtp_status(s, 220, ESC_OTHER_STATUS, "Ready to start TLS");
	/* RFC 3207 4.2: forget everything said before TLS. */
	smtp_reset(s);
	s->helo_done = 0;
	s->esmtp = 0;
	s->helo[0] = '\0';
	tls_ctx_put(s->tlsctx);
	s->tlsctx = ctx;
	/* This also throws away whatever was pipelined in clear text. */
	if (io_start_tls_server(s->io, ctx->tls) == -1) {
		log_warnx("session %016llx: STARTTLS: %s", SID(s),
		    io_error(s->io));
		s->mode = MODE_CLOSING;
		io_pause_read(s->io);
		return;
	}
	s->tls_handshake = 1;
}

static void
smtp_cmd_mail(struct smtp_session *s, char *args)
{
	struct smtp_mail_params	 mp;
	struct mailaddr		 a;
	const char		*from, *rest;

	if (!s->helo_done) {
		smtp_error(s, 503, ESC_INVALID_COMMAND,
		    "Error: send HELO/EHLO first");
		return;
	}
	if ((s->l->cl->flags & LISTEN_TLS_REQUIRE) && !s->tls) {
		smtp_error(s, 530, ESC_OTHER_SECURITY_STATUS,
		    "Must issue a STARTTLS command first");
		return;
	}
	if (s->tx != NULL) {
		smtp_error(s, 503, ESC_INVALID_COMMAND,
		    "Error: nested MAIL command");
		return;
	}
	if ((from = smtp_skip_keyword(args, "FROM:")) == NULL) {
		smtp_error(s, 501, ESC_INVALID_COMMAND_ARGUMENTS,
		    "Syntax: MAIL FROM:<address>");
		return;
	}
	if (smtp_parse_mail_from(from, &a, &rest) == -1) {
		smtp_error(s, 501, ESC_BAD_SENDER_SYNTAX,
		    "Error: bad sender address syntax");
		return;
	}
	if (*rest != '\0' && !s->esmtp) {
		smtp_error(s, 555, ESC_INVALID_COMMAND_ARGUMENTS,
		    "Error: parameters need EHLO");
		return;
	}
	switch (smtp_parse_mail_params(rest, smtpd_conf->max_message_size,
	    &mp)) {
	case PARAM_OK:
		break;
	case PARAM_BAD_SIZE:
		smtp_error(s, 501, ESC_INVALID_COMMAND_ARGUMENTS,
		    "Error: bad SIZE");
		return;
	case PARAM_TOO_BIG:
		smtp_status(s, 552, ESC_MESSAGE_TOO_BIG,
		    "Error: message size exceeds fixed limit");
		return;
	case PARAM_BINARYMIME:
		/* LMTP DATA, the way on to the mailbox, cannot carry it. */
		smtp_error(s, 555, ESC_INVALID_COMMAND_ARGUMENTS,
		    "Error: BINARYMIME not supported");
		return;
	case PARAM_BAD_BODY:
		smtp_error(s, 501, ESC_INVALID_COMMAND_ARGUMENTS,
		    "Error: bad BODY");
		return;
	case PARAM_UNSUPPORTED:
		/* Echo at most 64 octets: a reply line stays within 512. */
		smtp_error(s, 555, ESC_INVALID_COMMAND_ARGUMENTS,
		    "Error: unsupported parameter %.*s",
		    (int)(mp.badlen > 64 ? 64 : mp.badlen), mp.bad);
		return;
	}
	if (!mp.smtputf8 && smtp_addr_is_8bit(&a)) {
		smtp_error(s, 553, ESC_NON_ASCII_NOT_PERMITTED,
		    "Error: a UTF-8 address needs SMTPUTF8");
		return;
	}
	addr_format(&a, s->pending_sender, sizeof(s->pending_sender));
	s->pending_body = mp.body;
	s->pending_utf8 = mp.smtputf8;
	if (s->auth_user[0] == '\0' && smtp_iprev_refuse(s))
		return;
	if (s->auth_user[0] != '\0') {
		auth_check_sender(s);
		return;
	}
	smtp_mail_accept(s);
}

/* MAIL FROM passed every check: the transaction begins. */
void
smtp_mail_accept(struct smtp_session *s)
{
	int	 checks;

	smtp_reset(s);
	if ((s->tx = smtp_tx_new(s, s->pending_sender, s->pending_body,
	    s->pending_utf8)) == NULL) {
		smtp_status(s, 451, ESC_OTHER_MAIL_SYSTEM_STATUS,
		    "Error: out of memory, try again later");
		return;
	}
	/* SPF runs while the client goes on with RCPT and DATA. */
	if ((checks = check_wanted(s)) != 0) {
		if ((s->tx->check = check_new(s->tx, checks)) == NULL) {
			smtp_reset(s);
			smtp_status(s, 451, ESC_OTHER_MAIL_SYSTEM_STATUS,
			    "Error: out of memory, try again later");
			return;
		}
		check_mail(s->tx->check);
	}
	smtp_status(s, 250, ESC_OTHER_ADDRESS_STATUS, "Ok");
}

static void
smtp_cmd_rcpt(struct smtp_session *s, char *args)
{
	struct msg_auth_lookup_rcpt	 m;
	struct mailaddr			 a;
	const char			*to;
	char				 addr[ADDR_MAX + 1];
	int				 flags, postmaster;

	if (s->tx == NULL) {
		smtp_error(s, 503, ESC_INVALID_COMMAND,
		    "Error: need MAIL command");
		return;
	}
	if (s->tx->bdat) {
		smtp_error(s, 503, ESC_INVALID_COMMAND,
		    "Error: RCPT after BDAT");
		return;
	}
	if ((to = smtp_skip_keyword(args, "TO:")) == NULL) {
		smtp_error(s, 501, ESC_INVALID_COMMAND_ARGUMENTS,
		    "Syntax: RCPT TO:<address>");
		return;
	}
	if (s->tx->nrcpt >= smtpd_conf->max_rcpts) {
		smtp_status(s, 452, ESC_TOO_MANY_RECIPIENTS,
		    "Error: too many recipients");
		return;
	}
	flags = ADDR_ALLOW_NOBRACKET;
	if (s->tx->smtputf8)
		flags |= ADDR_ALLOW_UTF8;
	switch (smtp_parse_rcpt_to(to, flags, &a, &postmaster)) {
	case -1:
		smtp_error(s, 501, ESC_BAD_DESTINATION_SYNTAX,
		    "Error: bad recipient address syntax");
		return;
	case -2:
		smtp_error(s, 555, ESC_INVALID_COMMAND_ARGUMENTS,
		    "Error: unsupported parameter");
		return;
	}
	if (postmaster) {
		strlcpy(addr, "postmaster@", sizeof(addr));
		strlcat(addr, smtpd_conf->hostname, sizeof(addr));
	} else
		addr_format(&a, addr, sizeof(addr));
	strlcpy(s->tx->pending_orcpt, addr, sizeof(s->tx->pending_orcpt));
	if (dnsbl_refuse_rcpt(s))
		return;

	if ((m.id = smtp_req_add(s, CONNECT_AUTHD)) == 0) {
		smtp_status(s, 451, ESC_OTHER_MAIL_SYSTEM_STATUS,
		    "<%s>: Temporary lookup failure", addr);
		return;
	}
	m.address = addr;
	if (engine_send(CONNECT_AUTHD, msg_auth_lookup_rcpt_pack(&m, -1)) ==
	    -1) {
		smtp_req_cancel(s);
		smtp_status(s, 451, ESC_OTHER_MAIL_SYSTEM_STATUS,
		    "<%s>: Temporary lookup failure", addr);
		return;
	}
	smtp_req_start(s, REQ_RCPT);
}

/* The channel checked the whole answer before it changes anything. */
static int
smtp_session_rcpt_result(struct smtp_session *s, struct imsg *imsg,
    struct msg_auth_rcpt_result *m)
{
	struct smtp_tx		*tx = s->tx;
	struct smtp_rcpt	*mark;
	struct rec_auth_rcpt	 e;
	uint32_t		 n = m->rcpts.n;
	uint8_t			 status = m->status;
	size_t			 envsize;
	int			 full = 0;

	if ((n > 0 && status != LOOKUP_OK) || status > LOOKUP_INVALID)
		return -1;

	switch (status) {
	case LOOKUP_OK:
		if (n == 0) {
			stats_inc(ST_SMTP_RCPT_REJECTED, s->l->slot);
			smtp_status(s, 550, ESC_BAD_DESTINATION_MAILBOX,
			    "<%s>: Recipient address rejected: no mailbox",
			    tx->pending_orcpt);
			break;
		}
		mark = TAILQ_LAST(&tx->rcpts, smtp_rcpt_list);
		envsize = tx->envsize;
		while (!full && rec_auth_rcpt_next(imsg, &m->rcpts, &e) == 0)
			if (smtp_tx_add_rcpt(tx, e.mailbox,
			    e.flags & RCPT_LOCAL) == -1)
				full = 1;
		if (full) {
			/* Take back this RCPT's share: all or nothing. */
			smtp_tx_drop_rcpts(tx, mark, envsize);
			smtp_status(s, 452, ESC_TOO_MANY_RECIPIENTS,
			    "Error: too many recipients");
			break;
		}
		if (smtp_grey_ask(s, mark, envsize) == 0)
			return 0;
		smtp_rcpt_accepted(s);
		break;
	case LOOKUP_NOUSER:
		stats_inc(ST_SMTP_RCPT_REJECTED, s->l->slot);
		/* Counted: a client guessing addresses is cut off. */
		smtp_error(s, 550, ESC_BAD_DESTINATION_MAILBOX,
		    "<%s>: Recipient address rejected: User unknown",
		    tx->pending_orcpt);
		break;
	case LOOKUP_NOTHOSTED:
		/* After AUTH: remote delivery (flags 0), the queue's job. */
		if (s->auth_user[0] != '\0') {
			if (smtp_tx_add_rcpt(tx, tx->pending_orcpt, 0) == -1)
				smtp_status(s, 452, ESC_TOO_MANY_RECIPIENTS,
				    "Error: too many recipients");
			else
				smtp_rcpt_accepted(s);
			break;
		}
		stats_inc(ST_SMTP_RCPT_REJECTED, s->l->slot);
		smtp_error(s, 554, ESC_DELIVERY_NOT_AUTHORIZED,
		    "<%s>: Relay access denied", tx->pending_orcpt);
		break;
	case LOOKUP_TEMPFAIL:
		smtp_status(s, 451, ESC_OTHER_MAIL_SYSTEM_STATUS,
		    "<%s>: Temporary lookup failure", tx->pending_orcpt);
		break;
	case LOOKUP_INVALID:
		smtp_status(s, 501, ESC_BAD_DESTINATION_SYNTAX,
		    "<%s>: Bad recipient address syntax", tx->pending_orcpt);
		break;
	}
	smtp_req_done(s);
	return 0;
}

/* The greylist's network of the client: its /24 or /64, as text. */
static int
smtp_grey_net(struct smtp_session *s, char *out, size_t outsz)
{
	struct in6_addr		 a6;
	struct in_addr		 a4;
	char			 buf[INET6_ADDRSTRLEN];

	if (s->ss.ss_family == AF_INET) {
		a4 = ((struct sockaddr_in *)&s->ss)->sin_addr;
		a4.s_addr &= htonl(0xffffff00);
		inet_ntop(AF_INET, &a4, buf, sizeof(buf));
		return snprintf(out, outsz, "%s/24", buf) >= (int)outsz ? -1 :
		    0;
	}
	if (s->ss.ss_family != AF_INET6)
		return -1;
	a6 = ((struct sockaddr_in6 *)&s->ss)->sin6_addr;
	memset(&a6.s6_addr[8], 0, 8);
	inet_ntop(AF_INET6, &a6, buf, sizeof(buf));
	return snprintf(out, outsz, "%s/64", buf) >= (int)outsz ? -1 : 0;
}

static void
smtp_grey_answer(struct channel_req *r, struct imsg *imsg, union imsg_msg *m)
{
	struct smtp_session	*s = r->arg;
	struct smtp_tx		*tx = s->tx;

	s->req = REQ_NONE;
	/* No answer: greylisting only ever delays, it never refuses. */
	if (imsg == NULL || imsg->hdr.type != IMSG_LKA_GREY_RESULT ||
	    m->lka_grey_result.pass)
		smtp_rcpt_accepted(s);
	else {
		stats_inc(ST_CHECK_GREYLISTED, s->l->slot);
		smtp_tx_drop_rcpts(tx, s->grey_mark, s->grey_envsize);
		smtp_status(s, 451, ESC_DELIVERY_NOT_AUTHORIZED, "<%s>: "
		    "Greylisted, try again in %u seconds", tx->pending_orcpt,
		    m->lka_grey_result.wait);
	}
	smtp_req_done(s);
}

/*
 * Greylist a recipient just found (mark and envsize undo it): 0 if the
 * answer is awaited, -1 if the session goes on at once.
 */
static int
smtp_grey_ask(struct smtp_session *s, struct smtp_rcpt *mark,
    size_t envsize)
{
	struct msg_lka_grey_check	 m = { .sender = s->tx->sender,
					    .rcpt = s->tx->pending_orcpt };
	struct channel			*lk;
	char				 net[SMTP_IP_MAX + 8];

	/* Our users, and clients an allow list vouches for, skip it. */
	if (!(s->l->cl->flags & LISTEN_GREYLIST) || s->auth_user[0] != '\0' ||
	    s->dnsbl_state == DNSBL_ALLOWED ||
	    smtp_grey_net(s, net, sizeof(net)) == -1 ||
	    (lk = engine_lookup_channel()) == NULL)
		return -1;
	m.net = net;
	m.id = channel_req_add(lk, &s->grey_req, (LOOKUP_TIMEOUT_SEC + 2) *
	    1000, smtp_grey_answer, s);
	if (channel_send(lk, msg_lka_grey_check_pack(&m, -1)) == -1) {
		channel_req_cancel(&s->grey_req);
		return -1;
	}
	s->grey_mark = mark;
	s->grey_envsize = envsize;
	smtp_req_start(s, REQ_CHECK);
	return 0;
}

static void
smtp_rcpt_accepted(struct smtp_session *s)
{
	struct smtp_tx	*tx = s->tx;

	if (tx->nrcpt++ == 0)
		strlcpy(tx->first_orcpt, tx->pending_orcpt,
		    sizeof(tx->first_orcpt));
	smtp_status(s, 250, ESC_DESTINATION_VALID, "Ok");
}

static int
smtp_send_create(struct smtp_session *s)
{
	struct msg_queue_msg_create	 m;

	if ((m.id = smtp_req_add(s, CONNECT_QUEUE)) == 0)
		return -1;
	if (engine_send(CONNECT_QUEUE, msg_queue_msg_create_pack(&m, -1)) ==
	    -1) {
		smtp_req_cancel(s);
		return -1;
	}
	smtp_req_start(s, REQ_CREATE);
	return 0;
}

static void
smtp_cmd_data(struct smtp_session *s, char *args)
{
	if (*args != '\0') {
		smtp_error(s, 501, ESC_INVALID_COMMAND_ARGUMENTS,
		    "Syntax: DATA");
		return;
	}
	if (s->tx == NULL) {
		smtp_error(s, 503, ESC_INVALID_COMMAND,
		    "Error: need MAIL command");
		return;
	}
	if (s->tx->bdat) {
		smtp_error(s, 503, ESC_INVALID_COMMAND,
		    "Error: DATA in a BDAT transaction");
		return;
	}
	if (s->tx->nrcpt == 0) {
		smtp_error(s, 554, ESC_INVALID_COMMAND,
		    "Error: no valid recipients");
		return;
	}
	if (smtp_send_create(s) == -1)
		smtp_status(s, 451, ESC_OTHER_MAIL_SYSTEM_STATUS,
		    "Error: queue unavailable, try again later");
}

static void
smtp_cmd_bdat(struct smtp_session *s, char *args)
{
	size_t	 size;
	int	 last;

	if (smtp_parse_bdat(args, &size, &last) == -1) {
		/* The chunk length is unknown (or past counting): no skip. */
		smtp_error(s, 501, ESC_INVALID_COMMAND_ARGUMENTS,
		    "Syntax: BDAT size [LAST]");
		return;
	}
	s->chunk_left = size;
	s->chunk_size = size;
	s->chunk_reply[0] = '\0';
	s->mode = MODE_BDAT;
	/* RFC 3030 2: a refused chunk is still read, then answered. */
	if (s->tx == NULL)
		(void)esc_reply(s->chunk_reply, sizeof(s->chunk_reply), 503,
		    ESC_INVALID_COMMAND, "Error: need MAIL command");
	else if (s->tx->nrcpt == 0)
		(void)esc_reply(s->chunk_reply, sizeof(s->chunk_reply), 554,
		    ESC_INVALID_COMMAND, "Error: no valid recipients");
	if (s->chunk_reply[0] != '\0') {
		s->nerrors++;
		return;
	}
	s->tx->bdat_last = last;
	if (!s->tx->bdat) {
		s->tx->bdat = 1;
		if (smtp_send_create(s) == -1) {
			s->tx->bdat_failed = 1;
			data_begin(s->tx, -1);
		}
	}
}

/* A descriptor left in imsg is closed by the channel. */
static int
smtp_session_msg_created(struct smtp_session *s, struct imsg *imsg,
    struct msg_queue_msg_created *m)
{
	if (m->status == QUEUE_OK && (imsg->fd == -1 || m->msgid[0] == '\0'))
		return -1;
	if (m->status != QUEUE_OK) {
		if (s->tx->bdat) {
			s->tx->bdat_failed = 1;
			data_begin(s->tx, -1);
		} else
			smtp_status(s, 451, ESC_OTHER_MAIL_SYSTEM_STATUS,
			    "Error: queue unavailable, try again later");
		smtp_req_done(s);
		return 0;
	}
	strlcpy(s->tx->msgid, m->msgid, sizeof(s->tx->msgid));
	if (data_begin(s->tx, imsg->fd) == 0)
		(void)data_write_received(s);
	imsg->fd = -1;
	if (!s->tx->bdat) {
		smtp_reply(s, "354 End data with <CR><LF>.<CR><LF>");
		s->mode = MODE_DATA;
	}
	smtp_req_done(s);
	return 0;
}

static int
smtp_data_input(struct smtp_session *s)
{
	size_t	 len, used;
	int	 done;

	if ((len = io_datalen(s->io)) == 0)
		return 0;
	used = data_feed_dotted(s->tx, io_data(s->io), len, &done);
	io_drain(s->io, used);
	if (!done)
		return 0;
	s->mode = MODE_CMD;
	smtp_message_done(s);
	return 1;
}

static int
smtp_bdat_input(struct smtp_session *s)
{
	size_t	 n;

	if (s->chunk_left > 0) {
		if ((n = io_datalen(s->io)) == 0)
			return 0;
		if (n > s->chunk_left)
			n = s->chunk_left;
		if (s->chunk_reply[0] == '\0')
			data_feed_raw(s->tx, io_data(s->io), n);
		io_drain(s->io, n);
		s->chunk_left -= n;
		if (s->chunk_left > 0)
			return 0;
	}
	s->mode = MODE_CMD;
	smtp_bdat_chunk_done(s);
	return 1;
}

static void
smtp_bdat_chunk_done(struct smtp_session *s)
{
	if (s->chunk_reply[0] != '\0') {
		smtp_reply(s, "%s", s->chunk_reply);
		s->chunk_reply[0] = '\0';
		if (s->nerrors >= SMTP_MAX_ERRORS)
			smtp_close(s, 421, ESC_OTHER_SECURITY_STATUS,
			    "%s Error: too many errors", smtpd_conf->hostname);
		return;
	}
	if (s->tx->bdat_failed) {
		smtp_status(s, 451, ESC_OTHER_MAIL_SYSTEM_STATUS,
		    "Error: queue unavailable, try again later");
		if (s->tx->bdat_last)
			smtp_reset(s);
		return;
	}
	if (!s->tx->bdat_last) {
		smtp_status(s, 250, ESC_OTHER_STATUS, "%zu octets received",
		    s->chunk_size);
		return;
	}
	data_end_raw(s->tx);
	smtp_message_done(s);
}

/* The body is complete: refuse it or hand it to the queue. */
static void
smtp_message_done(struct smtp_session *s)
{
	struct smtp_tx	*tx = s->tx;
	int		 errors, mfd = -1;

	/* The milters read (and may rewrite) the file once it is whole. */
	if (milter_wanted(s) && tx->bs.fd != -1 && tx->bs.errors == 0 &&
	    (mfd = dup(tx->bs.fd)) == -1)
		log_warn("session %016llx: dup", SID(s));
	if (data_finish(tx) == 0) {
		if (tx->check == NULL) {
			smtp_filter(s, mfd);
			return;
		}
		/*
		 * Our own verdict first (a DMARC reject spares the
		 * milters); no command is taken meanwhile.
		 */
		tx->milter_fd = mfd;
		smtp_req_start(s, REQ_CHECK);
		check_end(tx->check, smtp_checked);
		return;
	}
	if (mfd != -1)
		close(mfd);
	errors = tx->bs.errors;
	if (errors & DATA_NUL) {
		log_warnx("session %016llx: [%s]: NUL character in message "
		    "refused", SID(s), s->ip);
		smtp_status(s, 550, ESC_OTHER_MEDIA_STATUS,
		    "Error: NUL character in message refused");
	} else if (errors & DATA_BARE)
		smtp_status(s, 550, ESC_OTHER_MEDIA_STATUS, "Error: bare CR or "
		    "LF in message refused, lines must end in CRLF");
	else if (errors & DATA_TOOBIG)
		smtp_status(s, 552, ESC_MESSAGE_TOO_BIG,
		    "Error: message size exceeds fixed limit");
	else if (errors & DATA_WERR) {
		log_warnx("session %016llx: message %s: write: %s", SID(s),
		    tx->msgid, strerror(tx->bs.werrno));
		smtp_status(s, 452, ESC_MAIL_SYSTEM_FULL,
		    "Error: insufficient system storage");
	} else
		smtp_status(s, 451, ESC_OTHER_MAIL_SYSTEM_STATUS,
		    "Error: queue unavailable, try again later");
	if (tx->msgid[0] != '\0')
		log_info("session %016llx: message %s refused: from=<%s> "
		    "size=%zu errors=%#x", SID(s), tx->msgid, tx->sender,
		    tx->bs.size, errors);
	smtp_reset(s);
}

/*
 * Every check has answered: refuse the message, or hand the queue its
 * verdict header fields and commit it.
 */
static void
smtp_checked(struct smtp_session *s)
{
	struct smtp_tx			*tx = s->tx;
	struct smtp_rcpt		*r;
	enum check_action		 action;
	char				 reason[512], fields[PROTO_PREPEND_MAX];
	int				 mfd;

	s->req = REQ_NONE;
	action = check_verdict(tx->check, reason, sizeof(reason));
	check_log(tx->check, action);
	switch (action) {
	case CHECK_REJECT:
		smtp_status(s, 550, ESC_DELIVERY_NOT_AUTHORIZED, "%s", reason);
		smtp_reset(s);
		smtp_req_done(s);
		return;
	case CHECK_TEMPFAIL:
		smtp_status(s, 451, ESC_OTHER_SECURITY_STATUS, "%s", reason);
		smtp_reset(s);
		smtp_req_done(s);
		return;
	case CHECK_QUARANTINE:
		/* The queue asks tsamba-lmtpd for each one's Junk folder. */
		TAILQ_FOREACH(r, &tx->rcpts, entry)
			r->flags |= RCPT_JUNK;
		break;
	case CHECK_ACCEPT:
		break;
	}
	/*
	 * Sent with the commit, after the milters: the queue keeps the
	 * fields in the envelope, in front of the file as they left it.
	 */
	if (check_fields(tx->check, action, fields, sizeof(fields)) > 0 &&
	    (tx->fields = strdup(fields)) == NULL) {
		log_warn("session %016llx: verdict fields", SID(s));
		smtp_status(s, 451, ESC_OTHER_MAIL_SYSTEM_STATUS,
		    "Error: out of memory, try again later");
		smtp_reset(s);
		smtp_req_done(s);
		return;
	}
	mfd = tx->milter_fd;
	tx->milter_fd = -1;
	smtp_filter(s, mfd);
	if (s->req == REQ_NONE)
		smtp_req_done(s);
}

/*
 * The message is whole and our checks let it through: the listener's
 * milters have it next (taking mfd, a read-write fd of the spool file,
 * or -1), else it is committed.
 */
static void
smtp_filter(struct smtp_session *s, int mfd)
{
	if (!milter_wanted(s)) {
		if (mfd != -1)
			close(mfd);
		smtp_commit(s);
		return;
	}
	if (milter_start(s, mfd) == -1) {
		smtp_status(s, 451, ESC_DELIVERY_NOT_AUTHORIZED,
		    "Error: content filter unavailable, try again later");
		smtp_reset(s);
		return;
	}
	/*
	 * Input waits for the verdict, as for a request.  The client is
	 * not idle meanwhile, we are: the milters' own timeouts and the
	 * session's time limit bound it.
	 */
	smtp_req_start(s, REQ_MILTER);
	io_set_timeout(s->io, 0);
}

static void
smtp_commit(struct smtp_session *s)
{
	struct smtp_tx			*tx = s->tx;
	struct smtp_rcpt		*r;
	struct rec_commit_rcpt		 e;
	struct ibuf			*b;
	struct msg_queue_msg_commit	 m = {
		.msgid = tx->msgid, .sender = tx->sender, .helo = s->helo,
		.client = s->ip, .body = tx->body, .smtputf8 = tx->smtputf8,
		.auth = s->auth_user, .held = tx->held,
	};
	struct msg_queue_msg_prepend	 p = { .id = 0 };

	TAILQ_FOREACH(r, &tx->rcpts, entry)
		m.rcpts.n++;
	if (tx->fields != NULL) {
		p.msgid = tx->msgid;
		p.fields = tx->fields;
		/* No answer: a failure fails the commit that follows. */
		if (engine_send(CONNECT_QUEUE,
		    msg_queue_msg_prepend_pack(&p, -1)) == -1)
			goto fail;
	}
	if ((m.id = smtp_req_add(s, CONNECT_QUEUE)) == 0)
		goto fail;
	if ((b = msg_queue_msg_commit_pack(&m, -1)) == NULL)
		goto cancel;
	TAILQ_FOREACH(r, &tx->rcpts, entry) {
		e.rcpt = r->addr;
		e.orcpt = r->orcpt;
		e.flags = r->flags;
		rec_commit_rcpt_pack(b, &e);
	}
	msg_queue_msg_commit_pack_tail(b, &m);
	if (engine_send(CONNECT_QUEUE, b) == -1)
		goto cancel;
	smtp_req_start(s, REQ_COMMIT);
	return;
 cancel:
	smtp_req_cancel(s);
 fail:
	smtp_status(s, 451, ESC_OTHER_MAIL_SYSTEM_STATUS,
	    "Error: queue unavailable, try again later");
	smtp_reset(s);
}

static int
smtp_session_msg_committed(struct smtp_session *s,
    struct msg_queue_msg_committed *m)
{
	struct smtp_tx		*tx = s->tx;
	struct smtp_rcpt	*r;
	char			 list[512];
	unsigned int		 n = 0;

	switch (m->status) {
	case QUEUE_OK:
		list[0] = '\0';
		TAILQ_FOREACH(r, &tx->rcpts, entry) {
			if (n++ > 0)
				strlcat(list, ",", sizeof(list));
			strlcat(list, r->addr, sizeof(list));
		}
		log_info("session %016llx: message %s accepted: from=<%s> "
		    "rcpts=%u to=%s size=%zu%s%s", SID(s), tx->msgid,
		    tx->sender, n, list, tx->bs.size,
		    s->auth_user[0] != '\0' ? " auth=" : "", s->auth_user);
		stats_inc(ST_SMTP_RECEIVED, s->l->slot);
		smtp_status(s, 250, ESC_OTHER_STATUS, "Ok: queued as %s",
		    tx->msgid);
		/* Errors count only for clients that deliver nothing. */
		s->nerrors = 0;
		s->nmessages++;
		break;
	case QUEUE_INVALID:
		smtp_status(s, 554, ESC_OTHER_MEDIA_STATUS,
		    "Error: message refused by the queue");
		break;
	default:
		smtp_status(s, 451, ESC_OTHER_MAIL_SYSTEM_STATUS,
		    "Error: queue failure, try again later");
		break;
	}
	/* Committed, the queue owns the file; otherwise roll it back. */
	if (m->status == QUEUE_OK)
		tx->msgid[0] = '\0';
	smtp_reset(s);
	smtp_req_done(s);
	return 0;
}

/*
 * From the event loop, never from inside smtp_input(): a closing session
 * ended its run already (smtp_req_abandon()).
 */
void
smtp_milter_done(struct smtp_session *s, int commit)
{
	s->req = REQ_NONE;
	io_set_timeout(s->io, smtpd_conf->timeout_idle * 1000);
	if (!commit) {
		smtp_reset(s);
		smtp_req_done(s);
		return;
	}
	smtp_commit(s);
	if (s->req == REQ_NONE)
		smtp_req_done(s);
}

static void
smtp_cmd_rset(struct smtp_session *s, char *args)
{
	smtp_reset(s);
	smtp_status(s, 250, ESC_OTHER_STATUS, "Ok");
}

static void
smtp_cmd_noop(struct smtp_session *s, char *args)
{
	smtp_status(s, 250, ESC_OTHER_STATUS, "Ok");
}

static void
smtp_cmd_quit(struct smtp_session *s, char *args)
{
	smtp_close(s, 221, ESC_OTHER_STATUS, "Bye");
}

static void
smtp_cmd_vrfy(struct smtp_session *s, char *args)
{
	if (*args == '\0') {
		smtp_error(s, 501, ESC_INVALID_COMMAND_ARGUMENTS,
		    "Syntax: VRFY address");
		return;
	}
	/* X.5.0: it said 2.5.2, which is "syntax error" in RFC 3463. */
	smtp_status(s, 252, ESC_OTHER_PROTOCOL_STATUS,
	    "Cannot VRFY user, but will accept message and attempt delivery");
}

static void
smtp_cmd_expn(struct smtp_session *s, char *args)
{
	smtp_error(s, 502, ESC_INVALID_COMMAND, "Error: EXPN not available");
}

static void
smtp_cmd_help(struct smtp_session *s, char *args)
{
	smtp_reply(s, "214-%s Commands: HELO EHLO STARTTLS MAIL RCPT DATA "
	    "BDAT", esc_for_reply(214, ESC_OTHER_STATUS));
	smtp_reply(s, "214-%s AUTH RSET NOOP QUIT VRFY HELP",
	    esc_for_reply(214, ESC_OTHER_STATUS));
	smtp_status(s, 214, ESC_OTHER_STATUS, "See RFC 5321");
}

/*
 * The engine is exiting (its parent died, SIGTERM): the replies already
 * queued go out first, a 250 for a message now in the queue above all,
 * which a client that never hears it sends again.  Bounded, so that
 * clients that do not read cannot hold the exit.
 */
/* Sessions whose commit waits for the queue's answer. */
unsigned int
smtp_session_commits(void)
{
	struct smtp_session	*s;
	unsigned int		 n = 0;

	TAILQ_FOREACH(s, &smtp_sessions, entry)
		if (s->req == REQ_COMMIT)
			n++;
	return n;
}

void
smtp_session_flush_all(void)
{
	struct smtp_session	*s;
	struct timespec		 deadline;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += SMTP_EXIT_FLUSH_SEC;
	TAILQ_FOREACH(s, &smtp_sessions, entry)
		if (io_queued(s->io) > 0)
			(void)io_flush_until(s->io, &deadline);
}
