/*
 * The mysql backend of tsambactl: the tables in MariaDB, reached with
 * the connection file of sqlconf.h and changed only through its
 * configured queries, each run as a prepared statement (an address is
 * always a parameter, never SQL text).  A table opened for writing runs
 * in one transaction, committed by table_commit().
 *
 * An aliases row whose destination is a comma list ("bob@x, carol@y",
 * common in Postfix MySQL maps and read so by authd) is one row per
 * destination to the rest of tsambactl: listed apart, found by add's
 * duplicate check, and deleted one destination at a time by rewriting
 * the row (delete it, insert it again without that destination).
 */

#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mysql.h>

#include "sqlconf.h"
#include "table_file.h"
#include "ctl.h"
#include "ctl_backend.h"

#define SQL_VALUE_MAX	1024	/* longest column value read */
#define SQL_COLS_MAX	3

struct mtab {
	MYSQL		*db;
	struct sqlconf	 sc;
	int		 write;
};

/*
 * Placeholders and result columns each query must have; query_user may
 * have a third column, the quota, which authd reads and tsambactl not.
 */
static const struct {
	int	params;
	int	cols;
	int	maxcols;
} shapes[SQL_NQUERIES] = {
	[SQL_DOMAIN] = { 1, 1, 1 },
	[SQL_USER] = { 1, 2, 3 },
	[SQL_ALIAS] = { 1, 1, 1 },
	[SQL_DOMAIN_LIST] = { 0, 1, 1 },
	[SQL_DOMAIN_ADD] = { 1, 0, 0 },
	[SQL_DOMAIN_DEL] = { 1, 0, 0 },
	[SQL_USER_LIST] = { 0, 1, 1 },
	[SQL_USER_ADD] = { 2, 0, 0 },
	[SQL_USER_PASSWD] = { 2, 0, 0 },
	[SQL_USER_DEL] = { 1, 0, 0 },
	[SQL_ALIAS_LIST] = { 0, 2, 2 },
	[SQL_ALIAS_ADD] = { 2, 0, 0 },
	[SQL_ALIAS_DEL] = { 2, 0, 0 },
};

/* Which queries belong to which table, for check. */
static const enum sql_query table_queries[TAB_N][5] = {
	[TAB_DOMAINS] = { SQL_DOMAIN, SQL_DOMAIN_LIST, SQL_DOMAIN_ADD,
	    SQL_DOMAIN_DEL, SQL_NQUERIES },
	[TAB_USERS] = { SQL_USER, SQL_USER_LIST, SQL_USER_ADD,
	    SQL_USER_PASSWD, SQL_USER_DEL },
	[TAB_ALIASES] = { SQL_ALIAS, SQL_ALIAS_LIST, SQL_ALIAS_ADD,
	    SQL_ALIAS_DEL, SQL_NQUERIES },
};

static int
mysql_connect_db(struct table *t, struct mtab *m)
{
	unsigned int	 timeout = 10;
	const char	*host = NULL, *sock = NULL;

	if ((m->db = mysql_init(NULL)) == NULL) {
		ctl_warnx("%s table: mysql_init failed", t->name);
		return -1;
	}
	mysql_options(m->db, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
	mysql_options(m->db, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	if (*m->sc.socket != '\0')
		sock = m->sc.socket;
	else if (*m->sc.host != '\0')
		host = m->sc.host;
	if (mysql_real_connect(m->db, host, m->sc.user, m->sc.password,
	    m->sc.database, m->sc.port, sock, 0) == NULL) {
		ctl_warnx("%s table: cannot connect to the database: %s",
		    t->name, mysql_error(m->db));
		return -1;
	}
	return 0;
}

static int
mysql_open(struct table *t, int write)
{
	struct mtab	*m;

	if ((m = calloc(1, sizeof(*m))) == NULL) {
		ctl_warn("calloc");
		return -1;
	}
	t->priv = m;
	m->write = write;
	if (sqlconf_parse(t->ct->path, &m->sc) == -1) {
		ctl_warnx("%s table: errors in %s", t->name, t->ct->path);
		goto fail;
	}
	if (mysql_connect_db(t, m) == -1)
		goto fail;
	if (write && mysql_autocommit(m->db, 0) != 0) {
		ctl_warnx("%s table: cannot start a transaction: %s",
		    t->name, mysql_error(m->db));
		goto fail;
	}
	return 0;
 fail:
	t->ops->close(t);
	return -1;
}

static MYSQL_STMT *
stmt_prepare(struct table *t, struct mtab *m, enum sql_query q)
{
	MYSQL_STMT	*st;
	const char	*sql = m->sc.query[q];

	if ((st = mysql_stmt_init(m->db)) == NULL) {
		ctl_warnx("%s table: out of memory", t->name);
		return NULL;
	}
	if (mysql_stmt_prepare(st, sql, strlen(sql)) != 0) {
		ctl_warnx("%s table: %s: %s", t->name, sqlconf_query_name(q),
		    mysql_stmt_error(st));
		mysql_stmt_close(st);
		return NULL;
	}
	if ((int)mysql_stmt_param_count(st) != shapes[q].params ||
	    (int)mysql_stmt_field_count(st) < shapes[q].cols ||
	    (int)mysql_stmt_field_count(st) > shapes[q].maxcols) {
		ctl_warnx("%s table: %s must take %d parameters and return "
		    "%d columns, it takes %lu and returns %u", t->name,
		    sqlconf_query_name(q), shapes[q].params, shapes[q].cols,
		    mysql_stmt_param_count(st), mysql_stmt_field_count(st));
		mysql_stmt_close(st);
		return NULL;
	}
	return st;
}

/* A column as a key when it is one, else as stored, lowercased. */
static void
col_key(enum ctl_tab id, const char *v, char *key, size_t keysz)
{
	int	 r;

	if (id == TAB_DOMAINS)
		r = table_domain_key(v, key, keysz);
	else if (id == TAB_ALIASES)
		r = table_source_key(v, key, keysz);
	else
		r = table_address_key(v, key, keysz);
	if (r == -1) {
		strlcpy(key, v, keysz);
		addr_lower(key);
	}
}

/*
 * Run query q with the parameters; rows go to cb as (key, value): for a
 * two-column result both columns, for one column (listing or the rows of
 * a given key) the column and NULL, or the given key and the column for
 * the aliases of a source.  The affected rows are returned, or -1.
 */
static long long
stmt_run(struct table *t, enum sql_query q, const char **params,
    const char *given, row_cb cb, void *arg)
{
	struct mtab	*m = t->priv;
	MYSQL_STMT	*st;
	MYSQL_BIND	 pb[2], rb[SQL_COLS_MAX];
	unsigned long	 plen[2], rlen[SQL_COLS_MAX];
	my_bool		 rnull[SQL_COLS_MAX], rerr[SQL_COLS_MAX];
	char		 val[SQL_COLS_MAX][SQL_VALUE_MAX + 1];
	char		 key[TABLE_KEY_MAX];
	long long	 rv = -1;
	int		 i, ncols = shapes[q].cols, r, stop = 0;

	if ((st = stmt_prepare(t, m, q)) == NULL)
		return -1;
	ncols = (int)mysql_stmt_field_count(st);
	memset(pb, 0, sizeof(pb));
	for (i = 0; i < shapes[q].params; i++) {
		plen[i] = strlen(params[i]);
		pb[i].buffer_type = MYSQL_TYPE_STRING;
		pb[i].buffer = (void *)params[i];
		pb[i].buffer_length = plen[i];
		pb[i].length = &plen[i];
	}
	if ((shapes[q].params > 0 && mysql_stmt_bind_param(st, pb) != 0) ||
	    mysql_stmt_execute(st) != 0)
		goto sqlerr;
	if (ncols == 0) {
		rv = (long long)mysql_stmt_affected_rows(st);
		goto done;
	}
	memset(rb, 0, sizeof(rb));
	for (i = 0; i < ncols; i++) {
		rb[i].buffer_type = MYSQL_TYPE_STRING;
		rb[i].buffer = val[i];
		rb[i].buffer_length = SQL_VALUE_MAX;
		rb[i].length = &rlen[i];
		rb[i].is_null = &rnull[i];
		rb[i].error = &rerr[i];
	}
	if (mysql_stmt_bind_result(st, rb) != 0 ||
	    mysql_stmt_store_result(st) != 0)
		goto sqlerr;
	while (!stop && (r = mysql_stmt_fetch(st)) != MYSQL_NO_DATA) {
		if (r == MYSQL_DATA_TRUNCATED) {
			ctl_warnx("%s table: %s: a value is longer than %d "
			    "bytes", t->name, sqlconf_query_name(q),
			    SQL_VALUE_MAX);
			goto done;
		}
		if (r != 0)
			goto sqlerr;
		for (i = 0; i < ncols; i++)
			val[i][rnull[i] ? 0 : rlen[i]] = '\0';
		if (given != NULL && ncols == 1)
			stop = cb(arg, given, val[0]);
		else {
			col_key(t->id, val[0], key, sizeof(key));
			stop = cb(arg, key, ncols >= 2 ? val[1] : NULL);
		}
	}
	rv = 0;
	goto done;
 sqlerr:
	ctl_warnx("%s table: %s: %s", t->name, sqlconf_query_name(q),
	    mysql_stmt_error(st));
 done:
	mysql_stmt_free_result(st);
	mysql_stmt_close(st);
	return rv;
}

struct split {
	row_cb	 cb;
	void	*arg;
};

/* One call of the caller's cb per destination of a comma list. */
static int
split_row(void *arg, const char *key, const char *value)
{
	struct split	*sp = arg;
	char		 buf[SQL_VALUE_MAX + 1], *list = buf, *d;
	int		 stop = 0;

	if (value == NULL)
		return sp->cb(sp->arg, key, value);
	strlcpy(buf, value, sizeof(buf));
	while (!stop && (d = table_alias_next(&list)) != NULL)
		stop = sp->cb(sp->arg, key, d);
	return stop;
}

static int
mysql_rows(struct table *t, const char *key, row_cb cb, void *arg)
{
	static const enum sql_query	 all[TAB_N] = { SQL_DOMAIN_LIST,
	    SQL_USER_LIST, SQL_ALIAS_LIST };
	static const enum sql_query	 one[TAB_N] = { SQL_DOMAIN, SQL_USER,
	    SQL_ALIAS };
	const char			*p[1] = { key };
	struct split			 sp = { cb, arg };

	if (t->id == TAB_ALIASES) {
		cb = split_row;
		arg = &sp;
	}
	if (key == NULL)
		return stmt_run(t, all[t->id], NULL, NULL, cb, arg) == -1 ?
		    -1 : 0;
	/* One column: the domain itself, or the destinations of key. */
	return stmt_run(t, one[t->id], p, t->id == TAB_ALIASES ? key : NULL,
	    cb, arg) == -1 ? -1 : 0;
}

static int
mysql_add(struct table *t, const char *key, const char *value)
{
	static const enum sql_query	 add[TAB_N] = { SQL_DOMAIN_ADD,
	    SQL_USER_ADD, SQL_ALIAS_ADD };
	const char			*p[2] = { key, value };

	return stmt_run(t, add[t->id], p, NULL, NULL, NULL) == -1 ? -1 : 0;
}

static int
mysql_update(struct table *t, const char *key, const char *value)
{
	const char	*p[2] = { value, key };

	if (t->id != TAB_USERS)
		return -1;
	return stmt_run(t, SQL_USER_PASSWD, p, NULL, NULL, NULL);
}

struct dests {
	char	**v;
	size_t	  n;
};

static int
collect_dest(void *arg, const char *key, const char *value)
{
	struct dests	*d = arg;
	char		**v;

	if ((v = reallocarray(d->v, d->n + 1, sizeof(*v))) == NULL)
		return 1;
	d->v = v;
	if ((d->v[d->n] = strdup(value)) == NULL)
		return 1;
	d->n++;
	return 0;
}

/* Every destination of a source, one ALIAS_DEL each. */
static int
mysql_del_source(struct table *t, const char *key)
{
	struct dests	 d = { NULL, 0 };
	const char	*p[2];
	long long	 r, n = 0;
	size_t		 i;

	if (stmt_run(t, SQL_ALIAS, &key, key, collect_dest, &d) == -1)
		n = -1;
	for (i = 0; i < d.n; i++) {
		if (n != -1) {
			p[0] = key;
			p[1] = d.v[i];
			if ((r = stmt_run(t, SQL_ALIAS_DEL, p, NULL, NULL,
			    NULL)) == -1)
				n = -1;
			else
				n += r;
		}
		free(d.v[i]);
	}
	free(d.v);
	return n;
}

/*
 * The stored destination row without dest: in *rest the remaining
 * destinations joined by ", " ("" if none).  The number of dest
 * found in it.
 */
static int
row_without(const char *row, const char *dest, char *rest, size_t restsz)
{
	char	 buf[SQL_VALUE_MAX + 1], key[TABLE_KEY_MAX];
	char	*list = buf, *d;
	int	 found = 0;

	strlcpy(buf, row, sizeof(buf));
	rest[0] = '\0';
	while ((d = table_alias_next(&list)) != NULL) {
		if (table_address_key(d, key, sizeof(key)) == 0 &&
		    strcmp(key, dest) == 0) {
			found++;
			continue;
		}
		if (rest[0] != '\0')
			strlcat(rest, ", ", restsz);
		strlcat(rest, d, restsz);
	}
	return found;
}

/*
 * One destination of a source: each stored row holding it (alone or in
 * a comma list) is deleted, and a list is inserted again without it.
 */
static int
mysql_del_dest(struct table *t, const char *key, const char *dest)
{
	struct dests	 d = { NULL, 0 };
	const char	*p[2];
	char		 rest[SQL_VALUE_MAX + 1];
	long long	 r, n = 0;
	size_t		 i;
	int		 found;

	if (stmt_run(t, SQL_ALIAS, &key, key, collect_dest, &d) == -1)
		n = -1;
	for (i = 0; i < d.n; i++) {
		if (n != -1 && (found = row_without(d.v[i], dest, rest,
		    sizeof(rest))) > 0) {
			p[0] = key;
			p[1] = d.v[i];
			if ((r = stmt_run(t, SQL_ALIAS_DEL, p, NULL, NULL,
			    NULL)) <= 0)
				n = -1;	/* the row we just read must go */
			else
				n += found;
			p[1] = rest;
			if (n != -1 && rest[0] != '\0' &&
			    stmt_run(t, SQL_ALIAS_ADD, p, NULL, NULL,
			    NULL) == -1)
				n = -1;
		}
		free(d.v[i]);
	}
	free(d.v);
	if (n == -1)
		ctl_warnx("%s table: cannot remove %s from %s", t->name,
		    dest, key);
	return n;
}

static int
mysql_del(struct table *t, const char *key, const char *value)
{
	const char	*p[2] = { key, value };

	switch (t->id) {
	case TAB_DOMAINS:
		return stmt_run(t, SQL_DOMAIN_DEL, p, NULL, NULL, NULL);
	case TAB_USERS:
		return stmt_run(t, SQL_USER_DEL, p, NULL, NULL, NULL);
	default:
		if (value == NULL)
			return mysql_del_source(t, key);
		return mysql_del_dest(t, key, value);
	}
}

static int
mysql_commit_tx(struct table *t)
{
	struct mtab	*m = t->priv;

	if (!m->write)
		return 0;
	if (mysql_commit(m->db) != 0) {
		ctl_warnx("%s table: commit failed: %s", t->name,
		    mysql_error(m->db));
		mysql_rollback(m->db);
		return -1;
	}
	return 0;
}

static void
mysql_rollback_tx(struct table *t)
{
	struct mtab	*m = t->priv;

	if (!m->write)
		return;
	if (mysql_rollback(m->db) != 0)
		ctl_warnx("%s table: rollback failed: %s", t->name,
		    mysql_error(m->db));
	else if (mysql_warning_count(m->db) > 0)
		ctl_warnx("%s table: rollback incomplete (a table without "
		    "transactions?)", t->name);
}

static void
mysql_close_db(struct table *t)
{
	struct mtab	*m = t->priv;

	if (m == NULL)
		return;
	if (m->db != NULL)
		mysql_close(m->db);
	explicit_bzero(&m->sc, sizeof(m->sc));
	free(m);
	t->priv = NULL;
}

/* Connected already (open); each query of this table prepares. */
static int
mysql_check(struct table *t, const struct conf *conf)
{
	struct mtab	*m = t->priv;
	MYSQL_STMT	*st;
	size_t		 i;
	enum sql_query	 q;
	int		 rv = 0;

	printf("ok   %s table mysql %s: connected to %s (%s)\n", t->name,
	    t->ct->path, *m->sc.socket ? m->sc.socket : m->sc.host,
	    mysql_get_server_info(m->db));
	for (i = 0; i < 5; i++) {
		if ((q = table_queries[t->id][i]) == SQL_NQUERIES)
			break;
		if ((st = stmt_prepare(t, m, q)) == NULL) {
			printf("FAIL %s table: %s does not prepare with %d "
			    "parameters and %d columns\n", t->name,
			    sqlconf_query_name(q), shapes[q].params,
			    shapes[q].cols);
			rv = -1;
			continue;
		}
		mysql_stmt_close(st);
		printf("ok   %s table: %s\n", t->name, sqlconf_query_name(q));
	}
	return rv;
}

const struct table_ops	mysql_ops = {
	.open = mysql_open,
	.rows = mysql_rows,
	.add = mysql_add,
	.update = mysql_update,
	.del = mysql_del,
	.commit = mysql_commit_tx,
	.rollback = mysql_rollback_tx,
	.close = mysql_close_db,
	.check = mysql_check,
};
