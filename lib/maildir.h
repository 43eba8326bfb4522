/*
 * Maildir++ as Dovecot and Courier lay it out: one library for every
 * program that touches a mailbox on disk (the lmtpd writer, tsambactl,
 * the IMAP server).  It knows the directories (cur/ new/ tmp/, folders
 * as ".Sent", ".a.b" with a maildirfolder file), the file names (unique
 * part, ,S= and ,W= sizes, ":2," flags), the delivery protocol (tmp/,
 * fsync, link into new/, fsync the directory), the maildirsize quota
 * file and the 36-hour rule for stale files in tmp/.
 *
 * Functions that touch the disk take a directory fd ("at", or "md" for
 * an open Maildir) so that a caller may work below a root it opened
 * once; AT_FDCWD works too.  They return -1 with errno set and log
 * nothing: the caller knows what the failure means for its user.  The
 * name functions are pure and do no I/O.
 */

#ifndef TSAMBA_MAILDIR_H
#define TSAMBA_MAILDIR_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Room for one file name (NAME_MAX) and a Maildir's escaped host. */
#define MAILDIR_NAME_MAX	256
#define MAILDIR_HOST_MAX	128

/* maildir_create(): the directory was made now, or was there. */
#define MAILDIR_CREATED		1
#define MAILDIR_EXISTED		0
/* maildir_create() flags */
#define MAILDIR_NOFOLLOW	0x01	/* no symbolic link on the path */

/* Files in tmp/ untouched this long are a dead writer's (Maildir rule). */
#define MAILDIR_TMP_STALE	(36 * 60 * 60)

/* The standard flags, in the order (ASCII) a name carries them. */
#define MAILDIR_FLAG_DRAFT	0x01	/* D */
#define MAILDIR_FLAG_FLAGGED	0x02	/* F */
#define MAILDIR_FLAG_PASSED	0x04	/* P: forwarded */
#define MAILDIR_FLAG_REPLIED	0x08	/* R */
#define MAILDIR_FLAG_SEEN	0x10	/* S */
#define MAILDIR_FLAG_TRASHED	0x20	/* T: \Deleted */

struct maildir_flags {
	unsigned int	 std;		/* MAILDIR_FLAG_* */
	uint32_t	 keywords;	/* bit n is letter 'a' + n */
};

/* The unique part of new names: escaped host and a per-process count. */
struct maildir_uniq {
	char		 host[MAILDIR_HOST_MAX];
	unsigned int	 count;
};

/* A message being written in tmp/. */
struct maildir_tmp {
	int		 fd;
	char		 base[MAILDIR_NAME_MAX];	/* unique part */
	size_t		 size;		/* bytes written (S=) */
	size_t		 lines;		/* bare LF written: W= is size + lines */
	int		 cr;		/* the last byte written was a CR */
};

/* The maildirsize file: limits (0 = none) and the current sums. */
struct maildir_quota {
	int64_t		 max_bytes;
	int64_t		 max_count;
	int64_t		 bytes;
	int64_t		 count;
	size_t		 filesize;	/* over MAILDIR_QUOTA_RECALC: redo */
};
#define MAILDIR_QUOTA_RECALC	5120	/* Maildir++: recalculate above */
#define MAILDIR_QUOTA_DEF_MAX	64	/* room for the limit line */

/*
 * A mailbox's quota as authd hands it to lmtpd and imapd: bytes, or
 * one of these.  UNSET: tsamba sets none, the limit maildirsize carries
 * (Dovecot's, an administrator's) stands; NONE: unlimited, and a limit
 * in the file is removed.
 */
#define MAILDIR_QUOTA_UNSET	0
#define MAILDIR_QUOTA_NONE	UINT64_MAX

/* Paths and directories. */
int	maildir_path_ok(const char *path);
int	maildir_create(int at, const char *path, int flags);
int	maildir_folder_create(int md, const char *dir);
int	maildir_remove(int at, const char *path);
int	maildir_open(int at, const char *path);

/* Folder names: mailbox name <-> directory name (pure). */
int	maildir_folder_dir(const char *mailbox, char *dir, size_t dirsz);
int	maildir_folder_name(const char *dir, char sep, char *mailbox,
	    size_t mailboxsz);

/* Unique names (pure but for maildir_uniq_next reading the clock). */
void	maildir_uniq_init(struct maildir_uniq *, const char *hostname);
int	maildir_uniq_format(char *buf, size_t bufsz, long long sec,
	    long usec, long pid, unsigned int count, const char *host);
int	maildir_uniq_next(struct maildir_uniq *, char *buf, size_t bufsz);

/* Flags in names (pure). */
int	maildir_flags_parse(const char *name, struct maildir_flags *);
int	maildir_flags_format(const struct maildir_flags *, char *buf,
	    size_t bufsz);
int	maildir_name_set_flags(const char *name,
	    const struct maildir_flags *, char *buf, size_t bufsz);
int	maildir_name_size(const char *name, char key, size_t *size);
int	maildir_name_cmp(const char *a, const char *b);
/* Delivery order with the numbers parsed once (maildir_name_cmp()). */
struct maildir_order {
	unsigned long long	 sec, usec;
	const char		*name;
	void			*arg;		/* the caller's */
};
void	maildir_name_order(const char *name, struct maildir_order *);
int	maildir_order_cmp(const struct maildir_order *,
	    const struct maildir_order *);
int	maildir_base_cmp(const char *a, const char *b);

/* Delivery: tmp/, write, then publish in new/ (or cur/ with flags). */
int	maildir_tmp_open(int md, struct maildir_uniq *, struct maildir_tmp *);
int	maildir_tmp_write(struct maildir_tmp *, const void *buf, size_t len);
int	maildir_tmp_commit(int md, struct maildir_tmp *,
	    const struct maildir_flags *, char *name, size_t namesz);
void	maildir_tmp_abort(int md, struct maildir_tmp *);
int	maildir_rename_flags(int md, const char *from,
	    const struct maildir_flags *, char *name, size_t namesz);
int	maildir_tmp_clean(int md, time_t now);

/* The Maildir++ quota file. */
int	maildir_quota_parse(const char *buf, size_t len,
	    struct maildir_quota *);
int	maildir_quota_def_format(int64_t max_bytes, int64_t max_count,
	    char *buf, size_t bufsz);
int	maildir_quota_exceeded(const struct maildir_quota *, int64_t bytes,
	    int64_t count);
int	maildir_quota_read(int md, struct maildir_quota *);
int	maildir_quota_add(int md, int64_t bytes, int64_t count);
int	maildir_quota_recalc(int md, struct maildir_uniq *,
	    struct maildir_quota *);
int	maildir_quota_sync(int md, struct maildir_uniq *, uint64_t quota,
	    struct maildir_quota *);

#endif
