/*
 * FETCH and UID FETCH (RFC 9051 6.4.5): FLAGS, UID, RFC822.SIZE,
 * INTERNALDATE, ENVELOPE, BODY, BODYSTRUCTURE, BODY[section]<partial>
 * and BODY.PEEK, RFC822, RFC822.HEADER, RFC822.TEXT.  The message file
 * is read and its MIME structure parsed (mime.c) only for the items
 * that need it: ENVELOPE and RFC822.SIZE take the header alone and the
 * size of a small file, without the structure.  A non-PEEK body section
 * sets \Seen.  RFC822.SIZE, INTERNALDATE, ENVELOPE and BODYSTRUCTURE
 * come from the selected folder's tsamba.index when it has them; what
 * a file had to be read for goes into the index for the next time
 * (index.c), so that a client's header listing costs no file opens
 * after the first.  MODSEQ and CHANGEDSINCE are CONDSTORE's (RFC 7162
 * 3.1.4); BINARY[], BINARY.PEEK[] and BINARY.SIZE[] are RFC 3516's,
 * decoded by imap_fetch_binary.c and sent as a literal8 when they hold
 * a NUL.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "mime.h"
#include "imapd.h"
#include "index.h"

#define FETCH_MESSAGE_MAX	(256 * 1024 * 1024)
#define FETCH_HEADER_CHUNK	(16 * 1024)	/* most headers: one read */

static const struct mime_limits fetch_mime_limits = {
	.depth_max = MIME_DEPTH_MAX,
	.parts_max = MIME_PARTS_MAX,
};

struct fetch_msg {
	struct mbox_msg		*m;
	int			 fd;
	struct stat		 st;
	struct mime_msg		*mime;
	struct mime_msg		*hdr;	/* only the header (and more) */
	const struct index_msg	*ix;	/* its index entry, or NULL */
	struct index_msg	 fill;	/* learnt from the file, for it */
};

static int
fetch_open(struct mail_session *s, struct fetch_msg *fm)
{
	if (fm->fd != -1)
		return 0;
	if ((fm->fd = openat(s->mb->md, fm->m->name, O_RDONLY |
	    O_CLOEXEC)) == -1 || fstat(fm->fd, &fm->st) == -1) {
		if (fm->fd != -1)
			close(fm->fd);
		fm->fd = -1;
		return -1;
	}
	fm->fill.have |= INDEX_HAVE_FILE;
	fm->fill.size = fm->st.st_size;
	fm->fill.idate = fm->st.st_mtime;
	return 0;
}

static struct mime_msg *
fetch_mime(struct mail_session *s, struct fetch_msg *fm)
{
	if (fm->mime != NULL)
		return fm->mime;
	if (fetch_open(s, fm) == -1)
		return NULL;
	if (lseek(fm->fd, 0, SEEK_SET) == -1)
		return NULL;
	fm->mime = mime_parse_fd(fm->fd, FETCH_MESSAGE_MAX,
	    &fetch_mime_limits);
	return fm->mime;
}

static void
fetch_internaldate(FILE *f, time_t t)
{
	static const char *mon[] = { "Jan", "Feb", "Mar", "Apr", "May",
	    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm	 tm;

	gmtime_r(&t, &tm);
	fprintf(f, "INTERNALDATE \"%02d-%s-%04d %02d:%02d:%02d +0000\"",
	    tm.tm_mday, mon[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
	    tm.tm_min, tm.tm_sec);
}

/* The section as the client wrote it, for the response's item name. */
static void
fetch_section_name(FILE *f, const struct imap_fetch_att *a)
{
	static const char *text[] = { "", "HEADER", "HEADER.FIELDS",
	    "HEADER.FIELDS.NOT", "TEXT", "MIME" };
	const struct imap_section	*sec = &a->sec;
	int				 i;

	fputs("BODY[", f);
	for (i = 0; i < sec->npart; i++)
		fprintf(f, "%s%u", i ? "." : "", sec->part[i]);
	if (sec->text != SEC_NONE)
		fprintf(f, "%s%s", sec->npart ? "." : "", text[sec->text]);
	if (sec->text == SEC_HEADER_FIELDS ||
	    sec->text == SEC_HEADER_FIELDS_NOT) {
		fputs(" (", f);
		for (i = 0; i < sec->fields.n; i++) {
			fputs(i ? " " : "", f);
			fwrite(sec->fields.v[i].s, 1, sec->fields.v[i].len, f);
		}
		fputc(')', f);
	}
	fputc(']', f);
	if (a->partial)
		fprintf(f, "<%u>", a->offset);
}

/* BODY[section]: -1 when the message cannot be read. */
static int
fetch_section(struct mail_session *s, struct fetch_msg *fm, FILE *f,
    const struct imap_fetch_att *a, enum mime_text text, const char *item)
{
	struct mime_msg	*mm;
	const char	*fields[64];
	char		*copies[64];
	char		*out = NULL;
	size_t		 outlen = 0, off, n;
	int		 i, nf = 0, rv = 0;

	if ((mm = fetch_mime(s, fm)) == NULL)
		return -1;
	for (i = 0; i < a->sec.fields.n && i < 64; i++) {
		if ((copies[i] = strndup(a->sec.fields.v[i].s,
		    a->sec.fields.v[i].len)) == NULL)
			fatal("%s", __func__);
		fields[i] = copies[i];
		nf++;
	}
	if (mime_section_contents(mm, a->sec.part, a->sec.npart, text, fields,
	    nf, &out, &outlen) == -1 && out == NULL)
		rv = 0;		/* no such part: an empty string */
	for (i = 0; i < nf; i++)
		free(copies[i]);
	if (item != NULL)
		fputs(item, f);
	else
		fetch_section_name(f, a);
	off = 0;
	n = outlen;
	if (a->partial) {
		off = a->offset < outlen ? a->offset : outlen;
		n = outlen - off;
		if (n > a->count)
			n = a->count;
	}
	fprintf(f, " {%zu}\r\n", n);
	if (n > 0)
		fwrite(out + off, 1, n, f);
	free(out);
	return rv;
}

/*
 * BINARY[part]<partial> and BINARY.SIZE[part]: 0, -1 when the message
 * cannot be read, -2 for an encoding we cannot undo (UNKNOWN-CTE).
 */
static int
fetch_binary(struct mail_session *s, struct fetch_msg *fm, FILE *f,
    const struct imap_fetch_att *a)
{
	struct mime_msg	*mm;
	char		*out;
	size_t		 outlen, off = 0, n;
	int		 i;

	if ((mm = fetch_mime(s, fm)) == NULL)
		return -1;
	if (imap_binary_section(mm, a->sec.part, a->sec.npart, &out,
	    &outlen) == -1)
		return -2;
	fputs(a->item == FA_BINARY ? "BINARY[" : "BINARY.SIZE[", f);
	for (i = 0; i < a->sec.npart; i++)
		fprintf(f, "%s%u", i ? "." : "", a->sec.part[i]);
	fputc(']', f);
	n = outlen;
	if (a->item == FA_BINARY_SIZE)
		fprintf(f, " %zu", outlen);
	else {
		if (a->partial) {
			off = a->offset < outlen ? a->offset : outlen;
			n = outlen - off > a->count ? a->count : outlen - off;
			fprintf(f, "<%u>", a->offset);
		}
		fprintf(f, " %s{%zu}\r\n", memchr(out + off, '\0', n) !=
		    NULL ? "~" : "", n);
		fwrite(out + off, 1, n, f);
	}
	free(out);
	return 0;
}

/* -1 when a BINARY item names a part whose encoding is unknown. */
static int
fetch_binary_check(struct mail_session *s, const struct imap_fetch *fe,
    struct fetch_msg *fm)
{
	const struct imap_fetch_att	*a;
	int				 i;

	for (i = 0; i < fe->natt; i++) {
		a = &fe->att[i];
		if ((a->item == FA_BINARY || a->item == FA_BINARY_SIZE) &&
		    fetch_mime(s, fm) != NULL && !imap_binary_known(fm->mime,
		    a->sec.part, a->sec.npart))
			return -1;
	}
	return 0;
}

/*
 * The message for ENVELOPE and RFC822.SIZE: the whole parse when
 * something else needed it, else its header alone, read in one pread
 * of FETCH_HEADER_CHUNK mostly, and with it the whole of a small file.
 */
static struct mime_msg *
fetch_header(struct mail_session *s, struct fetch_msg *fm)
{
	if (fm->mime != NULL)
		return fm->mime;
	if (fm->hdr != NULL)
		return fm->hdr;
	if (fetch_open(s, fm) == -1)
		return NULL;
	fm->hdr = mime_parse_header_fd(fm->fd, FETCH_HEADER_CHUNK,
	    FETCH_MESSAGE_MAX);
	return fm->hdr;
}

static int
fetch_size(struct mail_session *s, struct fetch_msg *fm, size_t *size)
{
	struct mime_msg	*mm;

	if (maildir_name_size(fm->m->name, 'W', size) == 0)
		return 0;
	if (fm->ix != NULL && (fm->ix->have & INDEX_HAVE_VSIZE)) {
		*size = fm->ix->vsize;
		return 0;
	}
	/* A file the header's read took whole needs no parse. */
	if (fm->mime == NULL && (mm = fetch_header(s, fm)) != NULL &&
	    (off_t)mm->readlen == fm->st.st_size)
		*size = mime_vsize(mm->buf, mm->readlen);
	else if ((mm = fetch_mime(s, fm)) == NULL)
		return -1;
	else
		*size = mm->root->header.vsize + mm->root->body.vsize;
	fm->fill.vsize = *size;
	fm->fill.have |= INDEX_HAVE_VSIZE;
	return 0;
}

static int
fetch_date(struct mail_session *s, struct fetch_msg *fm, time_t *t)
{
	if (fm->ix != NULL && (fm->ix->have & INDEX_HAVE_FILE)) {
		*t = fm->ix->idate;
		return 0;
	}
	if (fetch_open(s, fm) == -1)
		return -1;
	*t = fm->st.st_mtime;
	return 0;
}

/*
 * ENVELOPE or BODYSTRUCTURE as the index has it, else as written from
 * the parsed file and kept in fm->fill for the index.
 */
static int
fetch_structure(struct mail_session *s, struct fetch_msg *fm, FILE *f,
    enum imap_fetch_item item)
{
	int		 env = item == FA_ENVELOPE;
	const char	*p = NULL;
	char		**fp;
	size_t		 n = 0, *fn;
	FILE		*mf;
	struct mime_msg	*mm;

	fp = env ? &fm->fill.envelope : &fm->fill.bodystructure;
	fn = env ? &fm->fill.envlen : &fm->fill.bslen;
	if (fm->ix != NULL) {
		p = env ? fm->ix->envelope : fm->ix->bodystructure;
		n = env ? fm->ix->envlen : fm->ix->bslen;
	}
	if (p == NULL && *fp == NULL) {
		if ((mm = env ? fetch_header(s, fm) : fetch_mime(s, fm)) ==
		    NULL)
			return -1;
		if ((mf = open_memstream(fp, fn)) == NULL)
			fatal("open_memstream");
		if (env)
			mime_write_envelope(mf, mm, mm->root);
		else
			mime_write_bodystructure(mf, mm, mm->root, 1);
		if (fclose(mf) == EOF)
			fatal("fetch: memstream");
	}
	if (p == NULL) {
		p = *fp;
		n = *fn;
	}
	fputs(env ? "ENVELOPE " : "BODYSTRUCTURE ", f);
	fwrite(p, 1, n, f);
	return 0;
}

/* What the file told, into the index (a cache: failure is no error). */
static void
fetch_fill(struct mail_session *s, struct fetch_msg *fm, uint32_t uid)
{
	struct index_msg	*fl = &fm->fill;

	/* A body section opened the file: the index knew that already. */
	if (fm->ix != NULL)
		fl->have &= ~fm->ix->have;
	if (s->ix != NULL && (fl->have != 0 || fl->envelope != NULL ||
	    fl->bodystructure != NULL)) {
		fl->uid = uid;
		if (index_cache_put(s->ix, fl) == -1 && errno != EFBIG)
			log_warn("%s: index cache of %s", s->user,
			    s->mb->name);
	}
	free(fl->envelope);
	free(fl->bodystructure);
}

/* Whether the client named this item among the attributes. */
static int
fetch_asks(const struct imap_fetch *fe, enum imap_fetch_item item)
{
	int	 i;

	for (i = 0; i < fe->natt; i++)
		if (fe->att[i].item == item)
			return 1;
	return 0;
}

/*
 * The items the client did not ask for but gets anyway, the UID of UID
 * FETCH (RFC 9051 6.4.9) and the FLAGS a non-PEEK body changed, come
 * first, as Dovecot sends them: some clients (Perl's Mail::IMAPClient)
 * take everything after a body literal up to the ")" as part of it.
 */
static int
fetch_implicit(struct mail_session *s, struct imap_cmd *cmd, FILE *f,
    uint32_t uid, int want_flags)
{
	struct imap_fetch	*fe = &cmd->u.fetch;
	int			 sp = 0;

	if (cmd->uid && !fetch_asks(fe, FA_UID))
		fprintf(f, "%sUID %u", sp++ ? " " : "", uid);
	if (want_flags && !fetch_asks(fe, FA_FLAGS)) {
		fputs(sp++ ? " " : "", f);
		imap_write_flags(s, f, uid);
	}
	/* RFC 7162 3.1.4.1: CHANGEDSINCE, or flags set once enabled. */
	if ((fe->changedsince_set || (want_flags &&
	    (s->enabled & MAIL_ENABLED_CONDSTORE))) &&
	    !fetch_asks(fe, FA_MODSEQ)) {
		fputs(sp++ ? " " : "", f);
		imap_write_modseq(s, f, uid);
	}
	return sp;
}

/* One message's response: 0, -1 (its file is gone), -2 UNKNOWN-CTE. */
static int
fetch_one(struct mail_session *s, struct imap_cmd *cmd, uint32_t uid,
    int *seen_set)
{
	struct imap_fetch	*fe = &cmd->u.fetch;
	struct fetch_msg	 fm = { .fd = -1 };
	struct maildir_flags	 seen = { .std = MAILDIR_FLAG_SEEN };
	char			*buf = NULL;
	size_t			 buflen = 0, size;
	time_t			 date;
	FILE			*f = NULL;
	int			 i, r, sp, want_flags = 0, rv = -1;

	if ((fm.m = mailbox_find(s->mb, uid)) == NULL)
		return -1;
	/* UNKNOWN-CTE fails the command before it changes a flag. */
	if (fetch_binary_check(s, fe, &fm) == -1) {
		rv = -2;
		goto done;
	}
	/* A body without PEEK marks the message \Seen first. */
	for (i = 0; i < fe->natt; i++) {
		const struct imap_fetch_att *a = &fe->att[i];

		if ((((a->item == FA_BODY_SECTION || a->item == FA_BINARY) &&
		    !a->peek) ||
		    a->item == FA_RFC822 || a->item == FA_RFC822_TEXT) &&
		    !s->readonly && !(fm.m->flags.std & MAILDIR_FLAG_SEEN)) {
			if (mailbox_store(s->mb, uid, MB_STORE_ADD, &seen) ==
			    -1)
				log_warn("%s: \\Seen on uid %u", s->user, uid);
			else {
				imap_modseq_flags(s, uid);
				want_flags = 1;
			}
			if ((fm.m = mailbox_find(s->mb, uid)) == NULL)
				return -1;
			break;
		}
	}
	/* Looked up after the \Seen store, which may refresh the index. */
	fm.ix = s->ix != NULL ? index_get(s->ix, uid) : NULL;
	if ((f = open_memstream(&buf, &buflen)) == NULL)
		fatal("open_memstream");
	sp = fetch_implicit(s, cmd, f, uid, want_flags);
	for (i = 0; i < fe->natt; i++) {
		const struct imap_fetch_att *a = &fe->att[i];

		fputs(sp++ ? " " : "", f);
		switch (a->item) {
		case FA_FLAGS:
			imap_write_flags(s, f, uid);
			break;
		case FA_UID:
			fprintf(f, "UID %u", uid);
			break;
		case FA_MODSEQ:
			imap_write_modseq(s, f, uid);
			break;
		case FA_RFC822_SIZE:
			if (fetch_size(s, &fm, &size) == -1)
				goto done;
			fprintf(f, "RFC822.SIZE %zu", size);
			break;
		case FA_INTERNALDATE:
			if (fetch_date(s, &fm, &date) == -1)
				goto done;
			fetch_internaldate(f, date);
			break;
		case FA_ENVELOPE:
		case FA_BODYSTRUCTURE:
			if (fetch_structure(s, &fm, f, a->item) == -1)
				goto done;
			break;
		case FA_BODY:
			if (fetch_mime(s, &fm) == NULL)
				goto done;
			fputs("BODY ", f);
			mime_write_bodystructure(f, fm.mime, fm.mime->root, 0);
			break;
		case FA_BODY_SECTION:
			if (fetch_section(s, &fm, f, a,
			    (enum mime_text)a->sec.text, NULL) == -1)
				goto done;
			break;
		case FA_RFC822:
			if (fetch_section(s, &fm, f, a, MT_NONE,
			    "RFC822") == -1)
				goto done;
			break;
		case FA_RFC822_HEADER:
			if (fetch_section(s, &fm, f, a, MT_HEADER,
			    "RFC822.HEADER") == -1)
				goto done;
			break;
		case FA_RFC822_TEXT:
			if (fetch_section(s, &fm, f, a, MT_TEXT,
			    "RFC822.TEXT") == -1)
				goto done;
			break;
		case FA_BINARY:
		case FA_BINARY_SIZE:
			if ((r = fetch_binary(s, &fm, f, a)) != 0) {
				rv = r;		/* -1 gone, -2 UNKNOWN-CTE */
				goto done;
			}
			break;
		default:
			break;
		}
	}
	if (fclose(f) == EOF)
		fatal("fetch: memstream");
	f = NULL;
	fprintf(s->io.out, "* %u FETCH (", imap_seq_of(s, uid));
	fwrite(buf, 1, buflen, s->io.out);
	fputs(")\r\n", s->io.out);
	*seen_set |= want_flags;
	rv = 0;
 done:
	if (f != NULL)
		fclose(f);
	free(buf);
	fetch_fill(s, &fm, uid);
	mime_free(fm.mime);
	mime_free(fm.hdr);
	if (fm.fd != -1)
		close(fm.fd);
	return rv;
}

void
imap_cmd_fetch(struct mail_session *s, struct imap_cmd *cmd)
{
	struct imap_fetch	*fe = &cmd->u.fetch;
	uint32_t		*uids;
	size_t			 i, n;
	int			 r, gone = 0, seen = 0, cte = 0;

	/* RFC 7162 3.2.6: UID FETCH, CHANGEDSINCE and QRESYNC on. */
	if (fe->vanished && (!cmd->uid || !fe->changedsince_set ||
	    !(s->enabled & MAIL_ENABLED_QRESYNC))) {
		imap_tagged(s, cmd, "BAD", "VANISHED needs UID FETCH, "
		    "CHANGEDSINCE and ENABLE QRESYNC");
		return;
	}
	/* A CONDSTORE-enabling command (RFC 7162 3.1). */
	if (fe->changedsince_set || fetch_asks(fe, FA_MODSEQ))
		s->enabled |= MAIL_ENABLED_CONDSTORE;
	imap_sync_report(s, 0);
	if (fe->vanished)
		imap_vanished_earlier(s, fe->changedsince, &fe->set);
	if (imap_set_uids(s, &fe->set, cmd->uid, &uids, &n) == -1) {
		imap_tagged(s, cmd, "BAD", "Invalid message sequence number");
		return;
	}
	for (i = 0; i < n; i++) {
		if (fe->changedsince_set &&
		    imap_modseq_of(s, uids[i]) <= fe->changedsince)
			continue;
		if ((r = fetch_one(s, cmd, uids[i], &seen)) == -2) {
			cte = 1;
			break;
		}
		if (r == -1)
			gone++;
	}
	free(uids);
	if (s->ix != NULL && index_cache_flush(s->ix) == -1)
		log_warn("%s: index cache of %s", s->user, s->mb->name);
	if (cte)
		imap_tagged(s, cmd, "NO", "[UNKNOWN-CTE] A part's "
		    "Content-Transfer-Encoding is not one BINARY can decode");
	else if (gone && !cmd->uid)
		imap_tagged(s, cmd, "NO", "[EXPUNGEISSUED] Some messages "
		    "were expunged meanwhile");
	else
		imap_tagged(s, cmd, "OK", "%sFETCH completed",
		    cmd->uid ? "UID " : "");
}
