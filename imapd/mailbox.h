/*
 * A mailbox (a Maildir++ folder) as an IMAP or POP3 session sees it:
 * its messages by UID with flags from their file names, kept in step
 * with the disk on demand, and the changes a session makes (STORE,
 * EXPUNGE, APPEND, COPY, MOVE).
 */

#ifndef TSAMBA_MAILBOX_H
#define TSAMBA_MAILBOX_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "maildir.h"
#include "keywords.h"
#include "uidlist.h"

#define MAILBOX_NAME_MAX	512
#define MAILBOX_SEP		'.'

struct mbox_msg {
	uint32_t		 uid;
	char			*name;	/* "cur/<file>" or "new/<file>" */
	struct maildir_flags	 flags;
};

struct mailbox {
	int			 root;	/* the mail root (INBOX) */
	int			 md;	/* this folder's Maildir */
	char			 name[MAILBOX_NAME_MAX];
	int			 readonly;	/* EXAMINE: new/ stays */
	struct uidlist		 ul;
	struct keywords		 kw;
	struct maildir_uniq	 uniq;
	struct mbox_msg		*msg;	/* by UID */
	size_t			 nmsg;
	/* new/ and cur/ as of the last scan: unchanged, no rescan. */
	struct timespec		 new_mtime, cur_mtime;
	time_t			 scanned_at;	/* 0: never */
};

/* What one mailbox_sync() found other sessions (or lmtpd) did. */
struct mailbox_changes {
	uint32_t	*added;
	size_t		 nadded;
	uint32_t	*expunged;
	size_t		 nexpunged;
	uint32_t	*flagged;
	size_t		 nflagged;
};

enum mailbox_store_op {
	MB_STORE_SET,
	MB_STORE_ADD,
	MB_STORE_REMOVE
};


int	mailbox_open(int root, const char *name, int readonly,
	    struct mailbox **);
void	mailbox_close(struct mailbox *);
int	mailbox_is_current(const struct mailbox *);
int	mailbox_sync(struct mailbox *, struct mailbox_changes *);
void	mailbox_changes_free(struct mailbox_changes *);
struct mbox_msg *mailbox_find(const struct mailbox *, uint32_t uid);
int	mailbox_keyword_bits(struct mailbox *, const char **names, size_t n,
	    int create, uint32_t *bits);
int	mailbox_store(struct mailbox *, uint32_t uid, enum mailbox_store_op,
	    const struct maildir_flags *);
int	mailbox_expunge(struct mailbox *, const uint32_t *uids, size_t n);
int	mailbox_append(struct mailbox *, const void *data, size_t len,
	    const struct maildir_flags *, time_t internaldate, uint32_t *uid);
int	mailbox_copy(struct mailbox *src, const uint32_t *uids, size_t n,
	    struct mailbox *dst, uint32_t *newuids);
int	mailbox_move(struct mailbox *src, const uint32_t *uids, size_t n,
	    struct mailbox *dst, uint32_t *newuids);

#endif
