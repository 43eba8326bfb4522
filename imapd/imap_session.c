/*
 * IMAP in the mail process: the authenticated and selected states of
 * one session (RFC 9051 6.3 on; IMAP4rev1 as RFC 3501 has it).  It
 * reads each command with its literals (struct imap_reader), parses it
 * (imap_parse.c), hands it to its imap_cmd_*.c file, and keeps the
 * session's view of the selected mailbox: message sequence numbers
 * that change only when this session reports an EXPUNGE, as the
 * protocol requires, while other sessions and lmtpd change the disk.
 */

#include <sys/types.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "imapd.h"

#define MAIL_LINE_MAX		(64 * 1024 - 1)
/* Room for the rest of a command beside its biggest literal. */
#define MAIL_COMMAND_SLACK	(64 * 1024)

/* literal_max: a message as big as SMTP takes (limit message-size). */
static struct imap_limits mail_limits = {
	.line_max = MAIL_LINE_MAX,
	.depth_max = IMAP_DEPTH_MAX,
	.args_max = IMAP_ARGS_MAX,
	.literal_plus = 1,
};

void
imap_tagged(struct mail_session *s, const struct imap_cmd *cmd,
    const char *status, const char *fmt, ...)
{
	va_list	 ap;

	fprintf(s->io.out, "%s %s ", cmd->tag, status);
	va_start(ap, fmt);
	vfprintf(s->io.out, fmt, ap);
	va_end(ap);
	fputs("\r\n", s->io.out);
}

void
imap_seq_rebuild(struct mail_session *s)
{
	size_t	 i;

	free(s->seq);
	s->seq = NULL;
	s->nseq = 0;
	if (s->mb == NULL || s->mb->nmsg == 0)
		return;
	if ((s->seq = reallocarray(NULL, s->mb->nmsg, sizeof(*s->seq))) ==
	    NULL)
		fatal("%s", __func__);
	for (i = 0; i < s->mb->nmsg; i++)
		s->seq[i] = s->mb->msg[i].uid;
	s->nseq = s->mb->nmsg;
}

/* Position + 1 of uid in the ascending array v of n, 0 if not there. */
size_t
imap_uid_pos(const uint32_t *v, size_t n, uint32_t uid)
{
	size_t	 lo = 0, hi = n, mid;

	while (lo < hi) {
		mid = (lo + hi) / 2;
		if (v[mid] == uid)
			return mid + 1;
		if (v[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/* Sequence number of a uid in the session's view, 0 if not there. */
uint32_t
imap_seq_of(const struct mail_session *s, uint32_t uid)
{
	return imap_uid_pos(s->seq, s->nseq, uid);
}

void
imap_write_flags(struct mail_session *s, FILE *f, uint32_t uid)
{
	static const struct {
		unsigned int	 bit;
		const char	*name;
	} std[] = {
		{ MAILDIR_FLAG_REPLIED, "\\Answered" },
		{ MAILDIR_FLAG_FLAGGED, "\\Flagged" },
		{ MAILDIR_FLAG_TRASHED, "\\Deleted" },
		{ MAILDIR_FLAG_SEEN, "\\Seen" },
		{ MAILDIR_FLAG_DRAFT, "\\Draft" },
		{ MAILDIR_FLAG_PASSED, "$Forwarded" },
	};
	struct mbox_msg	*m;
	const char	*kw;
	size_t		 i;
	int		 sp = 0;

	fputs("FLAGS (", f);
	if ((m = mailbox_find(s->mb, uid)) != NULL) {
		for (i = 0; i < sizeof(std) / sizeof(std[0]); i++)
			if (m->flags.std & std[i].bit) {
				fprintf(f, "%s%s", sp++ ? " " : "",
				    std[i].name);
			}
		for (i = 0; i < KEYWORDS_MAX; i++)
			if ((m->flags.keywords & (1U << i)) &&
			    (kw = keywords_name(&s->mb->kw, i)) != NULL)
				fprintf(f, "%s%s", sp++ ? " " : "", kw);
	}
	fputc(')', f);
}

/*
 * What others did since the last look: new messages (EXISTS), flags
 * (FETCH FLAGS) and, when the command allows (not during FETCH, STORE
 * or SEARCH: RFC 9051 7.5.1), expunges.  Expunged messages not yet
 * reported stay in the view; FETCH finds no file for them.
 */
void
imap_sync_report(struct mail_session *s, int expunges)
{
	struct mailbox_changes	 c;
	uint32_t		 seq;
	size_t			 i, j, o;

	if (s->mb == NULL)
		return;
	memset(&c, 0, sizeof(c));
	if (mailbox_sync(s->mb, &c) == -1) {
		log_warn("%s: sync %s", s->user, s->mb->name);
		return;
	}
	(void)imap_modseq_sync(s);
	if (expunges && (s->enabled & MAIL_ENABLED_QRESYNC))
		imap_report_vanished(s);
	else if (expunges) {
		/* Every uid of the view the mailbox no longer has. */
		for (i = s->nseq; i > 0; i--) {
			if (mailbox_find(s->mb, s->seq[i - 1]) != NULL)
				continue;
			fprintf(s->io.out, "* %zu EXPUNGE\r\n", i);
			memmove(&s->seq[i - 1], &s->seq[i],
			    (s->nseq - i) * sizeof(*s->seq));
			s->nseq--;
		}
	}
	for (i = 0; i < c.nflagged; i++)
		if ((seq = imap_seq_of(s, c.flagged[i])) != 0) {
			fprintf(s->io.out, "* %u FETCH (", seq);
			imap_write_flags(s, s->io.out, c.flagged[i]);
			if (s->enabled & MAIL_ENABLED_CONDSTORE) {
				fprintf(s->io.out, " UID %u ", c.flagged[i]);
				imap_write_modseq(s, s->io.out, c.flagged[i]);
			}
			fputs(")\r\n", s->io.out);
		}
	if (s->mb->nmsg > 0 && (s->nseq == 0 ||
	    s->mb->msg[s->mb->nmsg - 1].uid > s->seq[s->nseq - 1])) {
		o = s->nseq;
		if ((s->seq = reallocarray(s->seq, s->nseq + s->mb->nmsg,
		    sizeof(*s->seq))) == NULL)
			fatal("%s", __func__);
		for (j = 0; j < s->mb->nmsg; j++)
			if (o == 0 || s->mb->msg[j].uid > s->seq[o - 1])
				s->seq[s->nseq++] = s->mb->msg[j].uid;
		fprintf(s->io.out, "* %zu EXISTS\r\n", s->nseq);
	}
	mailbox_changes_free(&c);
}

/*
 * The uids (in the view, ascending) a set names: 0, or -1 for sequence
 * numbers the view does not have (a BAD command).
 */
int
imap_set_uids(struct mail_session *s, const void *vset, int uid,
    uint32_t **out, size_t *n)
{
	const struct imap_seqset	*set = vset;
	uint32_t			*v;
	uint32_t			 maxuid;
	size_t				 i, k = 0;

	*out = NULL;
	*n = 0;
	if (!uid && !set->saved && !imap_seqset_within(set, s->nseq))
		return -1;
	if (s->nseq == 0)
		return 0;
	if (set->saved) {		/* "$" (RFC 5182) */
		imap_saved_uids(s, out, n);
		return 0;
	}
	if ((v = reallocarray(NULL, s->nseq, sizeof(*v))) == NULL)
		fatal("%s", __func__);
	maxuid = s->seq[s->nseq - 1];
	for (i = 0; i < s->nseq; i++) {
		if (uid ? imap_seqset_contains(set, s->seq[i], maxuid) :
		    imap_seqset_contains(set, i + 1, s->nseq))
			v[k++] = s->seq[i];
	}
	*out = v;
	*n = k;
	return 0;
}

static void
imap_capability(struct mail_session *s, struct imap_cmd *cmd)
{
	fprintf(s->io.out, "* CAPABILITY %s APPENDLIMIT=%zu\r\n",
	    IMAP_CAPA_MAIL, mail_limits.literal_max);
	imap_tagged(s, cmd, "OK", "CAPABILITY completed");
}

static void
imap_noop(struct mail_session *s, struct imap_cmd *cmd)
{
	imap_sync_report(s, 1);
	imap_tagged(s, cmd, "OK", "%s completed", imap_verb_name(cmd->verb));
}

static void
imap_logout(struct mail_session *s, struct imap_cmd *cmd)
{
	fputs("* BYE Logging out\r\n", s->io.out);
	imap_tagged(s, cmd, "OK", "LOGOUT completed");
	s->logout = 1;
}

static void
imap_id(struct mail_session *s, struct imap_cmd *cmd)
{
	fputs("* ID (\"name\" \"tsamba\")\r\n", s->io.out);
	imap_tagged(s, cmd, "OK", "ID completed");
}

static void
imap_namespace(struct mail_session *s, struct imap_cmd *cmd)
{
	fputs("* NAMESPACE ((\"\" \".\")) NIL NIL\r\n", s->io.out);
	imap_tagged(s, cmd, "OK", "NAMESPACE completed");
}

static void
imap_not_supported(struct mail_session *s, struct imap_cmd *cmd)
{
	imap_tagged(s, cmd, "BAD", "%s is not supported yet",
	    imap_verb_name(cmd->verb));
}

static void
imap_dispatch(struct mail_session *s, struct imap_cmd *cmd)
{
	int	 selected = cmd->verb == IC_CLOSE || cmd->verb == IC_UNSELECT ||
		    cmd->verb == IC_EXPUNGE || cmd->verb == IC_FETCH ||
		    cmd->verb == IC_STORE || cmd->verb == IC_SEARCH ||
		    cmd->verb == IC_CHECK || cmd->verb == IC_COPY ||
		    cmd->verb == IC_MOVE || cmd->verb == IC_SORT ||
		    cmd->verb == IC_THREAD;

	if (selected && s->mb == NULL) {
		imap_tagged(s, cmd, "BAD", "%s: no mailbox selected",
		    imap_verb_name(cmd->verb));
		return;
	}
	switch (cmd->verb) {
	case IC_CAPABILITY:
		imap_capability(s, cmd);
		break;
	case IC_NOOP:
	case IC_CHECK:
		imap_noop(s, cmd);
		break;
	case IC_LOGOUT:
		imap_logout(s, cmd);
		break;
	case IC_ID:
		imap_id(s, cmd);
		break;
	case IC_NAMESPACE:
		imap_namespace(s, cmd);
		break;
	case IC_ENABLE:
		imap_cmd_enable(s, cmd);
		break;
	case IC_STARTTLS:
	case IC_LOGIN:
	case IC_AUTHENTICATE:
		imap_tagged(s, cmd, "BAD", "Already logged in");
		break;
	case IC_SELECT:
	case IC_EXAMINE:
		imap_cmd_select(s, cmd);
		break;
	case IC_CLOSE:
	case IC_UNSELECT:
		imap_cmd_close(s, cmd);
		break;
	case IC_LIST:
	case IC_LSUB:
		imap_cmd_list(s, cmd);
		break;
	case IC_STATUS:
		imap_cmd_status(s, cmd);
		break;
	case IC_FETCH:
		imap_cmd_fetch(s, cmd);
		break;
	case IC_STORE:
		imap_cmd_store(s, cmd);
		break;
	case IC_EXPUNGE:
		imap_cmd_expunge(s, cmd);
		break;
	case IC_SEARCH:
		imap_cmd_search(s, cmd);
		break;
	case IC_SORT:
		imap_cmd_sort(s, cmd);
		break;
	case IC_THREAD:
		imap_cmd_thread(s, cmd);
		break;
	case IC_APPEND:
		imap_cmd_append(s, cmd);
		imap_sync_report(s, 1);
		break;
	case IC_COPY:
	case IC_MOVE:
		imap_cmd_copy(s, cmd);
		break;
	case IC_IDLE:
		imap_cmd_idle(s, cmd);
		break;
	case IC_COMPRESS:
		imap_cmd_compress(s, cmd);
		break;
	case IC_CREATE:
	case IC_DELETE:
	case IC_RENAME:
	case IC_SUBSCRIBE:
	case IC_UNSUBSCRIBE:
		imap_cmd_folder(s, cmd);
		break;
	case IC_GETQUOTAROOT:
	case IC_GETQUOTA:
	case IC_SETQUOTA:
		imap_cmd_quota(s, cmd);
		break;
	default:
		imap_not_supported(s, cmd);
		break;
	}
}

/*
 * A literal over APPENDLIMIT ends its command at once with a tagged
 * NO [TOOBIG] (RFC 7889): a client that waits for "+" sends none of
 * it; one that did not wait has its bytes read away.
 */
static void
imap_too_big(struct mail_session *s, const struct imap_reader *rd)
{
	size_t	 n;

	n = strcspn(rd->buf, " \r\n");
	if (n == 0 || n > IMAP_TAG_MAX)
		fprintf(s->io.out, "* BAD %s\r\n", rd->err);
	else
		fprintf(s->io.out, "%.*s NO [TOOBIG] The message is over "
		    "the limit of %zu bytes\r\n", (int)n, rd->buf,
		    rd->lim.literal_max);
}

/* Assemble one command: 1, or 0 when the session is over. */
static int
imap_read_command(struct mail_session *s, struct imap_reader *rd)
{
	char	*line;
	size_t	 len;
	int	 r;

	for (;;) {
		if ((r = mio_getline(&s->io, &line, &len)) == 0)
			return 0;
		if (r == -1) {
			/* The tag is in the head kept of it (RFC 9051 7.1.5). */
			if (rd->len == 0)
				imap_line_tag(s->io.head, s->io.headlen,
				    rd->tag, sizeof(rd->tag));
			fprintf(s->io.out, "%s BAD Line too long\r\n",
			    rd->tag);
			imap_reader_reset(rd);
			continue;
		}
		switch (imap_reader_line(rd, line, len)) {
		case IMAP_READ_DONE:
			return 1;
		case IMAP_READ_ERROR:
			if (rd->lit_size > rd->lim.literal_max)
				imap_too_big(s, rd);
			else
				fprintf(s->io.out, "%s BAD %s\r\n", rd->tag,
				    rd->err);
			if (rd->lit_skip && mio_read(&s->io, NULL,
			    rd->lit_size) == -1)
				return 0;
			imap_reader_reset(rd);
			continue;
		case IMAP_READ_LITERAL:
			break;
		case IMAP_READ_LINE:
			continue;
		}
		/* A literal follows. */
		if (rd->lit_sync) {
			fputs("+ Ready for literal data\r\n", s->io.out);
			mio_flush(&s->io);
		}
		while (rd->lit_size > 0) {
			char	 chunk[8192];
			size_t	 n = rd->lit_size < sizeof(chunk) ?
				    rd->lit_size : sizeof(chunk);

			if (mio_read(&s->io, chunk, n) == -1)
				return 0;
			if (imap_reader_literal(rd, chunk, n) ==
			    IMAP_READ_ERROR)
				break;
		}
		if (rd->lit_size == 0)
			(void)imap_reader_literal(rd, "", 0);
	}
}

void
imap_session_run(struct mail_session *s)
{
	struct imap_reader	 rd;
	struct imap_cmd		 cmd;
	const char		*err;

	mail_limits.literal_max = imapd_conf->max_message_size;
	mail_limits.command_max = mail_limits.literal_max + MAIL_COMMAND_SLACK;
	imap_reader_init(&rd, &mail_limits);
	while (!s->logout) {
		mio_flush(&s->io);
		if (!imap_read_command(s, &rd))
			break;
		memset(&cmd, 0, sizeof(cmd));
		err = NULL;
		if (imap_parse_command(rd.buf, rd.len, &mail_limits, &cmd,
		    &err) == -1)
			fprintf(s->io.out, "%s BAD %s\r\n", cmd.tag[0] != '\0' ?
			    cmd.tag : "*", err != NULL ? err : "Syntax error");
		else
			imap_dispatch(s, &cmd);
		imap_cmd_free(&cmd);
		imap_reader_reset(&rd);
	}
	if (s->io.eof == 2)
		fputs("* BYE Autologout: idle for too long\r\n", s->io.out);
	else if (s->io.eof == 3 && mail_stopping == MAIL_STOP_KICK)
		fputs("* BYE Disconnected by the administrator\r\n",
		    s->io.out);
	else if (s->io.eof == 3)
		fputs("* BYE Server shutting down\r\n", s->io.out);
	else if (s->io.eof == 4) {
		log_warnx("%s: corrupt compressed input: %s", s->user,
		    s->io.zerr);
		fputs("* BYE Corrupt compressed data\r\n", s->io.out);
	}
	imap_reader_free(&rd);
	imap_modseq_close(s);
	imap_saved_clear(s);
	if (s->mb != NULL)
		mailbox_close(s->mb);
	free(s->seq);
}
