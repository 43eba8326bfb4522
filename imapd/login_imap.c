/*
 * IMAP before authentication (RFC 9051 6.1, 6.2; RFC 3501): the
 * greeting, CAPABILITY, NOOP, LOGOUT, ID, STARTTLS, LOGIN and
 * AUTHENTICATE PLAIN with SASL-IR (RFC 4959).  Passwords are taken only
 * over TLS unless the listener says plaintext (LOGINDISABLED until
 * then).  Every other command is refused with BAD until login: those
 * are the mail process' to answer.
 */

#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io.h"
#include "log.h"
#include "proto.h"
#include "imap_parse.h"
#include "imapd.h"

#define LOGIN_COMMAND_MAX	(2 * LOGIN_LINE_MAX)

static const struct imap_limits login_limits = {
	.line_max = LOGIN_LINE_MAX,
	.literal_max = LOGIN_LITERAL_MAX,
	.command_max = LOGIN_COMMAND_MAX,
	.depth_max = 8,
	.args_max = 64,
	.literal_plus = 1,
};

static void
imap_capability(struct login_session *s, char *buf, size_t bufsz)
{
	snprintf(buf, bufsz, "%s%s%s", IMAP_CAPA_PREAUTH,
	    login_can_starttls(s) ? " STARTTLS" : "",
	    login_may_login(s) ? " AUTH=PLAIN" : " LOGINDISABLED");
}

void
login_imap_greet(struct login_session *s)
{
	char	 capa[256];

	imap_reader_init(s->rd, &login_limits);
	if (s->banned) {
		io_print(s->io, "* BYE [UNAVAILABLE] Too many failed logins "
		    "from your address, try again later\r\n");
		login_session_end(s);
		return;
	}
	imap_capability(s, capa, sizeof(capa));
	io_printf(s->io, "* OK [CAPABILITY %s] %s tsamba IMAP ready\r\n",
	    capa, imapd_conf->hostname);
}

/* A NUL-ended copy of an argument: 0, or -1 when it does not fit. */
static int
arg_copy(const struct imap_str *a, char *buf, size_t bufsz)
{
	if (a->nil || a->len >= bufsz)
		return -1;
	memcpy(buf, a->s, a->len);
	buf[a->len] = '\0';
	return 0;
}

static void
imap_login(struct login_session *s, struct imap_cmd *cmd)
{
	char	 user[ADDR_MAX + 1], pass[LOGIN_LITERAL_MAX + 1];

	if (!login_may_login(s)) {
		io_printf(s->io, "%s NO [PRIVACYREQUIRED] Use STARTTLS "
		    "first: no password in clear\r\n", s->tag);
		return;
	}
	if (arg_copy(&cmd->u.login.user, user, sizeof(user)) == -1 ||
	    cmd->u.login.pass.len >= sizeof(pass)) {
		io_printf(s->io, "%s NO [AUTHENTICATIONFAILED] "
		    "Authentication failed\r\n", s->tag);
		return;
	}
	memcpy(pass, cmd->u.login.pass.s, cmd->u.login.pass.len);
	pass[cmd->u.login.pass.len] = '\0';
	login_check(s, user, pass, cmd->u.login.pass.len);
	explicit_bzero(pass, sizeof(pass));
}

/* The PLAIN response, from SASL-IR or the continuation line. */
static void
imap_auth_plain(struct login_session *s, const char *b64, size_t len)
{
	char	 user[ADDR_MAX + 1], pass[LOGIN_LITERAL_MAX + 1];
	size_t	 passlen;

	if (login_sasl_plain(b64, len, user, sizeof(user), pass,
	    sizeof(pass), &passlen) == -1) {
		io_printf(s->io, "%s BAD Malformed PLAIN response\r\n",
		    s->tag);
		return;
	}
	login_check(s, user, pass, passlen);
	explicit_bzero(pass, sizeof(pass));
}

static void
imap_authenticate(struct login_session *s, struct imap_cmd *cmd)
{
	if (!imap_str_eq(&cmd->u.auth.mech, "PLAIN")) {
		io_printf(s->io, "%s NO Unsupported authentication "
		    "mechanism\r\n", s->tag);
		return;
	}
	if (!login_may_login(s)) {
		io_printf(s->io, "%s NO [PRIVACYREQUIRED] Use STARTTLS "
		    "first: no password in clear\r\n", s->tag);
		return;
	}
	if (!cmd->u.auth.initial.nil) {
		imap_auth_plain(s, cmd->u.auth.initial.s,
		    cmd->u.auth.initial.len);
		return;
	}
	io_print(s->io, "+ \r\n");
	s->state = LS_AUTH_CONT;
}

static void
imap_auth_cont(struct login_session *s, const char *line, size_t len)
{
	s->state = LS_PREAUTH;
	if (len == 1 && line[0] == '*') {
		io_printf(s->io, "%s BAD Authentication cancelled\r\n",
		    s->tag);
		return;
	}
	imap_auth_plain(s, line, len);
}

static void
imap_command(struct login_session *s, struct imap_cmd *cmd)
{
	char	 capa[256];

	strlcpy(s->tag, cmd->tag, sizeof(s->tag));
	switch (cmd->verb) {
	case IC_CAPABILITY:
		imap_capability(s, capa, sizeof(capa));
		io_printf(s->io, "* CAPABILITY %s\r\n%s OK CAPABILITY "
		    "completed\r\n", capa, s->tag);
		break;
	case IC_NOOP:
		io_printf(s->io, "%s OK NOOP completed\r\n", s->tag);
		break;
	case IC_LOGOUT:
		io_printf(s->io, "* BYE Logging out\r\n%s OK LOGOUT "
		    "completed\r\n", s->tag);
		login_session_end(s);
		break;
	case IC_ID:
		io_printf(s->io, "* ID (\"name\" \"tsamba\")\r\n%s OK ID "
		    "completed\r\n", s->tag);
		break;
	case IC_STARTTLS:
		if (!login_can_starttls(s)) {
			io_printf(s->io, "%s BAD STARTTLS not available%s\r\n",
			    s->tag, s->tls ? ": TLS is on already" : "");
			break;
		}
		io_printf(s->io, "%s OK Begin TLS negotiation now\r\n",
		    s->tag);
		imap_reader_reset(s->rd);
		if (login_starttls(s) == -1)
			login_session_end(s);
		break;
	case IC_LOGIN:
		imap_login(s, cmd);
		break;
	case IC_AUTHENTICATE:
		imap_authenticate(s, cmd);
		break;
	default:
		io_printf(s->io, "%s BAD %s: log in first\r\n", s->tag,
		    imap_verb_name(cmd->verb));
		break;
	}
}

static void
imap_assembled(struct login_session *s)
{
	struct imap_cmd	 cmd;
	const char	*err = NULL;

	memset(&cmd, 0, sizeof(cmd));
	if (imap_parse_command(s->rd->buf, s->rd->len, &login_limits, &cmd,
	    &err) == -1)
		io_printf(s->io, "%s BAD %s\r\n", cmd.tag[0] != '\0' ?
		    cmd.tag : "*", err != NULL ? err : "Syntax error");
	else
		imap_command(s, &cmd);
	imap_cmd_free(&cmd);
	/* Passwords in literals leave the buffer at once. */
	if (s->rd->buf != NULL)
		explicit_bzero(s->rd->buf, s->rd->size);
	imap_reader_reset(s->rd);
}

/* One line from the client; literals are read by the caller. */
static void
imap_line(struct login_session *s, const char *line, size_t len)
{
	switch (imap_reader_line(s->rd, line, len)) {
	case IMAP_READ_DONE:
		imap_assembled(s);
		break;
	case IMAP_READ_LITERAL:
		s->in_lit = 1;
		if (s->rd->lit_sync)
			io_print(s->io, "+ Ready for literal data\r\n");
		break;
	case IMAP_READ_ERROR:
		io_printf(s->io, "%s BAD %s\r\n", s->rd->tag, s->rd->err);
		if (s->rd->lit_skip)
			s->skip = s->rd->lit_size;
		imap_reader_reset(s->rd);
		break;
	case IMAP_READ_LINE:
		break;
	}
}

void
login_imap_input(struct login_session *s)
{
	const char	*data;
	char		*line;
	size_t		 len, n;
	int		 toolong, bare;

	while (s->state == LS_PREAUTH || s->state == LS_AUTH_CONT) {
		if (s->skip > 0) {
			if ((n = io_datalen(s->io)) == 0)
				return;
			if (n > s->skip)
				n = s->skip;
			io_drain(s->io, n);
			s->skip -= n;
			continue;
		}
		if (s->in_lit) {
			n = io_datalen(s->io);
			if (n > s->rd->lit_size)
				n = s->rd->lit_size;
			if (n == 0 && s->rd->lit_size > 0)
				return;
			data = io_data(s->io);
			if (imap_reader_literal(s->rd, data, n) !=
			    IMAP_READ_LITERAL)
				s->in_lit = 0;
			io_drain(s->io, n);
			continue;
		}
		if ((line = io_getline(s->io, &len, &toolong, &bare)) == NULL)
			return;
		if (toolong) {
			/* Its tag is in the head (RFC 9051 7.1.5). */
			if (s->rd->len == 0)
				imap_line_tag(line, len, s->rd->tag,
				    sizeof(s->rd->tag));
			io_printf(s->io, "%s BAD Line too long\r\n",
			    s->state == LS_AUTH_CONT ? s->tag : s->rd->tag);
			imap_reader_reset(s->rd);
			s->state = LS_PREAUTH;
			continue;
		}
		if (s->state == LS_AUTH_CONT)
			imap_auth_cont(s, line, len);
		else
			imap_line(s, line, len);
		explicit_bzero(line, len);
	}
}

void
login_imap_result(struct login_session *s, int status)
{
	switch (status) {
	case AUTH_OK:
		io_printf(s->io, "%s OK [CAPABILITY %s APPENDLIMIT=%zu] "
		    "Logged in\r\n", s->tag, IMAP_CAPA_MAIL,
		    imapd_conf->max_message_size);
		return;
	case AUTH_FAIL:
	case LOGIN_MAIL_OFFSET + MAIL_REFUSED:
		io_printf(s->io, "%s NO [AUTHENTICATIONFAILED] "
		    "Authentication failed\r\n", s->tag);
		if (login_failed(s)) {
			io_print(s->io, "* BYE Too many failed logins\r\n");
			login_session_end(s);
		}
		return;
	case AUTH_BANNED:
		io_printf(s->io, "%s NO [UNAVAILABLE] Too many failed logins "
		    "from your address, try again later\r\n", s->tag);
		login_session_end(s);
		return;
	case LOGIN_MAIL_OFFSET + MAIL_LIMIT:
		io_printf(s->io, "%s NO [LIMIT] Too many sessions for this "
		    "user, close one first\r\n", s->tag);
		return;
	case AUTH_TEMPFAIL:
	default:
		io_printf(s->io, "%s NO [UNAVAILABLE] Authentication "
		    "service unavailable, try again later\r\n", s->tag);
		return;
	}
}
