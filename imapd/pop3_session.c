/*
 * POP3 in the mail process (RFC 1939 transaction and update states,
 * RFC 2449 CAPA): STAT, LIST, UIDL (Dovecot's values, pop3_uidl.c),
 * RETR, TOP, DELE, RSET, NOOP, QUIT on a snapshot of the INBOX taken
 * at login.  DELE only marks; QUIT expunges the marked messages, so an
 * IMAP session on the same mailbox sees them go then.  A session that
 * ends any other way deletes nothing.  One POP3 session at a time holds
 * the mailbox (pop3_lock.c); the next is told [IN-USE].
 */

#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "pop3_lock.h"
#include "pop3_parse.h"
#include "pop3_uidl.h"
#include "imapd.h"

struct pop3_msg {
	uint32_t	 uid;
	size_t		 size;		/* with CRLF line ends */
	int		 deleted;
};

struct pop3 {
	struct mail_session	*s;
	struct pop3_msg		*msg;
	size_t			 nmsg;
	int			 lock;		/* pop3_lock.c */
};

/* The size POP3 counts: every LF as CRLF. */
static size_t
pop3_size(struct mail_session *s, const struct mbox_msg *m)
{
	char	 buf[8192];
	size_t	 size = 0, i;
	ssize_t	 n;
	int	 fd;

	if (maildir_name_size(m->name, 'W', &size) == 0)
		return size;
	if ((fd = openat(s->mb->md, m->name, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (i = 0; i < (size_t)n; i++)
			size += buf[i] == '\n' ? 2 : buf[i] == '\r' ? 0 : 1;
	close(fd);
	return size;
}

static int
pop3_open(struct pop3 *p)
{
	struct mail_session	*s = p->s;
	size_t			 i;

	if (mailbox_open(s->root, "INBOX", 0, &s->mb) == -1 ||
	    mailbox_sync(s->mb, NULL) == -1) {
		log_warn("%s: pop3: cannot open INBOX", s->user);
		return -1;
	}
	if ((p->lock = pop3_lock_take(s->mb->md)) == -1) {
		if (errno != EWOULDBLOCK) {
			log_warn("%s: pop3: cannot lock INBOX", s->user);
			return -1;
		}
		log_info("%s: pop3: mailbox in use by another session",
		    s->user);
		return -2;
	}
	p->nmsg = s->mb->nmsg;
	if ((p->msg = calloc(p->nmsg + 1, sizeof(*p->msg))) == NULL)
		fatal("%s", __func__);
	for (i = 0; i < p->nmsg; i++) {
		p->msg[i].uid = s->mb->msg[i].uid;
		p->msg[i].size = pop3_size(s, &s->mb->msg[i]);
	}
	return 0;
}

/* Message n (1-based) not deleted, or NULL after the -ERR. */
static struct pop3_msg *
pop3_get(struct pop3 *p, uint32_t n)
{
	if (n == 0 || n > p->nmsg || p->msg[n - 1].deleted) {
		fprintf(p->s->io.out, "-ERR No such message\r\n");
		return NULL;
	}
	return &p->msg[n - 1];
}

static void
pop3_uidl_one(struct pop3 *p, uint32_t n, int multi)
{
	struct uidlist_rec	*rec;
	char			 buf[POP3_UIDL_MAX];

	rec = uidlist_get(&p->s->mb->ul, p->msg[n - 1].uid);
	if (rec == NULL || pop3_uidl(&p->s->mb->ul, rec, buf,
	    sizeof(buf)) == -1)
		snprintf(buf, sizeof(buf), "%u.%u",
		    p->s->mb->ul.uidvalidity, p->msg[n - 1].uid);
	fprintf(p->s->io.out, "%s%u %s\r\n", multi ? "" : "+OK ", n, buf);
}

/* RETR / TOP: CRLF line ends, dot-stuffed, ".": lines -1 = all. */
static void
pop3_send(struct pop3 *p, struct pop3_msg *pm, long lines)
{
	struct mbox_msg	*m;
	FILE		*in;
	char		*line = NULL;
	size_t		 cap = 0;
	ssize_t		 len;
	int		 fd, body = 0;
	long		 sent = 0;

	if ((m = mailbox_find(p->s->mb, pm->uid)) == NULL ||
	    (fd = openat(p->s->mb->md, m->name, O_RDONLY | O_CLOEXEC)) ==
	    -1 || (in = fdopen(fd, "r")) == NULL) {
		fprintf(p->s->io.out, "-ERR [SYS/TEMP] Message is gone\r\n");
		return;
	}
	fprintf(p->s->io.out, "+OK %zu octets\r\n", pm->size);
	while ((len = getline(&line, &cap, in)) > 0) {
		if (line[len - 1] == '\n')
			len--;
		if (len > 0 && line[len - 1] == '\r')
			len--;
		if (body && lines >= 0 && sent++ >= lines)
			break;
		if (!body && len == 0)
			body = 1;
		if (len > 0 && line[0] == '.')
			fputc('.', p->s->io.out);
		fwrite(line, 1, len, p->s->io.out);
		fputs("\r\n", p->s->io.out);
	}
	fputs(".\r\n", p->s->io.out);
	free(line);
	fclose(in);
}

static int
pop3_quit(struct pop3 *p)
{
	uint32_t	*uids;
	size_t		 i, n = 0;

	if ((uids = calloc(p->nmsg + 1, sizeof(*uids))) == NULL)
		fatal("%s", __func__);
	for (i = 0; i < p->nmsg; i++)
		if (p->msg[i].deleted)
			uids[n++] = p->msg[i].uid;
	if (n > 0 && mailbox_expunge(p->s->mb, uids, n) == -1) {
		log_warn("%s: pop3: expunge", p->s->user);
		free(uids);
		fputs("-ERR [SYS/TEMP] Some deleted messages were not "
		    "removed\r\n", p->s->io.out);
		return 0;
	}
	free(uids);
	fprintf(p->s->io.out, "+OK Logging out, %zu messages deleted\r\n", n);
	return 0;
}

static void
pop3_command(struct pop3 *p, struct pop3_cmd *c)
{
	FILE		*out = p->s->io.out;
	struct pop3_msg	*pm;
	size_t		 i, n = 0, size = 0;

	switch (c->verb) {
	case P3_STAT:
		for (i = 0; i < p->nmsg; i++)
			if (!p->msg[i].deleted) {
				n++;
				size += p->msg[i].size;
			}
		fprintf(out, "+OK %zu %zu\r\n", n, size);
		break;
	case P3_LIST:
	case P3_UIDL:
		if (c->has_msg) {
			if ((pm = pop3_get(p, c->msg)) == NULL)
				break;
			if (c->verb == P3_LIST)
				fprintf(out, "+OK %u %zu\r\n", c->msg,
				    pm->size);
			else
				pop3_uidl_one(p, c->msg, 0);
			break;
		}
		fputs("+OK\r\n", out);
		for (i = 0; i < p->nmsg; i++) {
			if (p->msg[i].deleted)
				continue;
			if (c->verb == P3_LIST)
				fprintf(out, "%zu %zu\r\n", i + 1,
				    p->msg[i].size);
			else
				pop3_uidl_one(p, i + 1, 1);
		}
		fputs(".\r\n", out);
		break;
	case P3_RETR:
		if ((pm = pop3_get(p, c->msg)) != NULL)
			pop3_send(p, pm, -1);
		break;
	case P3_TOP:
		if ((pm = pop3_get(p, c->msg)) != NULL)
			pop3_send(p, pm, c->lines);
		break;
	case P3_DELE:
		if ((pm = pop3_get(p, c->msg)) == NULL)
			break;
		pm->deleted = 1;
		fprintf(out, "+OK Message %u deleted\r\n", c->msg);
		break;
	case P3_RSET:
		for (i = 0; i < p->nmsg; i++)
			p->msg[i].deleted = 0;
		fputs("+OK\r\n", out);
		break;
	case P3_NOOP:
		fputs("+OK\r\n", out);
		break;
	case P3_CAPA:
		fputs("+OK Capability list follows\r\nCAPA\r\nTOP\r\nUIDL\r\n"
		    "RESP-CODES\r\nPIPELINING\r\nIMPLEMENTATION tsamba\r\n"
		    ".\r\n", out);
		break;
	case P3_USER:
	case P3_PASS:
	case P3_AUTH:
	case P3_APOP:
	case P3_STLS:
		fputs("-ERR Already logged in\r\n", out);
		break;
	default:
		fputs("-ERR Unknown command\r\n", out);
		break;
	}
}

void
pop3_session_run(struct mail_session *s)
{
	struct pop3	 p = { .s = s, .lock = -1 };
	struct pop3_cmd	 c;
	const char	*err;
	char		*line;
	size_t		 len;
	int		 r;

	if ((r = pop3_open(&p)) < 0) {
		fputs(r == -2 ? "-ERR [IN-USE] The mailbox is in use by "
		    "another POP3 session\r\n" : "-ERR [SYS/TEMP] Cannot "
		    "open the mailbox\r\n", s->io.out);
		mailbox_close(s->mb);
		s->mb = NULL;
		return;
	}
	/* PASS's or AUTH's answer (RFC 1939 7, RFC 2449 8.1.1). */
	fputs("+OK Logged in\r\n", s->io.out);
	for (;;) {
		mio_flush(&s->io);
		if ((r = mio_getline(&s->io, &line, &len)) == 0)
			break;
		if (r == -1 || len >= POP3_LINE_MAX) {
			fputs("-ERR Line too long\r\n", s->io.out);
			continue;
		}
		memset(&c, 0, sizeof(c));
		if (pop3_parse(line, len, &c, &err) == -1) {
			fprintf(s->io.out, "-ERR %s\r\n", err);
			continue;
		}
		if (c.verb == P3_QUIT) {
			pop3_quit(&p);
			break;
		}
		pop3_command(&p, &c);
	}
	if (s->io.eof == 2)
		fputs("-ERR Autologout: idle for too long\r\n", s->io.out);
	else if (s->io.eof == 3 && mail_stopping == MAIL_STOP_KICK)
		fputs("-ERR Disconnected by the administrator\r\n",
		    s->io.out);
	else if (s->io.eof == 3)
		fputs("-ERR [SYS/TEMP] Server shutting down\r\n", s->io.out);
	free(p.msg);
	pop3_lock_release(s->mb->md, p.lock);
	mailbox_close(s->mb);
	s->mb = NULL;
}
