/*
 * The one way a tsamba process gives up root: resolve the user, chroot,
 * chdir("/"), setgroups, setresgid, setresuid, PR_SET_NO_NEW_PRIVS, then
 * check that root cannot be regained.
 */

#ifndef TSAMBA_PRIVDROP_H
#define TSAMBA_PRIVDROP_H

#include <sys/types.h>

/*
 * As root: drop to user (by name) inside root (NULL or "" = no chroot);
 * fatal() on any failure.  As another user: no drop is possible, so log
 * one warning naming the process and keep running as that user.
 */
void	priv_drop(const char *user, const char *root, const char *procname);
/* Same with numeric ids (the Maildir writer), no name lookup. */
void	priv_drop_ids(uid_t, gid_t, const char *root, const char *procname);
/* Resolve a user name: 0 and ids filled, -1 if unknown. */
int	priv_lookup(const char *user, uid_t *, gid_t *);

#endif
