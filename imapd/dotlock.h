/*
 * Dot-locks as Dovecot takes them on files in a Maildir
 * ("dovecot-uidlist.lock", "dovecot-keywords.lock"): so that both
 * servers can share a mailbox.
 */

#ifndef TSAMBA_DOTLOCK_H
#define TSAMBA_DOTLOCK_H

#include <limits.h>
#include <stddef.h>

/* Dovecot's age after which a lock nobody refreshes is broken. */
#define DOTLOCK_STALE		120
/*
 * How long a writer waits for the lock before giving up (EWOULDBLOCK):
 * as Dovecot 2.3, a little longer than the stale age, so that a lock
 * left behind is broken rather than waited out in vain.
 */
#define DOTLOCK_WAIT		(DOTLOCK_STALE + 2)

struct dotlock {
	int	 at;		/* directory of the file */
	int	 fd;		/* the lock file, open for writing; -1 */
	char	 file[NAME_MAX + 1];	/* the file it locks */
	char	 lock[NAME_MAX + 1];	/* <file>.lock */
};

int	dotlock_take(int at, const char *file, int stale, int wait,
	    struct dotlock *);
int	dotlock_replace(struct dotlock *, const void *buf, size_t len);
void	dotlock_release(struct dotlock *);

#endif
