/*
 * One client connection in the login process, IMAP or POP3: the limits
 * at accept, the ban check, TLS (implicit or STARTTLS/STLS), the
 * password check with authd and the request for a mail process.  The
 * protocol text is login_imap.c's and login_pop3.c's; after login the
 * session becomes a relay (login_relay.c).
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "channel.h"
#include "io.h"
#include "ip_limit.h"
#include "listener.h"
#include "log.h"
#include "proto.h"
#include "sasl.h"
#include "stats.h"
#include "tls_ctx.h"
#include "imap_parse.h"
#include "imapd.h"

static TAILQ_HEAD(, login_session) sessions =
    TAILQ_HEAD_INITIALIZER(sessions);
static unsigned int	nsessions;

static void	login_io(struct io *, int, void *);
static void	login_ban_result(struct channel_req *, struct imsg *,
		    union imsg_msg *);
static void	login_greet(struct login_session *);

static const char *
proto_name(const struct login_session *s)
{
	return s->l->proto == PROTO_IMAP ? "imap" : "pop3";
}

/* Refused before a session exists: one line, then the socket goes. */
static void
login_refuse(int fd, int proto, const char *why)
{
	const char	*msg;

	msg = proto == PROTO_IMAP ?
	    "* BYE [UNAVAILABLE] Too many connections, try again later\r\n" :
	    "-ERR [SYS/TEMP] Too many connections, try again later\r\n";
	(void)send(fd, msg, strlen(msg), MSG_NOSIGNAL | MSG_DONTWAIT);
	close(fd);
	log_info("%s: refused: %s", proto == PROTO_IMAP ? "imap" : "pop3",
	    why);
	listener_fd_freed();
}

void
login_session_new(int fd, struct login_listener *l,
    struct sockaddr_storage *ss, socklen_t sslen)
{
	struct login_session	*s;
	struct msg_auth_check_ban m;
	struct channel		*ch;
	char			 ip[64] = "unknown";
	void			*a = NULL;

	if (ss->ss_family == AF_INET)
		a = &((struct sockaddr_in *)ss)->sin_addr;
	else if (ss->ss_family == AF_INET6)
		a = &((struct sockaddr_in6 *)ss)->sin6_addr;
	if (a != NULL)
		inet_ntop(ss->ss_family, a, ip, sizeof(ip));
	stats_inc(ST_IMAP_CONNECTIONS, l->proto);
	/* Implicit TLS cannot carry a clear refusal: those just close. */
	if (imapd_conf->imap_max_sessions != 0 &&
	    nsessions >= imapd_conf->imap_max_sessions) {
		if (l->cl->flags & LISTEN_IMPLICIT) {
			close(fd);
			listener_fd_freed();
		} else
			login_refuse(fd, l->proto, "too many sessions");
		return;
	}
	if (limits_ip_acquire(ss, imapd_conf->imap_max_per_ip) == -1) {
		log_warnx("[%s]: too many connections from that address", ip);
		if (l->cl->flags & LISTEN_IMPLICIT) {
			close(fd);
			listener_fd_freed();
		} else
			login_refuse(fd, l->proto, "too many from one address");
		return;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->rd = calloc(1, sizeof(*s->rd))) == NULL) {
		log_warn("session: calloc");
		free(s);
		limits_ip_release(ss);
		close(fd);
		listener_fd_freed();
		return;
	}
	s->l = l;
	s->ss = *ss;
	s->mfd = -1;
	strlcpy(s->ip, ip, sizeof(s->ip));
	if ((s->io = io_new(fd, login_io, s)) == NULL) {
		log_warn("session: io_new");
		limits_ip_release(ss);
		close(fd);
		free(s->rd);
		free(s);
		listener_fd_freed();
		return;
	}
	TAILQ_INSERT_TAIL(&sessions, s, entry);
	nsessions++;
	io_set_maxline(s->io, LOGIN_LINE_MAX);
	io_set_timeout(s->io, imapd_conf->imap_timeout_login * 1000);
	log_info("%s: connect from [%s] on %s port %u", proto_name(s), s->ip,
	    l->cl->addr, l->cl->port);

	s->state = LS_BANCHECK;
	if ((ch = login_authd()) == NULL) {
		/* No authd: the login will say UNAVAILABLE. */
		login_greet(s);
		return;
	}
	m.id = channel_req_add(ch, &s->req, LOGIN_AUTH_TIMEOUT,
	    login_ban_result, s);
	m.ip = s->ip;
	io_pause_read(s->io);
	if (channel_send(ch, msg_auth_check_ban_pack(&m, -1)) == -1) {
		channel_req_cancel(&s->req);
		login_greet(s);
	}
}

static void
login_ban_result(struct channel_req *req, struct imsg *imsg,
    union imsg_msg *m)
{
	struct login_session	*s = req->arg;

	if (imsg != NULL && m->auth_ban_result.banned)
		s->banned = 1;
	io_resume_read(s->io);
	login_greet(s);
}

/* After the ban check: implicit TLS first, or the greeting now. */
static void
login_greet(struct login_session *s)
{
	s->state = LS_PREAUTH;
	if (s->l->cl->flags & LISTEN_IMPLICIT) {
		if (login_starttls(s) == -1)
			login_session_close(s, "TLS unavailable");
		return;
	}
	if (s->l->proto == PROTO_IMAP)
		login_imap_greet(s);
	else
		login_pop3_greet(s);
}

int
login_starttls(struct login_session *s)
{
	s->tlsctx = tls_ctx_get(s->l->cl);
	if (s->tlsctx == NULL ||
	    io_start_tls_server(s->io, s->tlsctx->tls) == -1) {
		log_warnx("%s [%s]: cannot start TLS: %s", proto_name(s),
		    s->ip, s->tlsctx ? io_error(s->io) : "no certificate");
		return -1;
	}
	s->tls_handshake = 1;
	return 0;
}

int
login_can_starttls(const struct login_session *s)
{
	return !s->tls && !s->tls_handshake &&
	    (s->l->cl->flags & (LISTEN_TLS | LISTEN_TLS_REQUIRE));
}

/* Passwords only over TLS, unless the listener says plaintext. */
int
login_may_login(const struct login_session *s)
{
	return s->tls || (s->l->cl->flags & LISTEN_PLAINTEXT);
}

void
login_session_close(struct login_session *s, const char *why)
{
	log_info("%s: disconnect from [%s]%s%s (%s)", proto_name(s), s->ip,
	    s->authuser[0] != '\0' ? " user=" : "", s->authuser, why);
	if (channel_req_pending(&s->req))
		channel_req_cancel(&s->req);
	TAILQ_REMOVE(&sessions, s, entry);
	nsessions--;
	limits_ip_release(&s->ss);
	tls_ctx_put(s->tlsctx);
	io_free(s->io);
	if (s->mio != NULL)
		io_free(s->mio);
	if (s->mfd != -1)
		close(s->mfd);
	imap_reader_free(s->rd);
	free(s->rd);
	explicit_bzero(s, sizeof(*s));
	free(s);
	listener_fd_freed();
}

void
login_session_end(struct login_session *s)
{
	s->state = LS_CLOSING;
	io_pause_read(s->io);
	io_set_lowat(s->io, 0);
	if (io_queued(s->io) == 0)
		login_session_close(s, "closed");
}

/* Shutdown: every session not yet relayed hears why. */
void
login_shutdown(void)
{
	struct login_session	*s;
	struct timespec		 deadline;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += 1;
	TAILQ_FOREACH(s, &sessions, entry) {
		if (s->state == LS_RELAY)
			continue;
		io_print(s->io, s->l->proto == PROTO_IMAP ?
		    "* BYE Server shutting down\r\n" :
		    "-ERR [SYS/TEMP] Server shutting down\r\n");
		(void)io_flush_until(s->io, &deadline);
	}
}

static void
login_io(struct io *io, int event, void *arg)
{
	struct login_session	*s = arg;

	switch (event) {
	case IO_TLSREADY:
		s->tls_handshake = 0;
		s->tls = 1;
		stats_inc(ST_IMAP_TLS, stats_label_index(SL_TLS,
		    io_tls_info(s->io)));
		log_info("%s [%s]: TLS started: %s", proto_name(s), s->ip,
		    io_tls_info(s->io));
		if (s->l->cl->flags & LISTEN_IMPLICIT) {
			if (s->l->proto == PROTO_IMAP)
				login_imap_greet(s);
			else
				login_pop3_greet(s);
		}
		break;
	case IO_DATAIN:
		if (s->state == LS_RELAY) {
			login_relay_client(s);
			break;
		}
		if (s->state == LS_CLOSING || s->state == LS_BANCHECK ||
		    s->state == LS_AUTHING || s->state == LS_STARTING)
			break;
		if (s->l->proto == PROTO_IMAP)
			login_imap_input(s);
		else
			login_pop3_input(s);
		break;
	case IO_LOWAT:
		if (s->state == LS_CLOSING && io_queued(s->io) == 0)
			login_session_close(s, "closed");
		else if (s->state == LS_RELAY && s->mio != NULL)
			io_resume_read(s->mio);
		break;
	case IO_TIMEOUT:
		if (s->state == LS_RELAY)
			break;		/* the mail process keeps the time */
		if (s->state == LS_CLOSING || s->tls_handshake) {
			login_session_close(s, "timeout");
			break;
		}
		io_print(s->io, s->l->proto == PROTO_IMAP ?
		    "* BYE Autologout: idle for too long\r\n" :
		    "-ERR Autologout: idle for too long\r\n");
		login_session_end(s);
		break;
	case IO_DISCONNECTED:
		login_session_close(s, "client went away");
		break;
	case IO_ERROR:
	default:
		login_session_close(s, io_error(s->io));
		break;
	}
}

static void	login_check_result(struct channel_req *, struct imsg *,
		    union imsg_msg *);
static void	login_started(struct channel_req *, struct imsg *,
		    union imsg_msg *);

static void
login_result(struct login_session *s, int status)
{
	if (s->l->proto == PROTO_IMAP)
		login_imap_result(s, status);
	else
		login_pop3_result(s, status);
}

void
login_check(struct login_session *s, const char *user, const char *pass,
    size_t passlen)
{
	struct msg_auth_login	 m;
	struct channel		*ch;
	char			 pw[IMSG_MAXPAYLOAD / 2];

	if ((ch = login_authd()) == NULL) {
		log_warnx("%s [%s]: authd is not reachable", proto_name(s),
		    s->ip);
		login_result(s, AUTH_TEMPFAIL);
		return;
	}
	/* A NUL inside the password cannot be anyone's: it fails. */
	if (passlen >= sizeof(pw) || memchr(pass, '\0', passlen) != NULL) {
		login_result(s, AUTH_FAIL);
		return;
	}
	memcpy(pw, pass, passlen);
	pw[passlen] = '\0';
	strlcpy(s->authuser, user, sizeof(s->authuser));
	m.id = channel_req_add(ch, &s->req, LOGIN_AUTH_TIMEOUT,
	    login_check_result, s);
	m.user = user;
	m.password = pw;
	m.ip = s->ip;
	m.service = proto_name(s);
	s->state = LS_AUTHING;
	io_pause_read(s->io);
	if (channel_send(ch, msg_auth_login_pack(&m, -1)) == -1) {
		channel_req_cancel(&s->req);
		s->state = LS_PREAUTH;
		io_resume_read(s->io);
		login_result(s, AUTH_TEMPFAIL);
	}
	explicit_bzero(pw, sizeof(pw));
}

/* authd said yes: a socketpair, its mail end to the parent. */
static void
login_ask_mail(struct login_session *s, const char *token)
{
	struct msg_imap_mail_start	 m;
	int				 sp[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1) {
		log_warn("socketpair");
		s->state = LS_PREAUTH;
		io_resume_read(s->io);
		login_result(s, LOGIN_MAIL_OFFSET + MAIL_TEMPFAIL);
		return;
	}
	if ((s->mio = io_new(sp[0], login_io_mail, s)) == NULL) {
		log_warn("io_new");
		close(sp[0]);
		close(sp[1]);
		s->state = LS_PREAUTH;
		io_resume_read(s->io);
		login_result(s, LOGIN_MAIL_OFFSET + MAIL_TEMPFAIL);
		return;
	}
	io_pause_read(s->mio);
	m.id = channel_req_add(login_parent(), &s->req, LOGIN_START_TIMEOUT,
	    login_started, s);
	m.token = token;
	m.proto = s->l->proto;
	m.ip = s->ip;
	s->state = LS_STARTING;
	if (channel_send(login_parent(), msg_imap_mail_start_pack(&m,
	    sp[1])) == -1)
		fatalx("cannot queue MAIL_START");
}

static void
login_check_result(struct channel_req *req, struct imsg *imsg,
    union imsg_msg *m)
{
	struct login_session		*s = req->arg;
	struct msg_auth_login_result	*a;

	if (imsg == NULL) {
		s->state = LS_PREAUTH;
		io_resume_read(s->io);
		login_result(s, AUTH_TEMPFAIL);
		return;
	}
	a = &m->auth_login_result;
	if (a->status != AUTH_OK || a->token[0] == '\0') {
		s->state = LS_PREAUTH;
		io_resume_read(s->io);
		if (a->status == AUTH_OK)	/* no token: authd too old */
			login_result(s, AUTH_TEMPFAIL);
		else
			login_result(s, a->status);
		return;
	}
	strlcpy(s->authuser, a->user, sizeof(s->authuser));
	login_ask_mail(s, a->token);
}

static void
login_started(struct channel_req *req, struct imsg *imsg,
    union imsg_msg *m)
{
	struct login_session	*s = req->arg;
	int			 status;

	status = imsg == NULL ? MAIL_TEMPFAIL : m->imap_mail_started.status;
	if (status != MAIL_OK) {
		io_free(s->mio);
		s->mio = NULL;
		s->state = LS_PREAUTH;
		io_resume_read(s->io);
		login_result(s, LOGIN_MAIL_OFFSET + status);
		return;
	}
	strlcpy(s->authuser, m->imap_mail_started.user, sizeof(s->authuser));
	log_info("%s [%s]: logged in as %s", proto_name(s), s->ip,
	    s->authuser);
	/* The tagged OK / +OK, then everything else is the mail process'. */
	login_result(s, AUTH_OK);
	s->state = LS_RELAY;
	io_set_timeout(s->io, 0);
	login_relay_start(s);
}

/* Failed logins: a few per session, then it ends (authd bans the IP). */
int
login_failed(struct login_session *s)
{
	return ++s->failures >= LOGIN_FAILURES_MAX;
}

int
login_sasl_plain(const char *b64, size_t len, char *user, size_t usersz,
    char *pass, size_t passsz, size_t *passlen)
{
	struct sasl_plain	 sp;
	char			 buf[LOGIN_LINE_MAX];
	char			 in[LOGIN_LINE_MAX];
	size_t			 n;
	int			 rv = -1;

	if (len >= sizeof(in))
		return -1;
	memcpy(in, b64, len);
	in[len] = '\0';
	if (sasl_base64_decode(in, buf, sizeof(buf), &n) != 0 ||
	    sasl_plain_split(buf, n, &sp) == -1)
		goto done;
	/* Acting for another user is not offered. */
	if (*sp.authzid != '\0' && strcasecmp(sp.authzid, sp.authcid) != 0)
		goto done;
	if (strlcpy(user, sp.authcid, usersz) >= usersz ||
	    sp.passlen >= passsz)
		goto done;
	memcpy(pass, sp.pass, sp.passlen);
	pass[sp.passlen] = '\0';
	*passlen = sp.passlen;
	rv = 0;
 done:
	explicit_bzero(buf, sizeof(buf));
	explicit_bzero(in, sizeof(in));
	return rv;
}
