/*
 * dovecot-uidlist: the file that gives every message of a Maildir
 * folder its IMAP UID, read and kept as Dovecot 2.3 does, so that
 * UIDVALIDITY and UIDs survive a switch between the two servers.
 */

#ifndef TSAMBA_UIDLIST_H
#define TSAMBA_UIDLIST_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "dotlock.h"

#define UIDLIST_FILE		"dovecot-uidlist"
#define UIDLIST_MAX_SIZE	(256 * 1024 * 1024)
#define UIDLIST_HDR_EXT_MAX	256
#define UIDLIST_UID_MAX		0x7fffffffU	/* Dovecot refuses above */

struct uidlist_rec {
	uint32_t	 uid;
	char		*ext;		/* extension fields ("W123 Pxyz") */
	char		 name[];	/* file name as listed (the base) */
};

struct uidlist {
	unsigned int		 version;	/* as read; 3 is written */
	uint32_t		 uidvalidity;	/* 0: not set yet */
	uint32_t		 nextuid;
	char			 guid[33];	/* mailbox GUID, hex */
	char			 hdr_ext[UIDLIST_HDR_EXT_MAX];
	struct uidlist_rec	**recs;		/* by UID */
	size_t			 nrecs, cap;
	struct uidlist_rec	**byname;	/* by base name, when valid */
	int			 byname_ok;
	/* The file as last read or written, for change checks. */
	dev_t			 dev;
	ino_t			 ino;
	off_t			 size;
	struct timespec		 mtime;
	size_t			 nfile;		/* recs[0..nfile) are on disk */
	int			 removed;	/* a record went: rewrite */
	int			 exists;	/* the file was there */
};

void	uidlist_init(struct uidlist *);
void	uidlist_clear(struct uidlist *);
int	uidlist_parse(struct uidlist *, const char *buf, size_t len);
int	uidlist_read(struct uidlist *, int md);
int	uidlist_changed(const struct uidlist *, int md);
int	uidlist_lock(int md, struct dotlock *);
int	uidlist_format(const struct uidlist *, char **buf, size_t *len);
int	uidlist_commit(struct uidlist *, int md, struct dotlock *);
int	uidlist_setup(struct uidlist *, int root);
struct uidlist_rec *uidlist_lookup(struct uidlist *, const char *name);
struct uidlist_rec *uidlist_get(const struct uidlist *, uint32_t uid);
uint32_t uidlist_add(struct uidlist *, const char *name);
int	uidlist_remove(struct uidlist *, uint32_t uid);
const char *uidlist_ext(const struct uidlist_rec *, char key, size_t *len);
uint32_t uidvalidity_next(int root, time_t now);

#endif
