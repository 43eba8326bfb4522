/*
 * tsamba.index: tsamba's own per-folder cache beside dovecot-uidlist:
 * per message its modseq, flags, sizes, internal date and the
 * ENVELOPE and BODYSTRUCTURE strings, the folder's HIGHESTMODSEQ and
 * the expunged UIDs QRESYNC reports (VANISHED (EARLIER)).
 */

#ifndef TSAMBA_INDEX_H
#define TSAMBA_INDEX_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include "mailbox.h"

#define INDEX_FILE		"tsamba.index"
#define INDEX_VERSION		2
#define INDEX_BLOB_MAX		(1024 * 1024)	/* one ENVELOPE etc. */

/* What of a message's file the index knows (struct index_msg have). */
#define INDEX_HAVE_FILE		0x1	/* size, idate */
#define INDEX_HAVE_VSIZE	0x2

struct index_msg {
	uint32_t	 uid;
	uint32_t	 have;		/* INDEX_HAVE_*; blobs: non-NULL */
	uint64_t	 modseq;
	uint32_t	 std;		/* MAILDIR_FLAG_* */
	uint32_t	 keywords;	/* letters, as in the file name */
	uint64_t	 size;		/* bytes on disk */
	uint64_t	 vsize;		/* with CRLF line ends (RFC822.SIZE) */
	int64_t		 idate;		/* INTERNALDATE, seconds */
	char		*envelope;	/* opaque, from the MIME parser */
	size_t		 envlen;
	char		*bodystructure;
	size_t		 bslen;
};

struct index_expunge {
	uint32_t	 uid;
	uint64_t	 modseq;
};

struct mindex {
	int			 md;
	int			 fd;		/* the log, open for append */
	dev_t			 dev;
	ino_t			 ino;
	off_t			 readoff;	/* read up to here */
	uint32_t		 uidvalidity;
	uint64_t		 highestmodseq;
	uint64_t		 expunge_floor;	/* history complete above */
	struct index_msg	*msg;		/* by UID */
	size_t			 nmsg, cap;
	struct index_expunge	*exp;		/* by modseq */
	size_t			 nexp, expcap;
	off_t			 live;		/* bytes a compaction writes */
	int			 rebuilt;	/* started afresh this open */
	void			*pending;	/* cache fills not written */
	size_t			 npending;
};

int	index_open(int md, uint32_t uidvalidity, struct mindex **);
void	index_close(struct mindex *);
int	index_refresh(struct mindex *);
struct index_msg *index_get(const struct mindex *, uint32_t uid);
int	index_add(struct mindex *, const struct index_msg *);
int	index_set_flags(struct mindex *, uint32_t uid, uint32_t std,
	    uint32_t keywords);
int	index_set_cache(struct mindex *, uint32_t uid, const char *env,
	    size_t envlen, const char *bs, size_t bslen);
int	index_cache_put(struct mindex *, const struct index_msg *);
int	index_cache_flush(struct mindex *);
int	index_expunge(struct mindex *, uint32_t uid);
int	index_vanished_since(const struct mindex *, uint64_t modseq,
	    uint32_t **uids, size_t *n, int *complete);
int	index_compact(struct mindex *);
int	index_sync_mailbox(struct mindex *, const struct mailbox *);

#endif
