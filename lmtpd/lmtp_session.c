/*
 * One LMTP session (RFC 2033): commands, recipient checks through authd,
 * the message body spooled into an anonymous memory file, and after the
 * final dot one reply per accepted recipient, in RCPT order, once every
 * writer has answered.
 *
 * Commands are handled one at a time: while a lookup or the deliveries
 * are pending, reading stops, so pipelined commands wait in the input
 * buffer and memory stays bounded.
 */

#include <sys/types.h>
#include <sys/mman.h>
#include <sys/queue.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "esc.h"
#include "io.h"
#include "log.h"
#include "proto.h"
#include "stats.h"
#include "lmtpd.h"
#include "lmtp_parse.h"

#define DATA_CHUNK	16384	/* write out a partial line this long */
#define BODY_BUFSZ	65536	/* body bytes gathered before a write */
#define MAX_ERRORS	20	/* bad commands before we hang up */
#define OUTPUT_LIMIT	65536

enum lmtp_session_state {
	S_INIT,		/* banner sent, waiting for LHLO */
	S_READY,	/* LHLO done, no transaction */
	S_MAIL,		/* MAIL accepted */
	S_RCPT,		/* at least one RCPT accepted */
	S_DATA,		/* reading the body */
	S_DELIVER,	/* waiting for the writers */
	S_QUIT,		/* closing once the output is sent */
};

struct rcpt {
	TAILQ_ENTRY(rcpt)	 entry;
	size_t			 idx;
	char			 addr[ADDR_MAX];
	char			 maildir[PATH_MAX];
	uint32_t		 uid;
	uint32_t		 gid;
	uint64_t		 quota;
	struct request		*req;
	int			 done;
	char			 reply[LMTP_REPLY_MAX];
};

struct lmtp_session {
	TAILQ_ENTRY(lmtp_session) entry;
	struct io		*io;
	enum lmtp_session_state	 state;
	int			 busy;
	int			 errors;
	char			 peer[64];
	int			 from_queue;	/* may ask for a folder */
	int			 lookup_junk;	/* the RCPT asked for Junk */
	char			 sender[ADDR_MAX];
	char			 lookup_addr[ADDR_MAX];
	struct request		*lookup;
	TAILQ_HEAD(, rcpt)	 rcpts;
	size_t			 nrcpts;
	size_t			 npending;

	int			 bodyfd;
	size_t			 datasize;	/* as received */
	int			 toobig;
	int			 hasnul;
	int			 wfailed;
	int			 midline;
	char			*wbuf;
	size_t			 wlen;

	/* The command being answered, for lmtp_log_reply(). */
	enum lmtp_verb		 log_verb;
	char			 log_arg[LOG_PATH_MAX];
};

/* The engine is going down: no new command is taken. */
static int		 stopping;
static TAILQ_HEAD(, lmtp_session) sessions =
    TAILQ_HEAD_INITIALIZER(sessions);

static void	lmtp_session_io(struct io *, int, void *);
static void	lmtp_session_input(struct lmtp_session *);
static void	lmtp_session_command(struct lmtp_session *, char *, size_t,
		    int);
static void	lmtp_log_reply(struct lmtp_session *, const char *);
static void	lmtp_session_error(struct lmtp_session *, int,
		    enum esc_code, const char *, ...)
		    __attribute__((__format__ (printf, 4, 5)));
static void	lmtp_session_reply(struct lmtp_session *, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));
static void	lmtp_session_vstatus(struct lmtp_session *, int,
		    enum esc_code, const char *, va_list)
		    __attribute__((__format__ (printf, 4, 0)));
static void	lmtp_session_status(struct lmtp_session *, int,
		    enum esc_code, const char *, ...)
		    __attribute__((__format__ (printf, 4, 5)));
static void	lmtp_session_busy(struct lmtp_session *);
static void	lmtp_session_ready(struct lmtp_session *);
static void	lmtp_session_close(struct lmtp_session *, int, enum esc_code,
		    const char *, ...)
		    __attribute__((__format__ (printf, 4, 5)));
static void	lmtp_session_free(struct lmtp_session *);
static void	lmtp_session_reset(struct lmtp_session *);
static int	data_input(struct lmtp_session *);
static void	data_append(struct lmtp_session *, const char *, size_t);
static void	data_flush(struct lmtp_session *);
static void	data_done(struct lmtp_session *);
static void	deliver_replies(struct lmtp_session *);
static int	mail_params(struct lmtp_session *, const char *);
static void	rcpt_lookup(struct lmtp_session *, const struct mailaddr *);
static void	header_safe(char *);
static int	reply_ok(const char *, char);

static void	cmd_lhlo(struct lmtp_session *, char *);
static void	cmd_helo(struct lmtp_session *, char *);
static void	cmd_mail(struct lmtp_session *, char *);
static void	cmd_rcpt(struct lmtp_session *, char *);
static void	cmd_data(struct lmtp_session *, char *);
static void	cmd_rset(struct lmtp_session *, char *);
static void	cmd_noop(struct lmtp_session *, char *);
static void	cmd_vrfy(struct lmtp_session *, char *);
static void	cmd_help(struct lmtp_session *, char *);
static void	cmd_quit(struct lmtp_session *, char *);

static void (*const commands[LMTP_CMD_NVERBS])(struct lmtp_session *,
    char *) = {
	[LMTP_CMD_LHLO] = cmd_lhlo,
	[LMTP_CMD_MAIL] = cmd_mail,
	[LMTP_CMD_RCPT] = cmd_rcpt,
	[LMTP_CMD_DATA] = cmd_data,
	[LMTP_CMD_RSET] = cmd_rset,
	[LMTP_CMD_NOOP] = cmd_noop,
	[LMTP_CMD_QUIT] = cmd_quit,
	[LMTP_CMD_VRFY] = cmd_vrfy,
	[LMTP_CMD_HELP] = cmd_help,
	[LMTP_CMD_HELO] = cmd_helo,
	[LMTP_CMD_EHLO] = cmd_helo,
};

void
lmtp_session_new(int fd, const char *peer, int from_queue)
{
	struct lmtp_session	*s;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		log_warn("session");
		close(fd);
		engine_session_closed();
		return;
	}
	if ((s->io = io_new(fd, lmtp_session_io, s)) == NULL) {
		log_warn("session io");
		close(fd);
		free(s);
		engine_session_closed();
		return;
	}
	TAILQ_INIT(&s->rcpts);
	TAILQ_INSERT_TAIL(&sessions, s, entry);
	s->bodyfd = -1;
	strlcpy(s->peer, peer, sizeof(s->peer));
	s->from_queue = from_queue;
	io_set_timeout(s->io, conf->timeout_idle * 1000);
	io_set_maxline(s->io, conf->max_line);
	io_set_output_limit(s->io, OUTPUT_LIMIT);
	log_debug("%s: new session", s->peer);
	lmtp_session_reply(s, "220 %s LMTP tsamba", conf->hostname);
}

static void
lmtp_session_io(struct io *io, int event, void *arg)
{
	struct lmtp_session	*s = arg;

	switch (event) {
	case IO_DATAIN:
		lmtp_session_input(s);
		break;
	case IO_LOWAT:
		if (s->state == S_QUIT && io_queued(s->io) == 0)
			lmtp_session_free(s);
		break;
	case IO_TIMEOUT:
		if (s->state == S_QUIT) {
			lmtp_session_free(s);
			break;
		}
		log_info("%s: idle timeout", s->peer);
		lmtp_session_close(s, 421, ESC_BAD_CONNECTION,
		    "Idle timeout, closing");
		break;
	case IO_DISCONNECTED:
		log_debug("%s: disconnected", s->peer);
		lmtp_session_free(s);
		break;
	case IO_ERROR:
	default:
		log_info("%s: closed: %s", s->peer, io_error(s->io));
		lmtp_session_free(s);
		break;
	}
}

/* Handle what is buffered, until it runs out or a request is pending. */
static void
lmtp_session_input(struct lmtp_session *s)
{
	static char	*line;
	char		*l;
	size_t		 len;
	int		 toolong, bare;

	/* One command at a time in the whole engine: one buffer. */
	if (line == NULL && (line = malloc(conf->max_line + 1)) == NULL)
		fatal("line buffer");
	while (!s->busy && s->state != S_QUIT) {
		if (s->state == S_DATA) {
			if (data_input(s) == 0)
				break;
			continue;
		}
		if ((l = io_getline(s->io, &len, &toolong, &bare)) == NULL)
			break;
		/* Copied: the line is only valid until the next io call. */
		memcpy(line, l, len + 1);
		lmtp_session_command(s, line, len, toolong);
	}
}

static void
lmtp_session_command(struct lmtp_session *s, char *line, size_t len,
    int toolong)
{
	struct lmtp_cmd	 cmd;

	if (toolong) {
		lmtp_session_error(s, 500, ESC_SYNTAX_ERROR, "Line too long");
		return;
	}
	if (lmtp_check_line(line, len) == -1) {
		lmtp_session_error(s, 500, ESC_SYNTAX_ERROR,
		    "NUL character in command");
		return;
	}
	if (lmtp_parse_command(line, &cmd) == LMTP_CMD_UNKNOWN) {
		lmtp_session_error(s, 500, ESC_SYNTAX_ERROR,
		    "Command unrecognized");
		return;
	}
	s->log_verb = cmd.verb;
	strlcpy(s->log_arg, cmd.args, sizeof(s->log_arg));
	commands[cmd.verb](s, cmd.args);
}

/*
 * A 4xx or 5xx answer to MAIL or RCPT, in the form tsamba-smtpd logs
 * (tsamba-lmtpd(8), LOGGING); client= first, the client's text quoted.
 */
static void
lmtp_log_reply(struct lmtp_session *s, const char *reply)
{
	char			 from[4 * LOG_PATH_MAX], rcpt[4 * LOG_PATH_MAX];
	char			 text[4 * LMTP_REPLY_MAX], client[80];
	enum lmtp_verb		 verb = s->log_verb;
	int			 code = atoi(reply);

	s->log_verb = LMTP_CMD_UNKNOWN;
	if (code < 400 || code > 599 ||
	    (verb != LMTP_CMD_MAIL && verb != LMTP_CMD_RCPT))
		return;
	if (strcmp(s->peer, "local") == 0)
		strlcpy(client, "local", sizeof(client));
	else
		snprintf(client, sizeof(client), "[%s]", s->peer);
	log_quote(text, sizeof(text), reply);
	if (verb == LMTP_CMD_MAIL) {
		log_path(from, sizeof(from), s->log_arg, "FROM:");
		log_info("reject: client=%s cmd=MAIL from=<%s> reply=\"%s\"",
		    client, from, text);
		return;
	}
	log_quote(from, sizeof(from), s->sender);
	log_path(rcpt, sizeof(rcpt), s->log_arg, "TO:");
	log_info("reject: client=%s cmd=RCPT from=<%s> rcpt=<%s> "
	    "reply=\"%s\"", client, from, rcpt, text);
}

/* A bad command: answer, and give up on a peer that sends only those. */
static void
lmtp_session_error(struct lmtp_session *s, int code, enum esc_code esc,
    const char *fmt, ...)
{
	va_list	 ap;

	if (++s->errors > MAX_ERRORS) {
		log_info("%s: too many errors", s->peer);
		lmtp_session_close(s, 421, ESC_OTHER_SECURITY_STATUS,
		    "Too many errors, closing");
		return;
	}
	va_start(ap, fmt);
	lmtp_session_vstatus(s, code, esc, fmt, ap);
	va_end(ap);
}

static void
lmtp_session_reply(struct lmtp_session *s, const char *fmt, ...)
{
	char	 buf[1024];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (io_printf(s->io, "%s\r\n", buf) == -1)
		log_warnx("%s: output failed", s->peer);
}

/* "code x.y.z text", the class of x.y.z taken from code. */
static void
lmtp_session_vstatus(struct lmtp_session *s, int code, enum esc_code esc,
    const char *fmt, va_list ap)
{
	char	 buf[1024];
	int	 n;

	n = snprintf(buf, sizeof(buf), "%d %s ", code,
	    esc_for_reply(code, esc));
	if (n > 0 && (size_t)n < sizeof(buf))
		(void)vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	lmtp_log_reply(s, buf);
	lmtp_session_reply(s, "%s", buf);
}

static void
lmtp_session_status(struct lmtp_session *s, int code, enum esc_code esc,
    const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	lmtp_session_vstatus(s, code, esc, fmt, ap);
	va_end(ap);
}

/* A request is out: read nothing more until it is answered. */
static void
lmtp_session_busy(struct lmtp_session *s)
{
	s->busy = 1;
	io_pause_read(s->io);
}

/* The answer is in: go on with pipelined input (delivered by io). */
static void
lmtp_session_ready(struct lmtp_session *s)
{
	s->busy = 0;
	io_resume_read(s->io);
}

static void
lmtp_session_close(struct lmtp_session *s, int code, enum esc_code esc,
    const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	lmtp_session_vstatus(s, code, esc, fmt, ap);
	va_end(ap);
	s->state = S_QUIT;
	io_pause_read(s->io);
	/* Freed once the reply is out (IO_LOWAT), or when that stalls. */
	io_set_timeout(s->io, 10 * 1000);
}

static void
lmtp_session_free(struct lmtp_session *s)
{
	lmtp_session_reset(s);
	engine_cancel(s->lookup);
	TAILQ_REMOVE(&sessions, s, entry);
	io_free(s->io);
	free(s);
	engine_session_closed();
}

/* Forget the transaction; answers still due are dropped. */
static void
lmtp_session_reset(struct lmtp_session *s)
{
	struct rcpt	*r;

	while ((r = TAILQ_FIRST(&s->rcpts)) != NULL) {
		TAILQ_REMOVE(&s->rcpts, r, entry);
		engine_cancel(r->req);
		free(r);
	}
	s->nrcpts = 0;
	s->npending = 0;
	s->sender[0] = '\0';
	if (s->bodyfd != -1)
		close(s->bodyfd);
	s->bodyfd = -1;
	free(s->wbuf);
	s->wbuf = NULL;
	s->wlen = 0;
	s->datasize = 0;
	s->toobig = s->hasnul = s->wfailed = s->midline = 0;
}

/* Commands */

static void
cmd_lhlo(struct lmtp_session *s, char *args)
{
	if (*args == '\0') {
		lmtp_session_error(s, 501, ESC_INVALID_COMMAND_ARGUMENTS,
		    "Syntax: LHLO hostname");
		return;
	}
	lmtp_session_reset(s);
	s->state = S_READY;
	lmtp_session_reply(s, "250-%s", conf->hostname);
	lmtp_session_reply(s, "250-PIPELINING");
	lmtp_session_reply(s, "250-ENHANCEDSTATUSCODES");
	lmtp_session_reply(s, "250-8BITMIME");
	lmtp_session_reply(s, "250-SMTPUTF8");
	if (s->from_queue)
		lmtp_session_reply(s, "250-%s", LMTP_FOLDER_PARAM);
	lmtp_session_reply(s, "250 SIZE %zu", conf->max_message_size);
}

static void
cmd_helo(struct lmtp_session *s, char *args)
{
	lmtp_session_error(s, 500, ESC_INVALID_COMMAND,
	    "This is LMTP: use LHLO");
}

static void
cmd_mail(struct lmtp_session *s, char *args)
{
	struct mailaddr	 a;
	const char	*rest;

	if (s->state == S_INIT) {
		lmtp_session_error(s, 503, ESC_INVALID_COMMAND,
		    "Send LHLO first");
		return;
	}
	if (s->state != S_READY) {
		lmtp_session_error(s, 503, ESC_INVALID_COMMAND,
		    "Nested MAIL command");
		return;
	}
	switch (lmtp_parse_mail_from(args, &a, &rest)) {
	case LMTP_PATH_OK:
		break;
	case LMTP_PATH_SYNTAX:
		lmtp_session_error(s, 501, ESC_INVALID_COMMAND_ARGUMENTS,
		    "Syntax: MAIL FROM:<address>");
		return;
	default:
		lmtp_session_error(s, 501, ESC_BAD_SENDER_SYNTAX,
		    "Bad sender address syntax");
		return;
	}
	if (mail_params(s, rest) == -1)
		return;
	addr_format(&a, s->sender, sizeof(s->sender));
	header_safe(s->sender);
	s->state = S_MAIL;
	lmtp_session_status(s, 250, ESC_OTHER_ADDRESS_STATUS, "Ok");
}

/* BODY=, SIZE= and SMTPUTF8 are what we advertise; nothing else. */
static int
mail_params(struct lmtp_session *s, const char *p)
{
	struct lmtp_mail_params	 mp;

	switch (lmtp_parse_mail_params(p, conf->max_message_size, &mp)) {
	case LMTP_PARAM_OK:
		return 0;
	case LMTP_PARAM_TOO_LONG:
		lmtp_session_error(s, 501, ESC_INVALID_COMMAND_ARGUMENTS,
		    "Parameter too long");
		break;
	case LMTP_PARAM_BAD_SIZE:
		lmtp_session_error(s, 501, ESC_INVALID_COMMAND_ARGUMENTS,
		    "Bad SIZE value");
		break;
	case LMTP_PARAM_TOO_BIG:
		/* A fair refusal, not a client mistake. */
		lmtp_session_status(s, 552, ESC_MESSAGE_TOO_BIG,
		    "Message too big");
		break;
	case LMTP_PARAM_UNSUPPORTED:
	default:
		lmtp_session_error(s, 555, ESC_INVALID_COMMAND_ARGUMENTS,
		    "Unsupported parameter");
		break;
	}
	return -1;
}

/*
 * " X-TSAMBA-FOLDER=Junk" at the end of the queue's RCPT: cut off, 1.
 * Any other peer's is left for the parser to refuse.
 */
static int
rcpt_folder_param(struct lmtp_session *s, char *args)
{
	static const char	 p[] = " " LMTP_FOLDER_PARAM "=Junk";
	size_t			 len = strlen(args), plen = sizeof(p) - 1;

	if (!s->from_queue || len < plen ||
	    strcasecmp(args + len - plen, p) != 0)
		return 0;
	args[len - plen] = '\0';
	return 1;
}

static void
cmd_rcpt(struct lmtp_session *s, char *args)
{
	struct mailaddr	 a;

	if (s->state != S_MAIL && s->state != S_RCPT) {
		lmtp_session_error(s, 503, ESC_INVALID_COMMAND,
		    "Need MAIL before RCPT");
		return;
	}
	s->lookup_junk = rcpt_folder_param(s, args);
	switch (lmtp_parse_rcpt_to(args, &a)) {
	case LMTP_PATH_OK:
		rcpt_lookup(s, &a);
		break;
	case LMTP_PATH_SYNTAX:
		lmtp_session_error(s, 501, ESC_INVALID_COMMAND_ARGUMENTS,
		    "Syntax: RCPT TO:<address>");
		break;
	case LMTP_PATH_BAD:
		lmtp_session_error(s, 501, ESC_BAD_DESTINATION_SYNTAX,
		    "Bad recipient address syntax");
		break;
	case LMTP_PATH_PARAMS:
	default:
		lmtp_session_error(s, 555, ESC_INVALID_COMMAND_ARGUMENTS,
		    "Unsupported parameter");
		break;
	}
}

/* A well-formed recipient: ask authd whether it is ours. */
static void
rcpt_lookup(struct lmtp_session *s, const struct mailaddr *a)
{
	if (s->nrcpts >= conf->max_rcpts) {
		lmtp_session_status(s, 452, ESC_TOO_MANY_RECIPIENTS,
		    "Too many recipients");
		return;
	}
	addr_format(a, s->lookup_addr, sizeof(s->lookup_addr));
	header_safe(s->lookup_addr);
	if ((s->lookup = engine_lookup(s, s->lookup_addr)) == NULL) {
		lmtp_session_status(s, 451, ESC_OTHER_MAIL_SYSTEM_STATUS,
		    "Temporary failure");
		return;
	}
	lmtp_session_busy(s);
}

void
lmtp_session_lookup_done(struct lmtp_session *s, int status,
    const char *maildir, uint32_t uid, uint32_t gid, uint64_t quota)
{
	struct rcpt	*r;

	s->lookup = NULL;
	if (s->state == S_QUIT)
		return;
	switch (status) {
	case LOOKUP_OK:
		if ((r = calloc(1, sizeof(*r))) == NULL) {
			log_warn("rcpt");
			lmtp_session_status(s, 451,
			    ESC_OTHER_MAIL_SYSTEM_STATUS, "Temporary failure");
			break;
		}
		r->idx = s->nrcpts++;
		strlcpy(r->addr, s->lookup_addr, sizeof(r->addr));
		strlcpy(r->maildir, maildir, sizeof(r->maildir));
		/* Maildir++: the folder Junk is the directory .Junk/. */
		if (s->lookup_junk && (r->maildir[0] == '\0' ||
		    r->maildir[strlen(r->maildir) - 1] == '/'))
			strlcat(r->maildir, ".Junk/", sizeof(r->maildir));
		r->uid = uid;
		r->gid = gid;
		r->quota = quota;
		TAILQ_INSERT_TAIL(&s->rcpts, r, entry);
		s->state = S_RCPT;
		lmtp_session_status(s, 250, ESC_DESTINATION_VALID, "Ok");
		break;
	case LOOKUP_NOUSER:
	case LOOKUP_NOTHOSTED:
		lmtp_session_status(s, 550, ESC_BAD_DESTINATION_MAILBOX,
		    "<%s> User unknown", s->lookup_addr);
		break;
	case LOOKUP_INVALID:
		lmtp_session_status(s, 501, ESC_BAD_DESTINATION_SYNTAX,
		    "Bad recipient address syntax");
		break;
	case LOOKUP_TEMPFAIL:
	default:
		lmtp_session_status(s, 451, ESC_OTHER_MAIL_SYSTEM_STATUS,
		    "Temporary lookup failure");
		break;
	}
	lmtp_session_ready(s);
}

static void
cmd_data(struct lmtp_session *s, char *args)
{
	if (s->state == S_MAIL) {
		lmtp_session_error(s, 503, ESC_INVALID_COMMAND,
		    "No valid recipients");
		return;
	}
	if (s->state != S_RCPT) {
		lmtp_session_error(s, 503, ESC_INVALID_COMMAND,
		    "Need RCPT before DATA");
		return;
	}
	if (*args != '\0') {
		lmtp_session_error(s, 501, ESC_INVALID_COMMAND_ARGUMENTS,
		    "Syntax: DATA");
		return;
	}
	s->bodyfd = memfd_create("lmtp-body", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (s->bodyfd == -1 || (s->wbuf = malloc(BODY_BUFSZ)) == NULL) {
		log_warn("%s: message file", s->peer);
		lmtp_session_status(s, 451, ESC_OTHER_MAIL_SYSTEM_STATUS,
		    "Temporary failure");
		return;
	}
	s->state = S_DATA;
	lmtp_session_reply(s, "354 Start mail input; end with <CRLF>.<CRLF>");
}

static void
cmd_rset(struct lmtp_session *s, char *args)
{
	lmtp_session_reset(s);
	if (s->state != S_INIT)
		s->state = S_READY;
	lmtp_session_status(s, 250, ESC_OTHER_STATUS, "Ok");
}

static void
cmd_noop(struct lmtp_session *s, char *args)
{
	lmtp_session_status(s, 250, ESC_OTHER_STATUS, "Ok");
}

static void
cmd_vrfy(struct lmtp_session *s, char *args)
{
	lmtp_session_status(s, 252, ESC_OTHER_PROTOCOL_STATUS,
	    "Cannot VRFY user, but will accept message");
}

static void
cmd_help(struct lmtp_session *s, char *args)
{
	lmtp_session_status(s, 214, ESC_OTHER_STATUS,
	    "LHLO MAIL RCPT DATA RSET NOOP QUIT VRFY");
}

static void
cmd_quit(struct lmtp_session *s, char *args)
{
	lmtp_session_close(s, 221, ESC_OTHER_STATUS, "Bye");
}

/* DATA */

/*
 * Take the body straight from the input buffer: lines end at LF (a CR
 * before it is dropped), a leading dot is removed, a line of one dot
 * ends the message.  A line may be of any length: a long one is written
 * out in pieces.  A NUL anywhere refuses the message (data_append), as
 * tsamba-smtpd does: a client like Postfix may relay what some other
 * server let through.  Returns 1 when the message ended, 0 for more
 * input.
 */
static int
data_input(struct lmtp_session *s)
{
	const char	*buf, *line, *lf;
	size_t		 len, off = 0, rem, n, eol;

	buf = io_data(s->io);
	len = io_datalen(s->io);
	while (off < len) {
		line = buf + off;
		rem = len - off;
		if ((lf = memchr(line, '\n', rem)) == NULL) {
			if (rem < DATA_CHUNK)
				break;
			/* Keep a CR that may belong to the CRLF. */
			n = line[rem - 1] == '\r' ? rem - 1 : rem;
			eol = n;
			if (!s->midline && line[0] == '.') {
				line++;
				n--;
			}
			s->datasize += eol;
			off += eol;
			data_append(s, line, n);
			s->midline = 1;
			continue;
		}
		eol = lf - line + 1;
		n = eol - 1;
		if (n > 0 && line[n - 1] == '\r')
			n--;
		s->datasize += eol;
		off += eol;
		if (!s->midline && line[0] == '.') {
			if (n == 1) {
				io_drain(s->io, off);
				data_done(s);
				return 1;
			}
			line++;
			n--;
		}
		data_append(s, line, n);
		data_append(s, "\n", 1);
		s->midline = 0;
	}
	io_drain(s->io, off);
	data_flush(s);
	return 0;
}

static void
data_append(struct lmtp_session *s, const char *p, size_t n)
{
	size_t	 m;

	if (s->datasize > conf->max_message_size)
		s->toobig = 1;
	if (memchr(p, '\0', n) != NULL)
		s->hasnul = 1;
	if (s->toobig || s->hasnul || s->wfailed)
		return;
	while (n > 0) {
		if (s->wlen == BODY_BUFSZ)
			data_flush(s);
		if (s->wfailed)
			return;
		m = BODY_BUFSZ - s->wlen;
		if (m > n)
			m = n;
		memcpy(s->wbuf + s->wlen, p, m);
		s->wlen += m;
		p += m;
		n -= m;
	}
}

static void
data_flush(struct lmtp_session *s)
{
	size_t	 off = 0;
	ssize_t	 n;

	while (off < s->wlen && !s->wfailed) {
		n = write(s->bodyfd, s->wbuf + off, s->wlen - off);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			log_warn("%s: message file", s->peer);
			s->wfailed = 1;
			break;
		}
		off += n;
	}
	s->wlen = 0;
}

/* The final dot: one DELIVER per recipient, all sharing the body. */
static void
data_done(struct lmtp_session *s)
{
	char		 prefix[LMTP_PREFIX_MAX];
	struct rcpt	*r;
	int		 fd;

	data_flush(s);
	s->state = S_DELIVER;
	TAILQ_FOREACH(r, &s->rcpts, entry) {
		if (s->hasnul)
			(void)esc_reply(r->reply, sizeof(r->reply), 550,
			    ESC_OTHER_MEDIA_STATUS,
			    "NUL character in message refused");
		else if (s->toobig)
			(void)esc_reply(r->reply, sizeof(r->reply), 552,
			    ESC_MESSAGE_TOO_BIG, "Message too big");
		else if (s->wfailed)
			(void)esc_reply(r->reply, sizeof(r->reply), 451,
			    ESC_OTHER_MAIL_SYSTEM_STATUS, "Temporary failure");
		else
			continue;
		r->done = 1;
	}
	if (s->hasnul)
		log_warnx("%s: NUL character in message refused: from=<%s>",
		    s->peer, s->sender);
	else if (s->toobig || s->wfailed)
		log_info("%s: message refused (%s)", s->peer,
		    s->toobig ? "too big" : "spool failure");
	if (s->hasnul || s->toobig || s->wfailed) {
		deliver_replies(s);
		return;
	}
	/* The writers share the file: make it immutable first. */
	if (fcntl(s->bodyfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW |
	    F_SEAL_WRITE | F_SEAL_SEAL) == -1)
		log_warn("%s: seal message file", s->peer);
	s->npending = 0;
	TAILQ_FOREACH(r, &s->rcpts, entry) {
		snprintf(prefix, sizeof(prefix),
		    "Return-Path: <%s>\nDelivered-To: %s\n", s->sender,
		    r->addr);
		if ((fd = dup(s->bodyfd)) == -1 ||
		    (r->req = engine_deliver(s, r->idx, fd, r->maildir, r->uid,
		    r->gid, r->quota, prefix)) == NULL) {
			log_warn("%s: deliver to <%s>", s->peer, r->addr);
			(void)esc_reply(r->reply, sizeof(r->reply), 451,
			    ESC_OTHER_MAIL_SYSTEM_STATUS, "Temporary failure");
			r->done = 1;
			continue;
		}
		s->npending++;
	}
	if (s->npending == 0)
		deliver_replies(s);
	else
		lmtp_session_busy(s);
}

void
lmtp_session_delivered(struct lmtp_session *s, size_t idx, int status,
    const char *text)
{
	struct rcpt	*r;

	TAILQ_FOREACH(r, &s->rcpts, entry)
		if (r->idx == idx)
			break;
	if (r == NULL || r->done)
		return;
	r->req = NULL;
	r->done = 1;
	s->npending--;
	stats_inc(ST_LMTP_DELIVERIES, status == DELIVER_OK ? 0 :
	    status == DELIVER_PERMFAIL ? 2 : 1);
	switch (status) {
	case DELIVER_OK:
		(void)esc_reply(r->reply, sizeof(r->reply), 250,
		    ESC_OTHER_STATUS, "<%s> delivered", r->addr);
		break;
	case DELIVER_PERMFAIL:
		if (reply_ok(text, '5'))
			strlcpy(r->reply, text, sizeof(r->reply));
		else
			(void)esc_reply(r->reply, sizeof(r->reply), 550,
			    ESC_OTHER_MAILBOX_STATUS, "<%s> delivery failed",
			    r->addr);
		break;
	case DELIVER_TEMPFAIL:
	default:
		if (reply_ok(text, '4'))
			strlcpy(r->reply, text, sizeof(r->reply));
		else
			(void)esc_reply(r->reply, sizeof(r->reply), 451,
			    ESC_OTHER_MAIL_SYSTEM_STATUS,
			    "<%s> temporary failure", r->addr);
		break;
	}
	log_info("%s: from=<%s> to=<%s> maildir=%s: %s", s->peer, s->sender,
	    r->addr, r->maildir, text);
	if (s->npending == 0 && s->state == S_DELIVER) {
		deliver_replies(s);
		if (stopping)
			lmtp_session_close(s, 421, ESC_SYSTEM_NOT_ACCEPTING,
			    "Shutting down");
		else
			lmtp_session_ready(s);
	}
}

/* One reply per accepted recipient, in RCPT order (RFC 2033 4.2). */
static void
deliver_replies(struct lmtp_session *s)
{
	struct rcpt	*r;

	TAILQ_FOREACH(r, &s->rcpts, entry)
		lmtp_session_reply(s, "%s", r->reply);
	lmtp_session_reset(s);
	s->state = S_READY;
}

/* "4xx x.y.z text" of the expected class, printable: safe to send. */
static int
reply_ok(const char *text, char class)
{
	const char	*p;

	if (text[0] != class || !isdigit((unsigned char)text[1]) ||
	    !isdigit((unsigned char)text[2]) || text[3] != ' ' ||
	    text[4] != class || text[5] != '.')
		return 0;
	for (p = text; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return 0;
	return 1;
}

/* Addresses go into header lines: no control characters there. */
static void
header_safe(char *p)
{
	for (; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
}

/*
 * The engine is exiting (its parent died, SIGTERM): the replies already
 * queued go out first, a 250 for a recipient delivered above all, which
 * the client would otherwise deliver again.  Bounded, so that clients
 * that do not read cannot hold the exit.
 */
void
lmtp_session_flush_all(void)
{
	struct lmtp_session	*s;
	struct timespec		 deadline;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += LMTP_EXIT_FLUSH_SEC;
	TAILQ_FOREACH(s, &sessions, entry)
		if (io_queued(s->io) > 0)
			(void)io_flush_until(s->io, &deadline);
}

/*
 * The engine is stopping (SIGTERM): a session waiting for its writers
 * keeps waiting, so that the 250s it owes go out, and closes after
 * them; every other one closes now with a 421, which a client answers
 * by trying again later, nothing it sent being delivered yet.
 */
void
lmtp_session_stop_all(void)
{
	struct lmtp_session	*s, *next;

	stopping = 1;
	TAILQ_FOREACH_SAFE(s, &sessions, entry, next) {
		if (s->state == S_QUIT || s->state == S_DELIVER)
			continue;
		lmtp_session_close(s, 421, ESC_SYSTEM_NOT_ACCEPTING,
		    "Shutting down");
	}
}
