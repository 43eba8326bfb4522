/*
 * imap_sortkey.h: what SORT, THREAD and the SENT* search keys read from
 * a message's header (RFC 5256): the base subject (imap_basesubj.c),
 * the Date: field (imap_msgdate.c), the comparison form of strings
 * (imap_casemap.c) and the per-message keys of a set of messages
 * (imap_msgkey.c).
 */

#ifndef TSAMBA_IMAP_SORTKEY_H
#define TSAMBA_IMAP_SORTKEY_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/*
 * A UTF-8 string in the form i;unicode-casemap (RFC 5051) compares:
 * titlecased, decomposed; a new string, or NULL out of memory.
 */
char	*imap_casemap(const char *, size_t);

/*
 * The base subject of RFC 5256 2.1 of a raw Subject: value: RFC 2047
 * decoded, casemapped as above, a new string.  *refwd says whether a reply or
 * forward marker went (Re:, Fwd:, "(fwd)", "[fwd: ...]").  NULL: out
 * of memory.
 */
char	*imap_basesubj(const char *raw, size_t len, int *refwd);

/*
 * A Date: value (RFC 5322 3.3 with the obsolete zones): 0 with the
 * instant in UTC and the date as written (year*10000+mon*100+day, for
 * SENTON and friends), or -1 when it cannot be read.
 */
int	 imap_msgdate(const char *, time_t *utc, int *ymd);

/* The keys of one message, loaded once for a SORT or THREAD. */
struct imap_msgkey {
	uint32_t	 uid;
	uint32_t	 seq;
	time_t		 idate;		/* INTERNALDATE */
	time_t		 sent;		/* Date: in UTC, else idate */
	uint64_t	 size;		/* RFC822.SIZE */
	char		*subject;	/* base subject, casemapped */
	int		 refwd;		/* the subject was a reply/forward */
	char		*from, *to, *cc;	/* first addr-mailbox, casemapped */
	char		*dfrom, *dto;	/* RFC 5957 display, casemapped */
	char		*msgid;		/* Message-ID without <>, or NULL */
	char	       **refs;		/* References, else In-Reply-To */
	int		 nrefs;
};

struct mail_session;
/* The keys of the messages of uids (in sequence order): an array. */
struct imap_msgkey *imap_msgkeys_load(struct mail_session *,
	    const uint32_t *uids, size_t n, int thread);
void	 imap_msgkeys_free(struct imap_msgkey *, size_t n);

#endif
