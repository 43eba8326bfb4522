/*
 * The "subscriptions" file of a Maildir++ root, read and written as
 * Dovecot 2.3 does (LSUB, SUBSCRIBE, UNSUBSCRIBE).
 */

#ifndef TSAMBA_SUBSCRIPTIONS_H
#define TSAMBA_SUBSCRIPTIONS_H

#include <stddef.h>

#define SUBSCRIPTIONS_FILE	"subscriptions"
#define SUBSCRIPTIONS_MAX_SIZE	(4 * 1024 * 1024)

struct subscriptions {
	char	**name;		/* with '.' between levels */
	size_t	  n, cap;
};

void	subs_init(struct subscriptions *);
void	subs_clear(struct subscriptions *);
int	subs_parse(struct subscriptions *, const char *buf, size_t len);
int	subs_format(const struct subscriptions *, char **buf, size_t *len);
int	subs_read(struct subscriptions *, int root);
int	subs_has(const struct subscriptions *, const char *name);
int	subs_add(struct subscriptions *, const char *name);
int	subs_remove(struct subscriptions *, const char *name);
int	subs_update(int root, const char *name, int subscribe);

#endif
