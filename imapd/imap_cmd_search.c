/*
 * SEARCH and UID SEARCH (RFC 9051 6.4.4): ALL, the flag keys,
 * KEYWORD/UNKEYWORD, sequence and UID sets, LARGER/SMALLER, NOT, OR and
 * lists; FROM, TO, CC, BCC, SUBJECT and HEADER on the RFC 2047-decoded
 * field, case-insensitively in UTF-8; BODY and TEXT on the text parts
 * decoded from quoted-printable or base64 and their charset into UTF-8
 * (TEXT on the RFC 2047-decoded header too); CHARSET UTF-8 or US-ASCII,
 * any other NO [BADCHARSET], none after UTF8=ACCEPT (BAD); BEFORE, ON
 * and SINCE on the internal date; MODSEQ (RFC 7162 3.1.5) on the
 * index's modseqs; SENTBEFORE, SENTON and SENTSINCE on the date written
 * in the Date: field (the internal date's when there is none that
 * reads); OLDER and YOUNGER (RFC 5032) on the internal date's age;
 * RETURN (ESEARCH, SEARCHRES) in imap_esearch.c, which also answers
 * every SEARCH of an IMAP4rev2 session.  A message's file is read only
 * when a key needs it.  SORT and THREAD select their messages with
 * imap_search_uids().
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "mime.h"
#include "imapd.h"
#include "imap_sortkey.h"

#define SEARCH_MESSAGE_MAX	(256 * 1024 * 1024)

/* One message under test, its file read on demand. */
struct search_msg {
	const struct mbox_msg	*m;
	int			 tried;
	struct mime_msg		*mime;
	time_t			 mtime;
};

static struct mime_msg *
search_mime(struct mail_session *s, struct search_msg *sm)
{
	static const struct mime_limits lim = {
		.depth_max = MIME_DEPTH_MAX,
		.parts_max = MIME_PARTS_MAX,
	};
	struct stat	 st;
	int		 fd;

	if (sm->tried)
		return sm->mime;
	sm->tried = 1;
	if ((fd = openat(s->mb->md, sm->m->name, O_RDONLY | O_CLOEXEC)) ==
	    -1)
		return NULL;
	if (fstat(fd, &st) == 0)
		sm->mtime = st.st_mtime;
	sm->mime = mime_parse_fd(fd, SEARCH_MESSAGE_MAX, &lim);
	close(fd);
	return sm->mime;
}

/* Does field name (decoded) hold the string?  "" asks: is it there? */
static int
search_header(struct mail_session *s, struct search_msg *sm,
    const char *name, const struct imap_str *want)
{
	struct mime_msg	*mm;
	char		*raw, *dec;
	int		 folded, r;

	if ((mm = search_mime(s, sm)) == NULL)
		return 0;
	if (mime_header_get(mm, &mm->root->header, name, &raw,
	    &folded) == -1)
		return 0;
	if (want->len == 0) {
		free(raw);
		return 1;
	}
	if ((dec = mime_decode_header(raw, strlen(raw))) == NULL)
		fatal("%s", __func__);
	r = mime_utf8_contains(dec, strlen(dec), want->s, want->len);
	free(raw);
	free(dec);
	if (r == -1)
		fatal("%s", __func__);
	return r;
}

/* A parameter's value, or NULL. */
static const char *
search_param(const struct mime_param *v, int n, const char *name)
{
	int	 i;

	for (i = 0; i < n; i++)
		if (strcasecmp(v[i].name, name) == 0)
			return v[i].value;
	return NULL;
}

/*
 * The body of a text part decoded from its transfer encoding and its
 * charset: a new UTF-8 string, or NULL for a part that is not text.
 */
static char *
search_part_text(const struct mime_msg *mm, const struct mime_part *p,
    size_t *lenp)
{
	const char	*body = mm->buf + p->body.off, *cs;
	char		*cte = NULL, *dec, *utf;
	size_t		 n = p->body.len, dlen;
	int		 folded;

	if (p->type != NULL && strcasecmp(p->type, "text") != 0)
		return NULL;
	if ((dec = malloc(n + 1)) == NULL)
		fatal("%s", __func__);
	if (p->is_mime && mime_header_get(mm, &p->header,
	    "Content-Transfer-Encoding", &cte, &folded) == 0 &&
	    strcasestr(cte, "quoted-printable") != NULL)
		mime_decode_qp(body, n, dec, &dlen, 0);
	else if (cte != NULL && strcasestr(cte, "base64") != NULL)
		mime_decode_base64(body, n, dec, &dlen);
	else {
		memcpy(dec, body, n);
		dlen = n;
	}
	free(cte);
	cs = search_param(p->params, p->nparams, "charset");
	if (cs != NULL && (utf = mime_to_utf8(cs, dec, dlen)) != NULL) {
		free(dec);
		*lenp = strlen(utf);
		return utf;
	}
	*lenp = dlen;
	return dec;
}

/* A header block with its RFC 2047 words decoded: does it hold want? */
static int
search_header_block(const struct mime_msg *mm, const struct mime_range *h,
    const struct imap_str *want)
{
	char	*dec;
	int	 r;

	if ((dec = mime_decode_header(mm->buf + h->off, h->len)) == NULL)
		fatal("%s", __func__);
	r = mime_utf8_contains(dec, strlen(dec), want->s, want->len);
	free(dec);
	if (r == -1)
		fatal("%s", __func__);
	return r;
}

/*
 * The text parts under p, decoded, and the headers of the messages
 * inside it (they are body text of the outer message).
 */
static int
search_parts(const struct mime_msg *mm, const struct mime_part *p,
    const struct imap_str *want)
{
	const struct mime_part	*c;
	char			*text;
	size_t			 len;
	int			 r;

	if (p->is_multipart || p->is_message) {
		TAILQ_FOREACH(c, &p->children, entry) {
			if (p->is_message &&
			    search_header_block(mm, &c->header, want))
				return 1;
			if (search_parts(mm, c, want))
				return 1;
		}
		return 0;
	}
	if ((text = search_part_text(mm, p, &len)) == NULL)
		return 0;
	r = mime_utf8_contains(text, len, want->s, want->len);
	free(text);
	if (r == -1)
		fatal("%s", __func__);
	return r;
}

/* BODY (and TEXT with the header): decoded, text parts only. */
static int
search_text(struct mail_session *s, struct search_msg *sm,
    const struct imap_str *want, int with_header)
{
	struct mime_msg		*mm;

	if ((mm = search_mime(s, sm)) == NULL)
		return 0;
	if (with_header && search_header_block(mm, &mm->root->header, want))
		return 1;
	return search_parts(mm, mm->root, want);
}

/*
 * -1, 0, 1 as the internal date's day is before, on, after the date;
 * 2 when the message cannot be read (it matches no date key).
 */
static int
search_day(struct mail_session *s, struct search_msg *sm,
    const struct imap_date *d)
{
	struct tm	 tm;
	int		 a, b;

	if (search_mime(s, sm) == NULL && sm->mtime == 0)
		return 2;
	gmtime_r(&sm->mtime, &tm);
	a = (tm.tm_year + 1900) * 10000 + (tm.tm_mon + 1) * 100 + tm.tm_mday;
	b = d->year * 10000 + d->mon * 100 + d->day;
	return a < b ? -1 : a > b;
}

/* The same for the Date: field's date, as written (RFC 9051 6.4.4). */
static int
search_sent_day(struct mail_session *s, struct search_msg *sm,
    const struct imap_date *d)
{
	struct mime_msg	*mm;
	char		*v;
	time_t		 t;
	int		 a, r;

	if ((mm = search_mime(s, sm)) == NULL ||
	    mime_header_get(mm, &mm->root->header, "Date", &v, NULL) == -1)
		return search_day(s, sm, d);
	r = imap_msgdate(v, &t, &a);
	free(v);
	if (r == -1)
		return search_day(s, sm, d);
	r = d->year * 10000 + d->mon * 100 + d->day;
	return a < r ? -1 : a > r;
}

/* OLDER and YOUNGER (RFC 5032): the internal date's age in seconds. */
static int
search_age(struct mail_session *s, struct search_msg *sm, int64_t *age)
{
	if (search_mime(s, sm) == NULL && sm->mtime == 0)
		return -1;
	*age = (int64_t)time(NULL) - (int64_t)sm->mtime;
	return 0;
}

/* 1 match, 0 no match, -1 a key not supported. */
static int
search_key(struct mail_session *s, const struct imap_search_key *k,
    uint32_t seq, struct search_msg *sm)
{
	const struct mbox_msg		*m = sm->m;
	const struct imap_search_key	*c;
	unsigned int			 fl = m->flags.std;
	uint32_t			 bits;
	size_t				 size;
	int64_t				 age;
	char				 kw[KEYWORD_LEN_MAX + 1];
	const char			*kwp = kw;
	int				 r;

	switch (k->type) {
	case SK_AND:
		for (c = k->child; c != NULL; c = c->next)
			if ((r = search_key(s, c, seq, sm)) != 1)
				return r;
		return 1;
	case SK_OR:
		if ((r = search_key(s, k->child, seq, sm)) != 0)
			return r;
		return search_key(s, k->child->next, seq, sm);
	case SK_NOT:
		if ((r = search_key(s, k->child, seq, sm)) == -1)
			return -1;
		return !r;
	case SK_ALL:
		return 1;
	case SK_ANSWERED:
		return (fl & MAILDIR_FLAG_REPLIED) != 0;
	case SK_UNANSWERED:
		return (fl & MAILDIR_FLAG_REPLIED) == 0;
	case SK_DELETED:
		return (fl & MAILDIR_FLAG_TRASHED) != 0;
	case SK_UNDELETED:
		return (fl & MAILDIR_FLAG_TRASHED) == 0;
	case SK_DRAFT:
		return (fl & MAILDIR_FLAG_DRAFT) != 0;
	case SK_UNDRAFT:
		return (fl & MAILDIR_FLAG_DRAFT) == 0;
	case SK_FLAGGED:
		return (fl & MAILDIR_FLAG_FLAGGED) != 0;
	case SK_UNFLAGGED:
		return (fl & MAILDIR_FLAG_FLAGGED) == 0;
	case SK_SEEN:
		return (fl & MAILDIR_FLAG_SEEN) != 0;
	case SK_UNSEEN:
		return (fl & MAILDIR_FLAG_SEEN) == 0;
	/*
	 * No message is \Recent here (SELECT says RECENT 0), so NEW
	 * (RECENT UNSEEN) matches none and OLD (NOT RECENT) every one,
	 * as RFC 3501 6.4.4 defines them: not UNSEEN and SEEN.
	 */
	case SK_NEW:
	case SK_RECENT:
		return 0;
	case SK_OLD:
		return 1;
	case SK_KEYWORD:
	case SK_UNKEYWORD:
		if (k->str.len >= sizeof(kw))
			return k->type == SK_UNKEYWORD;
		memcpy(kw, k->str.s, k->str.len);
		kw[k->str.len] = '\0';
		if (mailbox_keyword_bits(s->mb, &kwp, 1, 0, &bits) == -1)
			return k->type == SK_UNKEYWORD;
		return ((m->flags.keywords & bits) != 0) ==
		    (k->type == SK_KEYWORD);
	case SK_SEQSET:
		if (k->set.saved)
			return imap_saved_has(s, m->uid);
		return imap_seqset_contains(&k->set, seq, s->nseq);
	case SK_UID:
		if (k->set.saved)
			return imap_saved_has(s, m->uid);
		return imap_seqset_contains(&k->set, m->uid,
		    s->seq[s->nseq - 1]);
	case SK_LARGER:
	case SK_SMALLER:
		if (maildir_name_size(m->name, 'W', &size) == -1 &&
		    maildir_name_size(m->name, 'S', &size) == -1)
			return -1;
		return k->type == SK_LARGER ? size > k->num : size < k->num;
	case SK_FROM:
		return search_header(s, sm, "From", &k->str);
	case SK_TO:
		return search_header(s, sm, "To", &k->str);
	case SK_CC:
		return search_header(s, sm, "Cc", &k->str);
	case SK_BCC:
		return search_header(s, sm, "Bcc", &k->str);
	case SK_SUBJECT:
		return search_header(s, sm, "Subject", &k->str);
	case SK_HEADER:
		if (k->str.len >= sizeof(kw))
			return 0;
		memcpy(kw, k->str.s, k->str.len);
		kw[k->str.len] = '\0';
		return search_header(s, sm, kw, &k->value);
	case SK_BODY:
		return search_text(s, sm, &k->str, 0);
	case SK_TEXT:
		return search_text(s, sm, &k->str, 1);
	case SK_BEFORE:
		return search_day(s, sm, &k->date) == -1;
	case SK_ON:
		return search_day(s, sm, &k->date) == 0;
	case SK_SINCE:
		r = search_day(s, sm, &k->date);
		return r == 0 || r == 1;
	case SK_SENTBEFORE:
		return search_sent_day(s, sm, &k->date) == -1;
	case SK_SENTON:
		return search_sent_day(s, sm, &k->date) == 0;
	case SK_SENTSINCE:
		r = search_sent_day(s, sm, &k->date);
		return r == 0 || r == 1;
	case SK_OLDER:
		return search_age(s, sm, &age) == 0 && age > (int64_t)k->num;
	case SK_YOUNGER:
		return search_age(s, sm, &age) == 0 &&
		    age <= (int64_t)k->num;
	case SK_MODSEQ:
		return imap_modseq_of(s, m->uid) >= k->num;
	default:
		return -1;
	}
}

/* Whether a MODSEQ key is in the search (RFC 7162 3.1.5). */
static int
search_has_modseq(const struct imap_search_key *k)
{
	for (; k != NULL; k = k->next)
		if (k->type == SK_MODSEQ || search_has_modseq(k->child))
			return 1;
	return 0;
}

/*
 * A message number past the last one told of (RFC 9051 2.3.1.2).  Not
 * in an empty mailbox, where a key such as "1:*" matches nothing, as
 * Dovecot answers: a client searching there has done nothing wrong.
 */
static int
search_seq_beyond(const struct imap_search_key *k, uint32_t nseq)
{
	if (nseq == 0)
		return 0;
	for (; k != NULL; k = k->next)
		if ((k->type == SK_SEQSET && !k->set.saved &&
		    !imap_seqset_within(&k->set, nseq)) ||
		    search_seq_beyond(k->child, nseq))
			return 1;
	return 0;
}

/*
 * A CHARSET given after ENABLE UTF8=ACCEPT: SEARCH answers BAD (RFC
 * 6855 3); SORT and THREAD must name one and take it as UTF-8.
 */
static int
imap_search_charset_given(const struct mail_session *s,
    const struct imap_search *se)
{
	return se->charset.s != NULL && !se->charset.nil &&
	    (s->enabled & MAIL_ENABLED_UTF8);
}

int
imap_search_charset_ok(const struct imap_search *se)
{
	return se->charset.s == NULL || se->charset.nil ||
	    imap_str_eq(&se->charset, "US-ASCII") ||
	    imap_str_eq(&se->charset, "UTF-8");
}

/*
 * The uids of the selected messages that match, in sequence order (a
 * malloc'd array): 0, or -1 when a key is not supported.
 */
int
imap_search_uids(struct mail_session *s, const struct imap_search *se,
    uint32_t **uidsp, size_t *np)
{
	struct search_msg	 sm;
	struct mbox_msg		*m;
	uint32_t		*hits;
	size_t			 nhits = 0, i;
	int			 r;

	if ((hits = reallocarray(NULL, s->nseq + 1, sizeof(*hits))) == NULL)
		fatal("%s", __func__);
	for (i = 0; i < s->nseq; i++) {
		if ((m = mailbox_find(s->mb, s->seq[i])) == NULL)
			continue;
		memset(&sm, 0, sizeof(sm));
		sm.m = m;
		r = search_key(s, se->key, i + 1, &sm);
		if (sm.mime != NULL)
			mime_free(sm.mime);
		if (r == -1) {
			free(hits);
			return -1;
		}
		if (r)
			hits[nhits++] = m->uid;
	}
	*uidsp = hits;
	*np = nhits;
	return 0;
}

/*
 * What SORT and THREAD start with: the charset checked, changes
 * reported, the messages searched.  0, or -1 when it replied NO or BAD.
 */
int
imap_search_select(struct mail_session *s, struct imap_cmd *cmd,
    const struct imap_search *se, uint32_t **uidsp, size_t *np)
{
	if (!imap_search_charset_ok(se)) {
		imap_tagged(s, cmd, "NO", "[BADCHARSET (UTF-8 US-ASCII)] "
		    "Unsupported charset");
		return -1;
	}
	if (search_seq_beyond(se->key, s->nseq)) {
		imap_tagged(s, cmd, "BAD", "Invalid message number");
		return -1;
	}
	imap_sync_report(s, 0);
	if (imap_search_uids(s, se, uidsp, np) == -1) {
		imap_tagged(s, cmd, "BAD", "That search key is not "
		    "supported yet");
		return -1;
	}
	return 0;
}

void
imap_cmd_search(struct mail_session *s, struct imap_cmd *cmd)
{
	struct imap_search	*se = &cmd->u.search;
	uint64_t		 top = 0;
	uint32_t		*hits;
	size_t			 nhits, i;
	int			 modseq = search_has_modseq(se->key);

	/* RFC 6855 3: UTF8=ACCEPT makes every string UTF-8 already. */
	if (imap_search_charset_given(s, se)) {
		if (se->ret & SRET_SAVE)
			imap_saved_clear(s);
		imap_tagged(s, cmd, "BAD", "No CHARSET after ENABLE "
		    "UTF8=ACCEPT");
		return;
	}
	if (!imap_search_charset_ok(se)) {
		if (se->ret & SRET_SAVE)
			imap_saved_clear(s);	/* RFC 5182 2.1 */
		imap_tagged(s, cmd, "NO", "[BADCHARSET (UTF-8 US-ASCII)] "
		    "Unsupported charset");
		return;
	}
	if (search_seq_beyond(se->key, s->nseq)) {
		if (se->ret & SRET_SAVE)
			imap_saved_clear(s);	/* RFC 5182 2.1 */
		imap_tagged(s, cmd, "BAD", "Invalid message number");
		return;
	}
	/* A CONDSTORE-enabling command (RFC 7162 3.1). */
	if (modseq)
		s->enabled |= MAIL_ENABLED_CONDSTORE;
	imap_sync_report(s, 0);
	if (imap_search_uids(s, se, &hits, &nhits) == -1) {
		if (se->ret & SRET_SAVE)
			imap_saved_clear(s);	/* RFC 5182 2.1 */
		imap_tagged(s, cmd, "BAD", "That search key is not "
		    "supported yet");
		return;
	}
	/* The highest modseq of the matches, when some matched. */
	for (i = 0; i < nhits; i++)
		if (imap_modseq_of(s, hits[i]) > top)
			top = imap_modseq_of(s, hits[i]);
	/* IMAP4rev2 has no SEARCH response (RFC 9051 7.3.4). */
	if (se->esearch || MAIL_REV2(s))
		imap_esearch_reply(s, cmd, hits, nhits, modseq ? top : 0);
	else {
		fputs("* SEARCH", s->io.out);
		for (i = 0; i < nhits; i++)
			fprintf(s->io.out, " %u", cmd->uid ? hits[i] :
			    imap_seq_of(s, hits[i]));
		if (modseq && top > 0)
			fprintf(s->io.out, " (MODSEQ %llu)",
			    (unsigned long long)top);
		fputs("\r\n", s->io.out);
	}
	free(hits);
	imap_tagged(s, cmd, "OK", "%sSEARCH completed", cmd->uid ? "UID " :
	    "");
}
