/*
 * SEARCH and UID SEARCH (RFC 9051 6.4.4), for now the keys that need
 * no message text: ALL, the flag keys, KEYWORD/UNKEYWORD, sequence and
 * UID sets, LARGER/SMALLER, NOT, OR and lists.  Keys that read headers,
 * bodies or dates, and RETURN (ESEARCH), are answered BAD "not
 * supported yet" rather than with a wrong result.
 */

#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "imapd.h"

/* 1 match, 0 no match, -1 a key not supported. */
static int
search_key(struct mail_session *s, const struct imap_search_key *k,
    uint32_t seq, const struct mbox_msg *m)
{
	const struct imap_search_key	*c;
	unsigned int			 fl = m->flags.std;
	uint32_t			 bits;
	size_t				 size;
	char				 kw[KEYWORD_LEN_MAX + 1];
	const char			*kwp = kw;
	int				 r;

	switch (k->type) {
	case SK_AND:
		for (c = k->child; c != NULL; c = c->next)
			if ((r = search_key(s, c, seq, m)) != 1)
				return r;
		return 1;
	case SK_OR:
		if ((r = search_key(s, k->child, seq, m)) != 0)
			return r;
		return search_key(s, k->child->next, seq, m);
	case SK_NOT:
		if ((r = search_key(s, k->child, seq, m)) == -1)
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
	case SK_OLD:
		return (fl & MAILDIR_FLAG_SEEN) != 0;
	case SK_UNSEEN:
	case SK_NEW:
		return (fl & MAILDIR_FLAG_SEEN) == 0;
	case SK_RECENT:
		return 0;
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
		return imap_seqset_contains(&k->set, seq, s->nseq);
	case SK_UID:
		return imap_seqset_contains(&k->set, m->uid,
		    s->seq[s->nseq - 1]);
	case SK_LARGER:
	case SK_SMALLER:
		if (maildir_name_size(m->name, 'W', &size) == -1 &&
		    maildir_name_size(m->name, 'S', &size) == -1)
			return -1;
		return k->type == SK_LARGER ? size > k->num : size < k->num;
	default:
		return -1;
	}
}

void
imap_cmd_search(struct mail_session *s, struct imap_cmd *cmd)
{
	struct imap_search	*se = &cmd->u.search;
	struct mbox_msg		*m;
	char			*buf = NULL;
	size_t			 buflen = 0, i;
	FILE			*f;
	int			 r;

	if (se->esearch) {
		imap_tagged(s, cmd, "BAD", "SEARCH RETURN is not supported "
		    "yet");
		return;
	}
	if (se->charset.s != NULL && !se->charset.nil &&
	    !imap_str_eq(&se->charset, "US-ASCII") &&
	    !imap_str_eq(&se->charset, "UTF-8")) {
		imap_tagged(s, cmd, "NO", "[BADCHARSET (US-ASCII UTF-8)] "
		    "Unsupported charset");
		return;
	}
	imap_sync_report(s, 0);
	if ((f = open_memstream(&buf, &buflen)) == NULL)
		fatal("open_memstream");
	for (i = 0; i < s->nseq; i++) {
		if ((m = mailbox_find(s->mb, s->seq[i])) == NULL)
			continue;
		if ((r = search_key(s, se->key, i + 1, m)) == -1) {
			fclose(f);
			free(buf);
			imap_tagged(s, cmd, "BAD", "That search key is not "
			    "supported yet");
			return;
		}
		if (r)
			fprintf(f, " %u", cmd->uid ? m->uid : (uint32_t)(i + 1));
	}
	fclose(f);
	fprintf(s->io.out, "* SEARCH%s\r\n", buf != NULL ? buf : "");
	free(buf);
	imap_tagged(s, cmd, "OK", "%sSEARCH completed", cmd->uid ? "UID " :
	    "");
}
