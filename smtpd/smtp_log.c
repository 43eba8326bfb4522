/*
 * The log lines of tsamba-smtpd that an admin greps and fail2ban reads,
 * one stable form each (tsamba-smtpd(8), LOGGING):
 *
 *   reject: client=[IP] session=ID cmd=RCPT from=<s> rcpt=<r> reply="550 ..."
 *   reject: client=[IP] session=ID cmd=MAIL from=<s> reply="553 5.7.1 ..."
 *   reject: client=[IP] session=ID cmd=DATA from=<s> reply="550 5.7.1 ..."
 *   reject: client=[IP] session=ID cmd=DATA from=<s> milter=NAME reply="..."
 *   reject: client=[IP] session=ID cmd=RCPT from=<s> rcpt=<r> milter=NAME
 *       reply="..."
 *   auth failed: client=[IP] session=ID user=<u> reply="535 5.7.8 ..."
 *   refuse: client=[IP] port=N reply="421 4.7.0 ..."
 *
 * client= comes first, before any text the client chose, and that text
 * is quoted (log_quote()), so a pattern anchored at the start of the
 * message cannot be fooled by an address that spells "client=[...]".
 */

#include <sys/types.h>
#include <sys/queue.h>

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "smtpd.h"

#define SID(s)	((unsigned long long)(s)->id)

/* Quoted text of the fields: every byte may take four. */
#define SMTP_LOG_FIELD	(4 * SMTP_LOG_ARG_MAX)

/*
 * Remember the command whose answer may be a rejection.  AUTH's
 * argument is not kept: it may hold the credentials.
 */
void
smtp_log_command(struct smtp_session *s, enum smtp_verb verb,
    const char *args)
{
	s->log_verb = verb;
	s->log_arg[0] = '\0';
	if (verb == CMD_MAIL || verb == CMD_RCPT)
		strlcpy(s->log_arg, args, sizeof(s->log_arg));
}

/*
 * Called with each status reply (smtp_vstatus()); the first one after
 * a command is its answer.  4xx and 5xx answers to MAIL, RCPT and AUTH
 * are logged.
 */
void
smtp_log_reply(struct smtp_session *s, const char *reply)
{
	char			 from[SMTP_LOG_FIELD], rcpt[SMTP_LOG_FIELD];
	char			 text[SMTP_LOG_FIELD], user[4 * ADDR_MAX + 1];
	enum smtp_verb		 verb = s->log_verb;
	int			 code = atoi(reply);

	s->log_verb = CMD_EMPTY;
	if (code < 400 || code > 599)
		return;
	log_quote(text, sizeof(text), reply);
	switch (verb) {
	case CMD_MAIL:
		log_path(from, sizeof(from), s->log_arg, "FROM:");
		log_info("reject: client=[%s] session=%016llx cmd=MAIL "
		    "from=<%s> reply=\"%s\"", s->ip, SID(s), from, text);
		break;
	case CMD_RCPT:
		log_quote(from, sizeof(from), s->tx ? s->tx->sender : "");
		log_path(rcpt, sizeof(rcpt), s->log_arg, "TO:");
		log_info("reject: client=[%s] session=%016llx cmd=RCPT "
		    "from=<%s> rcpt=<%s> reply=\"%s\"", s->ip, SID(s), from,
		    rcpt, text);
		break;
	case CMD_DATA:
	case CMD_BDAT:
		log_quote(from, sizeof(from), s->tx ? s->tx->sender : "");
		log_info("reject: client=[%s] session=%016llx cmd=%s "
		    "from=<%s> reply=\"%s\"", s->ip, SID(s),
		    verb == CMD_DATA ? "DATA" : "BDAT", from, text);
		break;
	case CMD_AUTH:
		log_quote(user, sizeof(user), s->auth_login);
		log_info("auth failed: client=[%s] session=%016llx user=<%s> "
		    "reply=\"%s\"", s->ip, SID(s), user, text);
		break;
	case CMD_NVERBS:
		smtp_log_refuse(s->ip, s->port, reply);
		break;
	default:
		break;
	}
}

/* The next status reply turns the whole connection away. */
void
smtp_log_refusing(struct smtp_session *s)
{
	s->log_verb = CMD_NVERBS;
	s->log_arg[0] = '\0';
}

void
smtp_log_refuse(const char *ip, int port, const char *reply)
{
	char	 text[SMTP_LOG_FIELD];

	log_quote(text, sizeof(text), reply);
	log_info("refuse: client=[%s] port=%d reply=\"%s\"", ip, port, text);
}

/*
 * A milter's verdict: cmd is the end of the data (DATA or BDAT), or RCPT
 * for one recipient.  milter= stands before the reply, so a pattern for
 * address guessing (rcpt=<...> reply=...) does not take a content
 * verdict for one.
 */
void
smtp_log_milter(struct smtp_session *s, const char *milter, const char *rcpt,
    const char *reply)
{
	char	 from[SMTP_LOG_FIELD], to[SMTP_LOG_FIELD];
	char	 text[SMTP_LOG_FIELD], name[SMTP_LOG_FIELD];

	log_quote(from, sizeof(from), s->tx ? s->tx->sender : "");
	log_quote(name, sizeof(name), milter);
	log_quote(text, sizeof(text), reply);
	if (rcpt != NULL) {
		log_quote(to, sizeof(to), rcpt);
		log_info("reject: client=[%s] session=%016llx cmd=RCPT "
		    "from=<%s> rcpt=<%s> milter=%s reply=\"%s\"", s->ip,
		    SID(s), from, to, name, text);
		return;
	}
	log_info("reject: client=[%s] session=%016llx cmd=%s from=<%s> "
	    "milter=%s reply=\"%s\"", s->ip, SID(s),
	    s->tx != NULL && s->tx->bdat ? "BDAT" : "DATA", from, name, text);
}
