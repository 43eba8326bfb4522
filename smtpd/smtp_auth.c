/*
 * Submission: the questions a session asks tsamba-authd about the
 * client rather than about a recipient.  The ban check before the
 * banner, SASL AUTH PLAIN and LOGIN (RFC 4954, RFC 4616) with the
 * password checked by authd, and the check that an authenticated user
 * sends only as one of its own addresses.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/tree.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf.h"
#include "imsg.h"
#include "log.h"
#include "stats.h"
#include "proto.h"
#include "timefmt.h"
#include "smtpd.h"

#define SID(s)	((unsigned long long)(s)->id)

/* "Username:" and "Password:" in base64, as every LOGIN client expects. */
#define LOGIN_USER_CHALLENGE	"VXNlcm5hbWU6"
#define LOGIN_PASS_CHALLENGE	"UGFzc3dvcmQ6"

static int	auth_decode_reply(struct smtp_session *, const char *, char *,
		    size_t, size_t *);
static void	auth_plain(struct smtp_session *, const char *);
static void	auth_login_user(struct smtp_session *, const char *);
static void	auth_login_pass(struct smtp_session *, const char *);
static int	auth_valid_user(const char *);
static void	auth_ask(struct smtp_session *, const char *, const char *,
		    size_t);
static void	auth_failed(struct smtp_session *);

/* ------------------------------------------------------------ bans */

/*
 * Before the banner: is the client banned for failed logins?  authd
 * out of reach must not stop all mail, so the check fails open (and
 * says so in the log); logins themselves still need authd.
 */
void
auth_check_ban(struct smtp_session *s)
{
	struct msg_auth_check_ban	 m = { .ip = s->ip };

	if ((m.id = smtp_req_add(s, CONNECT_AUTHD)) == 0)
		goto open;
	if (engine_send(CONNECT_AUTHD, msg_auth_check_ban_pack(&m, -1)) ==
	    -1) {
		smtp_req_cancel(s);
		goto open;
	}
	smtp_req_start(s, REQ_BAN);
	return;
 open:
	log_warnx("session %016llx: authd unreachable, no ban check for "
	    "[%s]", SID(s), s->ip);
	(void)smtp_session_start(s);
}

int
smtp_session_ban_result(struct smtp_session *s, struct msg_auth_ban_result *m)
{
	uint64_t	 end = m->end;
	char		 until[TIME_ISO8601_SIZE];

	if (m->banned > 1)
		return -1;
	if (m->banned) {
		time_iso8601(end > INT64_MAX ? INT64_MAX : (time_t)end, until,
		    sizeof(until));
		log_info("session %016llx: [%s] is banned until %s, "
		    "refused", SID(s), s->ip, until);
		s->banned = 1;
	}
	/* On smtps the refusal waits for TLS: a clear text 421 is noise. */
	if (smtp_session_start(s) == -1)
		return 0;
	smtp_req_done(s);
	return 0;
}

/* ------------------------------------------------------------ AUTH */

/* AUTH is offered once TLS is up on listeners with "auth". */
int
auth_mechanisms_offered(struct smtp_session *s)
{
	return (s->l->cl->flags & LISTEN_AUTH) && s->tls;
}

/*
 * AUTH mechanism [initial-response].  Every mechanism offered sends the
 * password in clear, so without TLS the answer is 538 5.7.11 (RFC 4954
 * 6: encryption required for the mechanism), not 530 5.7.0, which
 * means "authenticate first".
 */
void
auth_cmd(struct smtp_session *s, char *args)
{
	struct smtp_auth_args	 aa;

	if (!(s->l->cl->flags & LISTEN_AUTH)) {
		smtp_error(s, 502, ESC_INVALID_COMMAND,
		    "Error: AUTH not available");
		return;
	}
	if (!s->esmtp) {
		smtp_error(s, 503, ESC_INVALID_COMMAND,
		    "Error: send EHLO first");
		return;
	}
	if (!s->tls) {
		smtp_error(s, 538, ESC_ENCRYPTION_REQUIRED, "Encryption "
		    "required for requested authentication mechanism");
		return;
	}
	if (s->auth_user[0] != '\0') {
		smtp_error(s, 503, ESC_INVALID_COMMAND,
		    "Error: already authenticated");
		return;
	}
	if (s->tx != NULL) {
		smtp_error(s, 503, ESC_INVALID_COMMAND,
		    "Error: AUTH not allowed during a mail transaction");
		return;
	}
	if (smtp_parse_auth(args, &aa) == -1) {
		smtp_error(s, 501, ESC_INVALID_COMMAND_ARGUMENTS,
		    "Syntax: AUTH mechanism [initial-response]");
		return;
	}
	switch (aa.mech) {
	case SASL_PLAIN:
		if (aa.initial != NULL) {
			auth_plain(s, aa.initial);
			return;
		}
		s->auth_step = AUTH_STEP_PLAIN;
		smtp_reply(s, "334 ");
		break;
	case SASL_LOGIN:
		if (aa.initial != NULL) {
			auth_login_user(s, aa.initial);
			return;
		}
		s->auth_step = AUTH_STEP_LOGIN_USER;
		smtp_reply(s, "334 " LOGIN_USER_CHALLENGE);
		break;
	case SASL_UNKNOWN:
		smtp_error(s, 504, ESC_INVALID_COMMAND_ARGUMENTS,
		    "Error: unrecognized authentication mechanism");
		break;
	}
}

/* A client line in the middle of an exchange. */
void
auth_line(struct smtp_session *s, char *line)
{
	enum smtp_auth_step	 step = s->auth_step;

	s->auth_step = AUTH_STEP_NONE;
	if (strcmp(line, "*") == 0) {
		smtp_error(s, 501, ESC_OTHER_STATUS,
		    "Authentication cancelled");
		return;
	}
	switch (step) {
	case AUTH_STEP_PLAIN:
		auth_plain(s, line);
		break;
	case AUTH_STEP_LOGIN_USER:
		auth_login_user(s, line);
		break;
	case AUTH_STEP_LOGIN_PASS:
		auth_login_pass(s, line);
		break;
	case AUTH_STEP_NONE:
		break;
	}
}

/* Decode a client response, or answer the error: 0 or -1. */
static int
auth_decode_reply(struct smtp_session *s, const char *in, char *out,
    size_t outsz, size_t *outlen)
{
	switch (sasl_base64_decode(in, out, outsz, outlen)) {
	case 0:
		return 0;
	case -2:
		smtp_error(s, 500, ESC_AUTH_LINE_TOO_LONG,
		    "Authentication Exchange line is too long");
		return -1;
	default:
		smtp_error(s, 501, ESC_SYNTAX_ERROR,
		    "Error: cannot decode the base64 response");
		return -1;
	}
}

/* RFC 4616: [authzid] NUL authcid NUL passwd. */
static void
auth_plain(struct smtp_session *s, const char *b64)
{
	struct sasl_plain	 sp;
	char			 buf[SMTP_AUTH_MAX];
	size_t			 len;

	if (auth_decode_reply(s, b64, buf, sizeof(buf), &len) == -1)
		return;
	if (sasl_plain_split(buf, len, &sp) == -1)
		goto bad;
	/* Acting for another user (a proxy login) is not offered. */
	if (*sp.authzid != '\0' && strcasecmp(sp.authzid, sp.authcid) != 0) {
		log_info("session %016llx: AUTH PLAIN from [%s]: authzid "
		    "differs from the login, refused", SID(s), s->ip);
		explicit_bzero(buf, sizeof(buf));
		smtp_error(s, 535, ESC_AUTH_CREDENTIALS_INVALID,
		    "Error: authorization identity must be empty or the login");
		return;
	}
	auth_ask(s, sp.authcid, sp.pass, sp.passlen);
	explicit_bzero(buf, sizeof(buf));
	return;
 bad:
	explicit_bzero(buf, sizeof(buf));
	smtp_error(s, 501, ESC_SYNTAX_ERROR, "Error: malformed PLAIN response");
}

static void
auth_login_user(struct smtp_session *s, const char *b64)
{
	char	 buf[SMTP_AUTH_MAX];
	size_t	 len;

	if (auth_decode_reply(s, b64, buf, sizeof(buf), &len) == -1)
		return;
	/* A bad name still gets the password prompt, then 535. */
	s->auth_login[0] = '\0';
	if (memchr(buf, '\0', len) == NULL && len < sizeof(s->auth_login))
		strlcpy(s->auth_login, buf, sizeof(s->auth_login));
	s->auth_step = AUTH_STEP_LOGIN_PASS;
	smtp_reply(s, "334 " LOGIN_PASS_CHALLENGE);
}

static void
auth_login_pass(struct smtp_session *s, const char *b64)
{
	char	 buf[SMTP_AUTH_MAX];
	char	 user[ADDR_MAX + 1];
	size_t	 len;

	if (auth_decode_reply(s, b64, buf, sizeof(buf), &len) == -1)
		return;
	strlcpy(user, s->auth_login, sizeof(user));
	if (memchr(buf, '\0', len) != NULL)
		user[0] = '\0';		/* refused below */
	auth_ask(s, user, buf, len);
	explicit_bzero(buf, sizeof(buf));
}

/* A login name authd may see: printable, no control characters. */
static int
auth_valid_user(const char *user)
{
	const unsigned char	*p;

	if (*user == '\0' || strlen(user) > ADDR_MAX)
		return 0;
	for (p = (const unsigned char *)user; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			return 0;
	return 1;
}

/* Hand user and password to authd; pass is NUL-terminated at passlen. */
static void
auth_ask(struct smtp_session *s, const char *user, const char *pass,
    size_t passlen)
{
	struct ibuf		*b;
	struct msg_auth_login	 m = { .user = user, .password = pass,
	    .ip = s->ip, .service = "smtp" };

	strlcpy(s->auth_login, user, sizeof(s->auth_login));
	if (!auth_valid_user(user) || passlen == 0 ||
	    passlen > SMTP_PASSWORD_MAX) {
		auth_failed(s);
		return;
	}
	if ((m.id = smtp_req_add(s, CONNECT_AUTHD)) == 0) {
		smtp_status(s, 454, ESC_OTHER_SECURITY_STATUS,
		    "Temporary authentication failure");
		return;
	}
	if ((b = msg_auth_login_pack(&m, -1)) == NULL)
		goto fail;
	if (b->error) {
		explicit_bzero(b->buf, b->wpos);
		ibuf_free(b);
		goto fail;
	}
	if (engine_send(CONNECT_AUTHD, b) == -1)
		goto fail;
	smtp_req_start(s, REQ_LOGIN);
	return;
 fail:
	smtp_req_cancel(s);
	smtp_status(s, 454, ESC_OTHER_SECURITY_STATUS,
	    "Temporary authentication failure");
}

/* Wrong login or password: after a few, the session ends. */
static void
auth_failed(struct smtp_session *s)
{
	/* The reply is logged with the login ("auth failed:", smtp_log.c). */
	stats_inc(ST_SMTP_AUTH_FAIL, s->l->slot);
	if (++s->auth_failures >= SMTP_AUTH_FAILURES)
		smtp_close(s, 421, ESC_OTHER_SECURITY_STATUS,
		    "%s Error: too many failed authentication attempts",
		    smtpd_conf->hostname);
	else
		smtp_status(s, 535, ESC_AUTH_CREDENTIALS_INVALID,
		    "Error: authentication failed");
	s->auth_login[0] = '\0';
}

int
smtp_session_login_result(struct smtp_session *s,
    struct msg_auth_login_result *m)
{
	const char	*user = m->user;

	if (m->status > AUTH_BANNED)
		return -1;
	switch (m->status) {
	case AUTH_OK:
		if (user[0] == '\0') {
			log_warnx("session %016llx: authd gave no canonical "
			    "user, using the login", SID(s));
			user = s->auth_login;
		}
		strlcpy(s->auth_user, user, sizeof(s->auth_user));
		log_info("session %016llx: authenticated as <%s> from [%s]",
		    SID(s), s->auth_user, s->ip);
		stats_inc(ST_SMTP_AUTH_OK, s->l->slot);
		smtp_status(s, 235, ESC_OTHER_SECURITY_STATUS,
		    "Authentication successful");
		break;
	case AUTH_FAIL:
		auth_failed(s);
		break;
	case AUTH_TEMPFAIL:
		log_warnx("session %016llx: AUTH for <%s>: authd temporary "
		    "failure", SID(s), s->auth_login);
		smtp_status(s, 454, ESC_OTHER_SECURITY_STATUS,
		    "Temporary authentication failure");
		break;
	case AUTH_BANNED:
		log_info("session %016llx: AUTH from banned [%s]", SID(s),
		    s->ip);
		smtp_close(s, 421, ESC_OTHER_SECURITY_STATUS, "%s Too many "
		    "failed logins from your address, try again later",
		    smtpd_conf->hostname);
		break;
	}
	s->auth_login[0] = '\0';
	smtp_req_done(s);
	return 0;
}

/* ------------------------------------------------------------ MAIL */

/*
 * An authenticated user sends only as itself or as an alias that leads
 * to it alone.  The null sender is refused: ownership cannot be shown
 * for it, and it is for notifications of mail systems (RFC 5321
 * 4.5.5), which do not log in.
 */
void
auth_check_sender(struct smtp_session *s)
{
	struct msg_auth_check_sender	 m;

	if (s->pending_sender[0] == '\0') {
		smtp_status(s, 553, ESC_DELIVERY_NOT_AUTHORIZED, "<>: Sender "
		    "address rejected: the null sender is not allowed after "
		    "AUTH");
		return;
	}
	m.user = s->auth_user;
	m.sender = s->pending_sender;
	if ((m.id = smtp_req_add(s, CONNECT_AUTHD)) == 0) {
		smtp_status(s, 451, ESC_OTHER_MAIL_SYSTEM_STATUS,
		    "<%s>: Temporary lookup failure", s->pending_sender);
		return;
	}
	if (engine_send(CONNECT_AUTHD, msg_auth_check_sender_pack(&m, -1)) ==
	    -1) {
		smtp_req_cancel(s);
		smtp_status(s, 451, ESC_OTHER_MAIL_SYSTEM_STATUS,
		    "<%s>: Temporary lookup failure", s->pending_sender);
		return;
	}
	smtp_req_start(s, REQ_SENDER);
}

int
smtp_session_sender_result(struct smtp_session *s,
    struct msg_auth_sender_result *m)
{
	if (m->status > LOOKUP_INVALID)
		return -1;
	switch (m->status) {
	case LOOKUP_OK:
		smtp_mail_accept(s);
		break;
	case LOOKUP_TEMPFAIL:
		smtp_status(s, 451, ESC_OTHER_MAIL_SYSTEM_STATUS,
		    "<%s>: Temporary lookup failure", s->pending_sender);
		break;
	default:
		log_info("session %016llx: <%s> may not send as <%s>",
		    SID(s), s->auth_user, s->pending_sender);
		smtp_status(s, 553, ESC_DELIVERY_NOT_AUTHORIZED,
		    "<%s>: Sender address rejected: not owned by user %s",
		    s->pending_sender, s->auth_user);
		break;
	}
	smtp_req_done(s);
	return 0;
}

/*
 * The channel to authd failed under a request: the ban check lets the
 * client in, the others are temporary failures.  -1 if the session is
 * gone.
 */
int
auth_req_failed(struct smtp_session *s, enum smtp_req req)
{
	switch (req) {
	case REQ_BAN:
		log_warnx("session %016llx: authd lost, no ban check for "
		    "[%s]", SID(s), s->ip);
		return smtp_session_start(s);
	case REQ_LOGIN:
		s->auth_login[0] = '\0';
		smtp_status(s, 454, ESC_OTHER_SECURITY_STATUS,
		    "Temporary authentication failure");
		break;
	case REQ_SENDER:
		smtp_status(s, 451, ESC_OTHER_MAIL_SYSTEM_STATUS,
		    "<%s>: Temporary lookup failure", s->pending_sender);
		break;
	default:
		break;
	}
	return 0;
}
