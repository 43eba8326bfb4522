/*
 * The tables as tsambactl edits them: one backend per table, chosen in
 * tsamba.conf ("table users file|mysql PATH").  Each table is a set of
 * rows of one or two columns:
 *
 *   domains   (name, NULL)
 *   users     (mail, hash)       hash is NULL when listing all users of
 *                                 a backend that does not return it
 *   aliases   (source, destination), one row per destination
 *
 * Keys given to the backends are normalized first (table_file.h keys:
 * lowercased, quotes removed).  Changes take effect at commit: the file
 * backend rewrites the file atomically then, the mysql one commits its
 * transaction; rollback drops them.
 */

#ifndef TSAMBA_CTL_BACKEND_H
#define TSAMBA_CTL_BACKEND_H

#include "conf.h"

enum ctl_tab {
	TAB_DOMAINS,
	TAB_USERS,
	TAB_ALIASES,
	TAB_N
};

/* Called once per row; a non-zero return stops the walk. */
typedef int	(*row_cb)(void *arg, const char *key, const char *value);

struct table;

struct table_ops {
	/* Connect or read; for write, also lock or begin a transaction. */
	int	(*open)(struct table *, int write);
	/* Rows of key, or all rows when key is NULL: 0 or -1. */
	int	(*rows)(struct table *, const char *key, row_cb, void *);
	int	(*add)(struct table *, const char *key, const char *value);
	/* users: the new hash of key; rows changed or -1. */
	int	(*update)(struct table *, const char *key, const char *value);
	/* Rows of key (value NULL) or the row (key, value): count or -1. */
	int	(*del)(struct table *, const char *key, const char *value);
	int	(*commit)(struct table *);
	void	(*rollback)(struct table *);
	void	(*close)(struct table *);
	/* ctl check: what this backend can verify; 0 or -1, lines printed. */
	int	(*check)(struct table *, const struct conf *);
};

struct table {
	enum ctl_tab		 id;
	const char		*name;		/* "users" */
	const struct conf_table	*ct;
	const struct table_ops	*ops;
	void			*priv;
	int			 open;
};

extern const struct table_ops	file_ops;
extern const struct table_ops	mysql_ops;

/*
 * The table of tsamba.conf, opened (write: locked or in a transaction);
 * NULL after printing why (not configured, unreadable...).
 */
struct table	*table_open(const struct conf *, enum ctl_tab, int write);
/* Commit pending changes: 0, or -1 (printed; the changes are dropped). */
int		 table_commit(struct table *);
void		 table_rollback(struct table *);
void		 table_close(struct table *);
/* 1 if the key has a row, 0 if not, -1 on error. */
int		 table_has(struct table *, const char *key);
const char	*table_name(enum ctl_tab);
/*
 * "list [domain]" of the users or aliases table: each key (with ": value"
 * when values is set), only those of the domain argv[1] if given.
 */
int		 table_list(enum ctl_tab, int values, int argc, char *argv[]);

#endif
