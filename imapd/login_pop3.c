/*
 * POP3 before authentication (RFC 1939 4, RFC 2449 CAPA, RFC 2595
 * STLS, RFC 5034 AUTH with an initial response, RFC 3206 response
 * codes): the greeting, CAPA, STLS, USER/PASS, AUTH PLAIN and QUIT.
 * Passwords are taken only over TLS unless the listener says
 * plaintext.  Transaction commands wait for the mail process.
 */

#include <sys/types.h>

#include <stdio.h>
#include <string.h>

#include "io.h"
#include "log.h"
#include "proto.h"
#include "pop3_parse.h"
#include "imapd.h"

void
login_pop3_greet(struct login_session *s)
{
	if (s->banned) {
		io_print(s->io, "-ERR [AUTH] Too many failed logins from "
		    "your address, try again later\r\n");
		login_session_end(s);
		return;
	}
	io_printf(s->io, "+OK %s tsamba POP3 ready\r\n",
	    imapd_conf->hostname);
}

static void
pop3_capa(struct login_session *s)
{
	io_printf(s->io, "+OK Capability list follows\r\nCAPA\r\nTOP\r\n"
	    "UIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\n%s%s"
	    "IMPLEMENTATION tsamba\r\n.\r\n",
	    login_may_login(s) ? "USER\r\nSASL PLAIN\r\n" : "",
	    login_can_starttls(s) ? "STLS\r\n" : "");
}

static int
pop3_privacy(struct login_session *s)
{
	if (login_may_login(s))
		return 0;
	io_print(s->io, "-ERR [AUTH] Plaintext authentication disallowed "
	    "without TLS: use STLS first\r\n");
	return -1;
}

static void
pop3_auth_plain(struct login_session *s, const char *b64)
{
	char	 user[ADDR_MAX + 1], pass[POP3_AUTH_MAX + 1];
	size_t	 passlen;

	if (login_sasl_plain(b64, strlen(b64), user, sizeof(user), pass,
	    sizeof(pass), &passlen) == -1) {
		io_print(s->io, "-ERR Malformed PLAIN response\r\n");
		return;
	}
	login_check(s, user, pass, passlen);
	explicit_bzero(pass, sizeof(pass));
}

static void
pop3_command(struct login_session *s, struct pop3_cmd *cmd)
{
	switch (cmd->verb) {
	case P3_CAPA:
		pop3_capa(s);
		break;
	case P3_QUIT:
		io_print(s->io, "+OK Logging out\r\n");
		login_session_end(s);
		break;
	case P3_STLS:
		if (!login_can_starttls(s)) {
			io_print(s->io, "-ERR STLS not available\r\n");
			break;
		}
		io_print(s->io, "+OK Begin TLS negotiation now\r\n");
		if (login_starttls(s) == -1)
			login_session_end(s);
		break;
	case P3_USER:
		if (pop3_privacy(s) == -1)
			break;
		strlcpy(s->user, cmd->arg, sizeof(s->user));
		io_print(s->io, "+OK\r\n");
		break;
	case P3_PASS:
		if (pop3_privacy(s) == -1)
			break;
		if (s->user[0] == '\0') {
			io_print(s->io, "-ERR USER first\r\n");
			break;
		}
		login_check(s, s->user, cmd->arg, strlen(cmd->arg));
		break;
	case P3_AUTH:
		if (cmd->arg == NULL) {
			io_print(s->io, "+OK\r\nPLAIN\r\n.\r\n");
			break;
		}
		if (strcasecmp(cmd->arg, "PLAIN") != 0) {
			io_print(s->io, "-ERR Unsupported authentication "
			    "mechanism\r\n");
			break;
		}
		if (pop3_privacy(s) == -1)
			break;
		if (cmd->initial != NULL) {
			pop3_auth_plain(s, cmd->initial);
			break;
		}
		io_print(s->io, "+ \r\n");
		s->state = LS_AUTH_CONT;
		break;
	case P3_APOP:
		io_print(s->io, "-ERR APOP not supported\r\n");
		break;
	case P3_EMPTY:
	case P3_UNKNOWN:
		io_print(s->io, "-ERR Unknown command\r\n");
		break;
	default:
		io_printf(s->io, "-ERR %s: log in first\r\n",
		    pop3_verb_name(cmd->verb));
		break;
	}
}

void
login_pop3_input(struct login_session *s)
{
	struct pop3_cmd	 cmd;
	const char	*err;
	char		*line;
	size_t		 len;
	int		 toolong, bare;

	while (s->state == LS_PREAUTH || s->state == LS_AUTH_CONT) {
		if ((line = io_getline(s->io, &len, &toolong, &bare)) == NULL)
			return;
		if (toolong || len >= POP3_AUTH_MAX) {
			io_print(s->io, "-ERR Line too long\r\n");
			s->state = LS_PREAUTH;
			continue;
		}
		if (s->state == LS_AUTH_CONT) {
			s->state = LS_PREAUTH;
			if (strcmp(line, "*") == 0)
				io_print(s->io, "-ERR Authentication "
				    "cancelled\r\n");
			else
				pop3_auth_plain(s, line);
			explicit_bzero(line, len);
			continue;
		}
		memset(&cmd, 0, sizeof(cmd));
		if (pop3_parse(line, len, &cmd, &err) == -1)
			io_printf(s->io, "-ERR %s\r\n", err);
		else
			pop3_command(s, &cmd);
		explicit_bzero(line, len);
	}
}

void
login_pop3_result(struct login_session *s, int status)
{
	switch (status) {
	case AUTH_OK:
		/* The mail process says +OK once it holds the maildrop. */
		return;
	case AUTH_FAIL:
	case LOGIN_MAIL_OFFSET + MAIL_REFUSED:
		io_print(s->io, "-ERR [AUTH] Authentication failed\r\n");
		if (login_failed(s))
			login_session_end(s);
		return;
	case AUTH_BANNED:
		io_print(s->io, "-ERR [AUTH] Too many failed logins from "
		    "your address, try again later\r\n");
		login_session_end(s);
		return;
	case LOGIN_MAIL_OFFSET + MAIL_LIMIT:
		io_print(s->io, "-ERR [IN-USE] Too many sessions for this "
		    "user\r\n");
		return;
	case AUTH_TEMPFAIL:
	default:
		io_print(s->io, "-ERR [SYS/TEMP] Authentication service "
		    "unavailable, try again later\r\n");
		return;
	}
}
