/*
 * The SMTP client of the mta process (RFC 5321): one connection per
 * transfer, tried route by route (MX hosts in order, each address) until
 * a server takes the transaction.
 *
 * Before MAIL, any failure (connect, greeting or EHLO not 2xx, TLS that
 * a policy requires but cannot have, a dropped connection) moves on to
 * the next route; once MAIL is sent the answers are the recipients':
 * RCPT 2xx/4xx/5xx one by one, the reply after the final dot for every
 * accepted one, and a connection lost on the way leaves the rest
 * temporarily failed, so they are retried, never lost.
 *
 * STARTTLS is used whenever offered.  Opportunistic TLS takes any
 * certificate and, if the handshake fails, the same server is tried once
 * more in clear; the "mta tls verify domain" policy needs TLS with a
 * certificate valid for the MX name, and the mail stays queued
 * otherwise.  AUTH to a relay host happens only over TLS.
 *
 * 8BITMIME: RFC 6152 3 allows no downgrade-free 8-bit relay to a server
 * without 8BITMIME.  Many clients declare BODY=8BITMIME for plain ASCII,
 * so the message is checked: 7-bit content is sent without BODY=, real
 * 8-bit content bounces with 5.6.3 (we do not convert to
 * quoted-printable).  BINARYMIME is sent as 8BITMIME over DATA.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <tls.h>
#include <unistd.h>

#include "conf.h"
#include "esc.h"
#include "io.h"
#include "log.h"
#include "mta.h"
#include "smtp_body.h"
#include "smtp_reply.h"
#include "stats.h"

/* RFC 5321 4.5.3.2 timeouts, in seconds. */
#define TO_CONNECT		30
#define TO_GREETING		300
#define TO_EHLO			300
#define TO_STARTTLS		300
#define TO_MAIL			300
#define TO_RCPT			300
#define TO_DATA			120
#define TO_BLOCK		180
#define TO_DOT			600
#define TO_QUIT			10

#define MTA_MAXLINE		2048
#define MTA_CHUNK		(32 * 1024)
#define MTA_OUT_HIGH		(256 * 1024)
#define MTA_OUT_LOW		(64 * 1024)

#define EXT_PIPELINING		0x01
#define EXT_SIZE		0x02
#define EXT_8BITMIME		0x04
#define EXT_SMTPUTF8		0x08
#define EXT_STARTTLS		0x10
#define EXT_AUTH_PLAIN		0x20
#define EXT_AUTH_LOGIN		0x40

enum mta_state {
	MS_CONNECT,
	MS_SMTPS,		/* implicit TLS handshake (relay smtps) */
	MS_GREETING,
	MS_EHLO,
	MS_HELO,
	MS_STARTTLS,
	MS_TLS,			/* STARTTLS handshake */
	MS_AUTH_PLAIN,
	MS_AUTH_LOGIN,
	MS_AUTH_USER,
	MS_AUTH_PASS,
	MS_TXN,			/* MAIL, RCPT and DATA replies */
	MS_BODY,
	MS_DOT,
	MS_QUIT,
};

struct mta_session {
	struct mta_transfer	*t;
	int			 fd;		/* while connecting */
	struct event		 connev;
	struct io		*io;
	enum mta_state		 state;
	char			 relay[MTA_RELAY_MAX];	/* "host [ip]" */
	char			 tls[64];	/* protocol version, "" */
	int			 notls;		/* this route: no STARTTLS */
	int			 ext;		/* EXT_* */
	unsigned long long	 sizemax;	/* SIZE, 0 = none */
	int			 authed;
	int			 body8bit;	/* send BODY=8BITMIME */

	/* The transaction. */
	size_t			 sent;		/* commands sent */
	size_t			 replied;
	size_t			 naccepted;
	int			 mail_failed;
	enum mta_status		 mailstatus;
	char			 mailreply[MTA_REPLY_MAX];
	int			 discard_dot;
	off_t			 bodyoff;
	struct body_encoder	 enc;

	struct smtp_reply	 reply;		/* the one being read */

	/* Why the last route failed. */
	char			 lasterr[MTA_REPLY_MAX - 8];
};

/* The session being read; cleared when it goes away. */
static struct mta_session	*reading;

static void	session_io(struct io *, int, void *);
static void	session_try_route(struct mta_session *);
static void	session_route_fail(struct mta_session *, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));

static struct mta_route *
cur_route(struct mta_session *s)
{
	return &s->t->routes[s->t->route];
}

static void
session_close(struct mta_session *s)
{
	if (reading == s)
		reading = NULL;
	if (s->fd != -1) {
		event_del(&s->connev);
		close(s->fd);
		s->fd = -1;
	}
	if (s->io != NULL) {
		io_free(s->io);
		s->io = NULL;
	}
}

static void
session_free(struct mta_session *s)
{
	session_close(s);
	free(s);
}

void
mta_session_cancel(struct mta_transfer *t)
{
	if (t->session != NULL) {
		session_free(t->session);
		t->session = NULL;
	}
}

static const char *
tls_name(struct mta_session *s)
{
	return s->tls[0] ? s->tls : "none";
}

/*
 * The transfer is over: every recipient without a result gets status.
 * The connection is closed politely (QUIT) when it is still healthy.
 */
static void
session_finish(struct mta_session *s, enum mta_status status,
    const char *reply, int quit)
{
	struct mta_transfer	*t = s->t;
	char			 relay[MTA_RELAY_MAX], tls[64];

	strlcpy(relay, s->relay, sizeof(relay));
	strlcpy(tls, tls_name(s), sizeof(tls));
	t->session = NULL;
	s->t = NULL;
	if (quit && s->io != NULL) {
		s->state = MS_QUIT;
		io_print(s->io, "QUIT\r\n");
		io_set_timeout(s->io, TO_QUIT * 1000);
	} else
		session_free(s);
	mta_done(t, status, reply, relay, tls);
}

static enum mta_status
code_status(int code)
{
	if (code >= 200 && code < 300)
		return MTA_OK;
	if (code >= 500 && code < 600)
		return MTA_PERMFAIL;
	return MTA_TEMPFAIL;
}

static void
rcpt_result(struct mta_session *s, size_t idx, enum mta_status status,
    const char *reply)
{
	mta_rcpt_result(s->t, idx, status, reply, s->relay, tls_name(s));
}

/* Connection-level failure before MAIL: note why, try the next route. */
static void
session_route_fail(struct mta_session *s, const char *fmt, ...)
{
	struct mta_transfer	*t = s->t;
	char			 why[MTA_REPLY_MAX - MTA_RELAY_MAX - 16];
	va_list			 ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	snprintf(s->lasterr, sizeof(s->lasterr), "%s: %s", s->relay, why);
	log_info("%s: %s", t->msgid, s->lasterr);
	session_close(s);
	t->route++;
	s->notls = 0;
	session_try_route(s);
}

/* Lost after MAIL: what has no answer yet is retried later. */
static void
session_lost(struct mta_session *s, const char *why)
{
	char	 reply[MTA_REPLY_MAX];

	if (s->state < MS_TXN) {
		session_route_fail(s, "%s", why);
		return;
	}
	snprintf(reply, sizeof(reply), "%s %s: %s",
	    esc_code(ESC_TEMPFAIL, ESC_BAD_CONNECTION), s->relay, why);
	session_close(s);
	session_finish(s, MTA_TEMPFAIL, reply, 0);
}

static void
session_reset_conn(struct mta_session *s)
{
	s->state = MS_CONNECT;
	s->tls[0] = '\0';
	s->ext = 0;
	s->sizemax = 0;
	s->authed = 0;
	s->sent = s->replied = s->naccepted = 0;
	s->mail_failed = s->discard_dot = 0;
	smtp_reply_reset(&s->reply);
}

static void
set_relay_name(struct mta_session *s)
{
	struct mta_route	*r = cur_route(s);
	char			 ip[INET6_ADDRSTRLEN];
	const void		*a;

	if (r->ss.ss_family == AF_INET6)
		a = &((struct sockaddr_in6 *)&r->ss)->sin6_addr;
	else
		a = &((struct sockaddr_in *)&r->ss)->sin_addr;
	if (inet_ntop(r->ss.ss_family, a, ip, sizeof(ip)) == NULL)
		strlcpy(ip, "?", sizeof(ip));
	snprintf(s->relay, sizeof(s->relay), "%s [%s]", r->host, ip);
}

static int
needs_tls(struct mta_session *s)
{
	return s->t->tls_verify || (s->t->relay && mta_relay_user() != NULL);
}

/* Begin TLS on the connection (STARTTLS or implicit). */
static int
session_start_tls(struct mta_session *s)
{
	struct tls		*ctx;
	struct mta_route	*r = cur_route(s);
	const char		*sni = r->host;

	if ((ctx = tls_client()) == NULL)
		return -1;
	if (tls_configure(ctx, mta_tls_config(s->t->tls_verify)) == -1) {
		log_warnx("tls_configure: %s", tls_error(ctx));
		tls_free(ctx);
		return -1;
	}
	if (io_start_tls_client(s->io, ctx, sni) == -1) {
		log_warnx("%s", io_error(s->io));
		tls_free(ctx);
		return -1;
	}
	return 0;
}

static void
session_connected(struct mta_session *s)
{
	int	 fd = s->fd;

	event_del(&s->connev);
	s->fd = -1;
	if ((s->io = io_new(fd, session_io, s)) == NULL) {
		close(fd);
		session_route_fail(s, "out of memory");
		return;
	}
	io_set_maxline(s->io, MTA_MAXLINE);
	io_set_lowat(s->io, MTA_OUT_LOW);
	log_debug("%s: connected to %s", s->t->msgid, s->relay);
	if (s->t->relay && mta_conf->relay.tls == RELAY_SMTPS) {
		s->state = MS_SMTPS;
		io_set_timeout(s->io, TO_GREETING * 1000);
		if (session_start_tls(s) == -1)
			session_route_fail(s, "cannot start TLS");
		return;
	}
	s->state = MS_GREETING;
	io_set_timeout(s->io, TO_GREETING * 1000);
}

static void
session_connect_cb(int fd, short ev, void *arg)
{
	struct mta_session	*s = arg;
	socklen_t		 len = sizeof(int);
	int			 err = 0;

	if (ev & EV_TIMEOUT) {
		session_route_fail(s, "connection timed out");
		return;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err != 0) {
		session_route_fail(s, "connect: %s", strerror(err));
		return;
	}
	session_connected(s);
}

/* Connect to the current route, or end with the last error. */
static void
session_try_route(struct mta_session *s)
{
	struct mta_transfer	*t = s->t;
	struct mta_route	*r;
	struct timeval		 tv = { TO_CONNECT, 0 };
	char			 reply[MTA_REPLY_MAX];

	if (t->route >= t->nroutes) {
		snprintf(reply, sizeof(reply), "%s %s",
		    esc_code(ESC_TEMPFAIL, ESC_NO_ANSWER_FROM_HOST),
		    s->lasterr[0] ? s->lasterr : "no route");
		s->relay[0] = '\0';
		session_finish(s, MTA_TEMPFAIL, reply, 0);
		return;
	}
	session_reset_conn(s);
	r = cur_route(s);
	set_relay_name(s);
	if ((s->fd = socket(r->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1) {
		session_route_fail(s, "socket: %s", strerror(errno));
		return;
	}
	if (connect(s->fd, (struct sockaddr *)&r->ss, r->sslen) == -1 &&
	    errno != EINPROGRESS) {
		session_route_fail(s, "connect: %s", strerror(errno));
		return;
	}
	event_set(&s->connev, s->fd, EV_WRITE, session_connect_cb, s);
	event_add(&s->connev, &tv);
}

void
mta_session_start(struct mta_transfer *t)
{
	struct mta_session	*s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		fatal("calloc");
	s->t = t;
	s->fd = -1;
	t->session = s;
	session_try_route(s);
}

/* --- sending ---------------------------------------------------------- */

static void
send_ehlo(struct mta_session *s)
{
	s->ext = 0;
	s->sizemax = 0;
	s->state = MS_EHLO;
	io_printf(s->io, "EHLO %s\r\n", mta_conf->hostname);
	io_set_timeout(s->io, TO_EHLO * 1000);
}

static void
b64(const unsigned char *in, size_t len, char *out, size_t outsz)
{
	static const char	 tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t			 i, o = 0;
	uint32_t		 v;

	for (i = 0; i < len && o + 5 < outsz; i += 3) {
		v = in[i] << 16;
		if (i + 1 < len)
			v |= in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		out[o++] = tab[(v >> 18) & 63];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = i + 1 < len ? tab[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < len ? tab[v & 63] : '=';
	}
	out[o] = '\0';
}

static void
send_b64(struct mta_session *s, const char *cmd, const void *data,
    size_t len)
{
	char	 buf[4 * MTA_REPLY_MAX * 2];

	b64(data, len, buf, sizeof(buf));
	io_printf(s->io, "%s%s\r\n", cmd, buf);
	explicit_bzero(buf, sizeof(buf));
}

static void
start_auth(struct mta_session *s)
{
	const char	*user = mta_relay_user(), *pass = mta_relay_password();
	unsigned char	 buf[2 * 1024 + 2];
	size_t		 ul = strlen(user), pl = strlen(pass);

	io_set_timeout(s->io, TO_EHLO * 1000);
	if (s->ext & EXT_AUTH_PLAIN) {
		/* RFC 4616: authzid (empty) NUL authcid NUL password */
		buf[0] = '\0';
		memcpy(buf + 1, user, ul);
		buf[1 + ul] = '\0';
		memcpy(buf + 2 + ul, pass, pl);
		s->state = MS_AUTH_PLAIN;
		send_b64(s, "AUTH PLAIN ", buf, 2 + ul + pl);
		explicit_bzero(buf, sizeof(buf));
	} else if (s->ext & EXT_AUTH_LOGIN) {
		s->state = MS_AUTH_LOGIN;
		io_print(s->io, "AUTH LOGIN\r\n");
	} else
		session_route_fail(s, "%s relay host offers no AUTH PLAIN "
		    "or LOGIN", esc_code(ESC_TEMPFAIL,
		    ESC_OTHER_SECURITY_STATUS));
}

/* Scan for bytes above 127 (RFC 6152: may we send this without it?). */
static int
message_is_8bit(struct mta_transfer *t)
{
	unsigned char	 buf[MTA_CHUNK];
	ssize_t		 n, i;
	off_t		 off = 0;
	size_t		 j;

	for (j = 0; j < t->prefixlen; j++)
		if ((unsigned char)t->prefix[j] > 127)
			return 1;
	while ((n = pread(t->fd, buf, sizeof(buf), off)) > 0) {
		for (i = 0; i < n; i++)
			if (buf[i] > 127)
				return 1;
		off += n;
	}
	/* A read error: assume the worst. */
	return n == -1;
}

static void
send_txn_cmd(struct mta_session *s)
{
	struct mta_transfer	*t = s->t;

	if (s->sent == 0) {
		io_printf(s->io, "MAIL FROM:<%s>", t->sender);
		if (s->ext & EXT_SIZE)
			io_printf(s->io, " SIZE=%lld", (long long)t->size);
		if (s->body8bit)
			io_print(s->io, " BODY=8BITMIME");
		if (t->smtputf8)
			io_print(s->io, " SMTPUTF8");
		io_print(s->io, "\r\n");
	} else if (s->sent <= t->nrcpts)
		io_printf(s->io, "RCPT TO:<%s>\r\n",
		    t->rcpts[s->sent - 1].addr);
	else
		io_print(s->io, "DATA\r\n");
	s->sent++;
}

/* What the server must offer before MAIL; 0 to go on. */
static int
check_extensions(struct mta_session *s)
{
	struct mta_transfer	*t = s->t;
	char			 reply[MTA_REPLY_MAX];

	if ((s->ext & EXT_SIZE) && s->sizemax > 0 &&
	    (unsigned long long)t->size > s->sizemax) {
		(void)esc_reply(reply, sizeof(reply), 552,
		    ESC_MESSAGE_TOO_BIG, "message size %lld exceeds the "
		    "limit %llu of %s", (long long)t->size, s->sizemax,
		    s->relay);
		session_finish(s, MTA_PERMFAIL, reply, 1);
		return -1;
	}
	if (t->smtputf8 && !(s->ext & EXT_SMTPUTF8)) {
		(void)esc_reply(reply, sizeof(reply), 553,
		    ESC_NON_ASCII_NOT_PERMITTED, "%s does not support "
		    "SMTPUTF8", s->relay);
		session_finish(s, MTA_PERMFAIL, reply, 1);
		return -1;
	}
	s->body8bit = 0;
	if (t->body != 0) {
		if (s->ext & EXT_8BITMIME)
			s->body8bit = 1;
		else if (message_is_8bit(t)) {
			(void)esc_reply(reply, sizeof(reply), 554,
			    ESC_CONVERSION_NOT_SUPPORTED, "%s does not "
			    "support 8BITMIME and the message is 8-bit",
			    s->relay);
			session_finish(s, MTA_PERMFAIL, reply, 1);
			return -1;
		}
	}
	return 0;
}

static void
start_txn(struct mta_session *s)
{
	struct mta_transfer	*t = s->t;

	if (check_extensions(s) == -1)
		return;
	if (s->tls[0] == '\0')
		log_info("%s: connection to %s without TLS", t->msgid,
		    s->relay);
	s->state = MS_TXN;
	s->sent = s->replied = s->naccepted = 0;
	io_set_timeout(s->io, TO_MAIL * 1000);
	if (s->ext & EXT_PIPELINING)
		while (s->sent < t->nrcpts + 2)
			send_txn_cmd(s);
	else
		send_txn_cmd(s);
}

/* After EHLO (or HELO): STARTTLS, AUTH, then the transaction. */
static void
after_ehlo(struct mta_session *s)
{
	if (s->tls[0] == '\0' && !s->notls && (s->ext & EXT_STARTTLS)) {
		s->state = MS_STARTTLS;
		io_print(s->io, "STARTTLS\r\n");
		io_set_timeout(s->io, TO_STARTTLS * 1000);
		return;
	}
	if (s->tls[0] == '\0' && s->t->tls_verify) {
		session_route_fail(s, "%s TLS required but not offered",
		    esc_code(ESC_TEMPFAIL, ESC_SECURITY_NOT_SUPPORTED));
		return;
	}
	if (s->t->relay && mta_relay_user() != NULL && !s->authed) {
		if (s->tls[0] == '\0') {
			/* Never credentials in clear. */
			session_route_fail(s, "%s relay host offers no "
			    "TLS: refusing to send credentials in clear",
			    esc_code(ESC_TEMPFAIL,
			    ESC_OTHER_SECURITY_STATUS));
			return;
		}
		start_auth(s);
		return;
	}
	start_txn(s);
}

/* --- the body ------------------------------------------------------------ */

static void
body_start(struct mta_session *s)
{
	unsigned char	*out;
	size_t		 o;

	body_encoder_init(&s->enc);
	s->bodyoff = 0;
	s->state = MS_BODY;
	io_set_timeout(s->io, TO_BLOCK * 1000);
	if (s->t->prefixlen > 0) {
		if ((out = malloc(2 * s->t->prefixlen + 2)) == NULL)
			fatal("malloc");
		o = body_encode(&s->enc, (unsigned char *)s->t->prefix,
		    s->t->prefixlen, out);
		/* The prefix is whole header lines. */
		if (body_needs_eol(&s->enc)) {
			out[o++] = '\r';
			out[o++] = '\n';
			body_encoder_init(&s->enc);
		}
		io_write(s->io, out, o);
		free(out);
	}
}

/* Stream the message until the output buffer is full (IO_LOWAT). */
static void
body_pump(struct mta_session *s)
{
	unsigned char	 in[MTA_CHUNK], out[2 * MTA_CHUNK + 2];
	ssize_t		 n;
	size_t		 o;

	while (s->state == MS_BODY && io_queued(s->io) < MTA_OUT_HIGH) {
		n = pread(s->t->fd, in, sizeof(in), s->bodyoff);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			log_warn("%s: read", s->t->msgid);
			session_lost(s, "cannot read the message file");
			return;
		}
		if (n == 0) {
			if (body_needs_eol(&s->enc))
				io_print(s->io, "\r\n");
			io_print(s->io, ".\r\n");
			s->state = MS_DOT;
			io_set_timeout(s->io, TO_DOT * 1000);
			return;
		}
		s->bodyoff += n;
		o = body_encode(&s->enc, in, n, out);
		if (io_write(s->io, out, o) == -1) {
			session_lost(s, "output buffer");
			return;
		}
	}
}

/* --- replies --------------------------------------------------------- */

static void
txn_reply(struct mta_session *s)
{
	struct mta_transfer	*t = s->t;
	size_t			 idx = s->replied++, i;
	char			 reply[MTA_REPLY_MAX];
	enum mta_status		 status;

	if (idx == 0) {
		if (code_status(s->reply.code) != MTA_OK) {
			s->mail_failed = 1;
			s->mailstatus = code_status(s->reply.code);
			strlcpy(s->mailreply, s->reply.text,
			    sizeof(s->mailreply));
		}
	} else if (idx <= t->nrcpts) {
		if (s->mail_failed)
			;
		else if (code_status(s->reply.code) == MTA_OK) {
			t->rcpts[idx - 1].accepted = 1;
			s->naccepted++;
			io_set_timeout(s->io, TO_RCPT * 1000);
		} else
			rcpt_result(s, idx - 1, code_status(s->reply.code),
			    s->reply.text);
	} else {
		/* DATA */
		if (s->reply.code == 354 && s->naccepted > 0 &&
		    !s->mail_failed) {
			body_start(s);
			body_pump(s);
			return;
		}
		if (s->reply.code == 354) {
			/* Nothing to send: end the empty message at once. */
			io_print(s->io, ".\r\n");
			s->discard_dot = 1;
			s->state = MS_DOT;
			io_set_timeout(s->io, TO_DOT * 1000);
			return;
		}
		goto end;
	}
	if (s->ext & EXT_PIPELINING)
		return;
	if (s->mail_failed || (idx == t->nrcpts && s->naccepted == 0))
		goto end;
	if (idx == t->nrcpts)
		io_set_timeout(s->io, TO_DATA * 1000);
	send_txn_cmd(s);
	return;

 end:
	if (s->mail_failed) {
		/* MAIL refused: that answer is every recipient's. */
		strlcpy(reply, s->mailreply, sizeof(reply));
		session_finish(s, s->mailstatus, reply, 1);
		return;
	}
	/* DATA refused (a 2xx instead of 354 is no success either). */
	status = code_status(s->reply.code);
	if (status == MTA_OK)
		status = MTA_TEMPFAIL;
	for (i = 0; i < t->nrcpts; i++)
		if (t->rcpts[i].accepted)
			rcpt_result(s, i, status, s->reply.text);
	strlcpy(reply, s->reply.text, sizeof(reply));
	session_finish(s, MTA_TEMPFAIL, reply, 1);
}

static void
dot_reply(struct mta_session *s)
{
	struct mta_transfer	*t = s->t;
	char			 reply[MTA_REPLY_MAX];
	size_t			 i;

	if (s->discard_dot) {
		if (s->mail_failed)
			strlcpy(reply, s->mailreply, sizeof(reply));
		else
			strlcpy(reply, s->reply.text, sizeof(reply));
		session_finish(s, s->mail_failed ? s->mailstatus :
		    MTA_TEMPFAIL, reply, 1);
		return;
	}
	strlcpy(reply, s->reply.text, sizeof(reply));
	for (i = 0; i < t->nrcpts; i++)
		if (t->rcpts[i].accepted)
			rcpt_result(s, i, code_status(s->reply.code), reply);
	session_finish(s, MTA_TEMPFAIL, reply, 1);
}

static void
auth_reply(struct mta_session *s)
{
	const char	*user = mta_relay_user(), *pass = mta_relay_password();

	switch (s->state) {
	case MS_AUTH_LOGIN:
	case MS_AUTH_USER:
		if (s->reply.code != 334)
			break;
		if (s->state == MS_AUTH_LOGIN) {
			s->state = MS_AUTH_USER;
			send_b64(s, "", user, strlen(user));
		} else {
			s->state = MS_AUTH_PASS;
			send_b64(s, "", pass, strlen(pass));
		}
		return;
	default:
		if (s->reply.code != 235)
			break;
		s->authed = 1;
		start_txn(s);
		return;
	}
	session_route_fail(s, "%s relay authentication failed: %s",
	    esc_code(ESC_TEMPFAIL, ESC_OTHER_SECURITY_STATUS), s->reply.text);
}

static void
session_reply(struct mta_session *s)
{
	switch (s->state) {
	case MS_GREETING:
		if (s->reply.code != 220) {
			session_route_fail(s, "greeting: %s", s->reply.text);
			return;
		}
		send_ehlo(s);
		break;
	case MS_EHLO:
		if (s->reply.code >= 500 && s->reply.code < 600) {
			s->state = MS_HELO;
			s->ext = 0;
			io_printf(s->io, "HELO %s\r\n", mta_conf->hostname);
			return;
		}
		/* FALLTHROUGH */
	case MS_HELO:
		if (code_status(s->reply.code) != MTA_OK) {
			session_route_fail(s, "%s: %s", s->state == MS_EHLO ?
			    "EHLO" : "HELO", s->reply.text);
			return;
		}
		after_ehlo(s);
		break;
	case MS_STARTTLS:
		if (s->reply.code == 220) {
			s->state = MS_TLS;
			if (session_start_tls(s) == -1)
				session_route_fail(s, "cannot start TLS");
			return;
		}
		if (s->t->tls_verify) {
			session_route_fail(s, "%s TLS required, STARTTLS "
			    "refused: %s", esc_code(ESC_TEMPFAIL,
			    ESC_SECURITY_NOT_SUPPORTED), s->reply.text);
			return;
		}
		s->notls = 1;
		after_ehlo(s);
		break;
	case MS_AUTH_PLAIN:
	case MS_AUTH_LOGIN:
	case MS_AUTH_USER:
	case MS_AUTH_PASS:
		auth_reply(s);
		break;
	case MS_TXN:
		txn_reply(s);
		break;
	case MS_DOT:
		dot_reply(s);
		break;
	case MS_QUIT:
		session_free(s);
		break;
	default:
		session_lost(s, "unexpected reply from the server");
		break;
	}
}

static void
parse_ext(struct mta_session *s, const char *kw)
{
	const char	*arg;
	char		*end;

	if (strcasecmp(kw, "PIPELINING") == 0)
		s->ext |= EXT_PIPELINING;
	else if (strcasecmp(kw, "8BITMIME") == 0)
		s->ext |= EXT_8BITMIME;
	else if (strcasecmp(kw, "SMTPUTF8") == 0)
		s->ext |= EXT_SMTPUTF8;
	else if (strcasecmp(kw, "STARTTLS") == 0)
		s->ext |= EXT_STARTTLS;
	else if (strncasecmp(kw, "SIZE", 4) == 0 &&
	    (kw[4] == '\0' || kw[4] == ' ')) {
		s->ext |= EXT_SIZE;
		if (kw[4] == ' ') {
			errno = 0;
			s->sizemax = strtoull(kw + 5, &end, 10);
			if (errno != 0 || *end != '\0')
				s->sizemax = 0;
		}
	} else if (strncasecmp(kw, "AUTH", 4) == 0 &&
	    (kw[4] == ' ' || kw[4] == '=')) {
		for (arg = kw + 5; *arg != '\0'; arg += strcspn(arg, " ")) {
			arg += strspn(arg, " ");
			if (strncasecmp(arg, "PLAIN", 5) == 0 &&
			    (arg[5] == ' ' || arg[5] == '\0'))
				s->ext |= EXT_AUTH_PLAIN;
			if (strncasecmp(arg, "LOGIN", 5) == 0 &&
			    (arg[5] == ' ' || arg[5] == '\0'))
				s->ext |= EXT_AUTH_LOGIN;
		}
	}
}

/* One reply line into s->reply; the EHLO keywords are noted on the way. */
static int
reply_line(struct mta_session *s, const char *line, size_t len)
{
	const char	*kw;
	int		 r;

	if ((r = smtp_reply_line(&s->reply, line, len)) == -1)
		return -1;
	if (s->state == MS_EHLO &&
	    (kw = smtp_reply_ext(&s->reply, line, len)) != NULL)
		parse_ext(s, kw);
	return r;
}

static void
session_read(struct mta_session *s)
{
	char	*line;
	size_t	 len;
	int	 toolong, bare, r;

	reading = s;
	while (reading == s &&
	    (line = io_getline(s->io, &len, &toolong, &bare)) != NULL) {
		if (s->state == MS_QUIT) {
			/* Detached from its transfer: any answer ends it. */
			if (reply_line(s, line, len) != 0)
				session_free(s);
			continue;
		}
		if (s->state == MS_BODY || s->state == MS_SMTPS ||
		    s->state == MS_TLS) {
			session_lost(s, "unexpected input from the server");
			break;
		}
		if ((r = reply_line(s, line, len)) == -1) {
			session_lost(s, "malformed reply from the server");
			break;
		}
		if (r == 1)
			session_reply(s);
	}
	if (reading == s)
		reading = NULL;
}

static void
session_tls_ready(struct mta_session *s)
{
	const char	*info = io_tls_info(s->io);
	size_t		 n;

	strlcpy(s->tls, info ? info : "TLS", sizeof(s->tls));
	n = strcspn(s->tls, " ");
	s->tls[n] = '\0';
	log_debug("%s: %s: %s", s->t->msgid, s->relay, info ? info : "TLS");
	if (s->state == MS_SMTPS) {
		s->state = MS_GREETING;
		io_set_timeout(s->io, TO_GREETING * 1000);
		return;
	}
	/* RFC 3207 4.2: forget what was said in clear; EHLO again. */
	send_ehlo(s);
}

static void
session_tls_failed(struct mta_session *s)
{
	struct mta_transfer	*t = s->t;

	if (t->tls_verify) {
		session_route_fail(s, "%s certificate verification "
		    "failed: %s", esc_code(ESC_TEMPFAIL,
		    ESC_CRYPTOGRAPHIC_FAILURE), io_error(s->io));
		return;
	}
	if (s->state == MS_TLS && !needs_tls(s)) {
		/* Opportunistic: the same server once more, in clear. */
		log_info("%s: %s: %s; trying again without TLS", t->msgid,
		    s->relay, io_error(s->io));
		session_close(s);
		s->notls = 1;
		session_try_route(s);
		return;
	}
	session_route_fail(s, "%s", io_error(s->io));
}

static void
session_io(struct io *io, int event, void *arg)
{
	struct mta_session	*s = arg;

	if (s->state == MS_QUIT) {
		if (event == IO_DATAIN)
			session_read(s);
		else if (event != IO_LOWAT)
			session_free(s);
		return;
	}
	switch (event) {
	case IO_DATAIN:
		session_read(s);
		break;
	case IO_LOWAT:
		if (s->state == MS_BODY)
			body_pump(s);
		break;
	case IO_TLSREADY:
		stats_inc(ST_MTA_TLS, stats_label_index(SL_TLS,
		    io_tls_info(io)));
		session_tls_ready(s);
		break;
	case IO_TIMEOUT:
		session_lost(s, "timeout");
		break;
	case IO_DISCONNECTED:
		session_lost(s, "connection closed by the server");
		break;
	case IO_ERROR:
		if (s->state == MS_TLS || s->state == MS_SMTPS)
			session_tls_failed(s);
		else
			session_lost(s, io_error(io));
		break;
	default:
		break;
	}
}
