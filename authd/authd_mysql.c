/*
 * The MariaDB backend.  Each worker thread owns one connection and its
 * prepared statements (query_domain, query_user, query_alias from the
 * connection file), so a slow query holds up only its own worker.
 *
 * A query is a prepared statement: the address travels as a bound
 * parameter, so a quote or a '%' in it is just a character; control
 * characters are refused before anything reaches the server.  Each
 * statement is prepared and its columns counted when authd starts: a
 * wrong query stops authd with the name of its key.
 *
 * A database that goes away gives TABLE_TEMPFAIL, never "no such user".
 * A lost connection is reopened at once for the request that found it
 * lost; if that fails too, further attempts wait for a backoff (0.5 s,
 * doubling, at most 8 s) and requests meanwhile fail fast.  No restart
 * is needed when the server comes back.
 */

#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mysql.h>

#include "log.h"
#include "quota_rule.h"
#include "sqlconf.h"
#include "stats.h"
#include "authd.h"

#define BACKOFF_MIN_MS		500
#define BACKOFF_MAX_MS		8000
#define SQL_COLS_MAX		3
#define SQL_VALUE_MAX		TABLE_HASH_MAX

/*
 * The statements authd runs, and the columns each must return; a user
 * may have a third, the mailbox quota in bytes (NULL: the default).
 */
static const struct {
	enum sql_query	 q;
	unsigned int	 cols;
	unsigned int	 maxcols;
	const char	*what;
} lookups[] = {
	{ SQL_DOMAIN,	1, 1, "(name)" },
	{ SQL_USER,	2, 3, "(mail, c_password[, quota])" },
	{ SQL_ALIAS,	1, 1, "(destination)" },
};
#define NLOOKUPS	(sizeof(lookups) / sizeof(lookups[0]))

struct sqlconn {
	MYSQL		*db;
	MYSQL_STMT	*st[NLOOKUPS];
	unsigned int	 ncols[NLOOKUPS];	/* as prepared */
	int		 up;
	unsigned int	 backoff_ms;
	struct timespec	 next_try;
	int		 warned;	/* the outage is logged once */
};

static const struct sqlconf	*sc;
static const char		*sc_path;
static __thread struct sqlconn	*conn;

/* One row of a result: the columns as NUL-terminated strings. */
typedef int	(*row_fn)(char **cols, void *arg);

int
mysql_backend_init(const char *path, struct sqlconf *conf)
{
	if (sqlconf_parse(path, conf) == -1)
		return -1;
	sc = conf;
	sc_path = path;
	if (mysql_library_init(0, NULL, NULL) != 0) {
		log_warnx("%s: cannot initialise libmariadb", path);
		return -1;
	}
	return 0;
}

static void
sql_close(struct sqlconn *c)
{
	size_t	 i;

	for (i = 0; i < NLOOKUPS; i++) {
		if (c->st[i] != NULL)
			mysql_stmt_close(c->st[i]);
		c->st[i] = NULL;
	}
	if (c->db != NULL)
		mysql_close(c->db);
	c->db = NULL;
	c->up = 0;
}

/*
 * Prepare one statement and check its shape.  -1 with the reason in err;
 * *server_err tells a refused query (a configuration error) from a lost
 * connection.
 */
static int
sql_prepare(struct sqlconn *c, size_t i, char *err, size_t errsz,
    int *server_err)
{
	enum sql_query	 q = lookups[i].q;
	MYSQL_STMT	*st;
	MYSQL_RES	*meta;
	unsigned int	 n, eno;

	*server_err = 0;
	if ((st = mysql_stmt_init(c->db)) == NULL) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	c->st[i] = st;
	if (mysql_stmt_prepare(st, sc->query[q], strlen(sc->query[q])) != 0) {
		eno = mysql_stmt_errno(st);
		/* Client errors (2000 and up) are the connection's. */
		*server_err = eno < 2000;
		snprintf(err, errsz, "%s: %s", sqlconf_query_name(q),
		    mysql_stmt_error(st));
		return -1;
	}
	*server_err = 1;
	if (mysql_stmt_param_count(st) != 1) {
		snprintf(err, errsz, "%s: needs exactly one '?' parameter, "
		    "has %lu", sqlconf_query_name(q),
		    mysql_stmt_param_count(st));
		return -1;
	}
	if ((meta = mysql_stmt_result_metadata(st)) == NULL) {
		snprintf(err, errsz, "%s: returns no rows (not a SELECT?)",
		    sqlconf_query_name(q));
		return -1;
	}
	n = mysql_num_fields(meta);
	mysql_free_result(meta);
	if (n < lookups[i].cols || n > lookups[i].maxcols) {
		snprintf(err, errsz, "%s: returns %u column%s, needs %u %s",
		    sqlconf_query_name(q), n, n == 1 ? "" : "s",
		    lookups[i].cols, lookups[i].what);
		return -1;
	}
	c->ncols[i] = n;
	return 0;
}

/* Connect and prepare; -1 with the reason in err. */
static int
sql_open(struct sqlconn *c, char *err, size_t errsz, int *server_err)
{
	unsigned int	 ctimeout = 5, iotimeout = 10;
	size_t		 i;

	*server_err = 0;
	sql_close(c);
	if ((c->db = mysql_init(NULL)) == NULL) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	mysql_options(c->db, MYSQL_OPT_CONNECT_TIMEOUT, &ctimeout);
	mysql_options(c->db, MYSQL_OPT_READ_TIMEOUT, &iotimeout);
	mysql_options(c->db, MYSQL_OPT_WRITE_TIMEOUT, &iotimeout);
	mysql_options(c->db, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	if (mysql_real_connect(c->db,
	    sc->host[0] != '\0' ? sc->host : NULL, sc->user,
	    sc->password, sc->database, sc->port,
	    sc->socket[0] != '\0' ? sc->socket : NULL, 0) == NULL) {
		snprintf(err, errsz, "connect: %s", mysql_error(c->db));
		sql_close(c);
		return -1;
	}
	for (i = 0; i < NLOOKUPS; i++)
		if (sql_prepare(c, i, err, errsz, server_err) == -1) {
			sql_close(c);
			return -1;
		}
	c->up = 1;
	c->backoff_ms = 0;
	return 0;
}

/*
 * At start-up, in the main thread: a query the server refuses or that
 * returns the wrong columns is a configuration error.  A server that is
 * not there yet is not: authd starts and answers temporary failures
 * until it is.
 */
int
mysql_backend_check(const struct conf *conf)
{
	struct sqlconn	 c;
	char		 err[512];
	int		 server_err;

	memset(&c, 0, sizeof(c));
	if (sql_open(&c, err, sizeof(err), &server_err) == -1) {
		if (server_err) {
			log_warnx("%s: %s", sc_path, err);
			return -1;
		}
		log_warnx("%s: database not reachable (%s); answering "
		    "temporary failures until it is", sc_path, err);
		return 0;
	}
	sql_close(&c);
	log_info("%s: connected to database %s, queries checked", sc_path,
	    sc->database);
	return 0;
}

void
mysql_thread_start(void)
{
	char	 err[512];
	int	 server_err;

	if (mysql_thread_init() != 0)
		fatalx("mysql_thread_init");
	if ((conn = calloc(1, sizeof(*conn))) == NULL)
		fatal("%s", __func__);
	if (sql_open(conn, err, sizeof(err), &server_err) == -1)
		log_debug("%s: %s", sc_path, err);
}

void
mysql_thread_stop(void)
{
	if (conn != NULL) {
		sql_close(conn);
		free(conn);
		conn = NULL;
	}
	mysql_thread_end();
}

static long long
ms_until(const struct timespec *t)
{
	struct timespec	 now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (t->tv_sec - now.tv_sec) * 1000LL +
	    (t->tv_nsec - now.tv_nsec) / 1000000;
}

/* Reconnect unless the backoff says to wait: 0 when up. */
static int
sql_ensure(void)
{
	char	 err[512];
	int	 server_err;

	if (conn->up)
		return 0;
	if (conn->backoff_ms != 0 && ms_until(&conn->next_try) > 0)
		return -1;
	if (sql_open(conn, err, sizeof(err), &server_err) == 0) {
		if (conn->warned)
			log_info("%s: database reachable again", sc_path);
		conn->warned = 0;
		return 0;
	}
	stats_inc(ST_AUTHD_DB_ERRORS, 0);
	if (!conn->warned)
		log_warnx("%s: database unavailable: %s", sc_path, err);
	conn->warned = 1;
	conn->backoff_ms = conn->backoff_ms == 0 ? BACKOFF_MIN_MS :
	    conn->backoff_ms * 2;
	if (conn->backoff_ms > BACKOFF_MAX_MS)
		conn->backoff_ms = BACKOFF_MAX_MS;
	clock_gettime(CLOCK_MONOTONIC, &conn->next_try);
	conn->next_try.tv_sec += conn->backoff_ms / 1000;
	conn->next_try.tv_nsec += (conn->backoff_ms % 1000) * 1000000L;
	if (conn->next_try.tv_nsec >= 1000000000L) {
		conn->next_try.tv_sec++;
		conn->next_try.tv_nsec -= 1000000000L;
	}
	return -1;
}

/* One execution: 0 done, -1 failed (the connection is closed). */
static int
sql_exec_once(size_t i, const char *arg, row_fn fn, void *fnarg)
{
	MYSQL_STMT	*st = conn->st[i];
	MYSQL_BIND	 param, res[SQL_COLS_MAX];
	static __thread char	 val[SQL_COLS_MAX][SQL_VALUE_MAX + 1];
	char		*cols[SQL_COLS_MAX + 1];
	unsigned long	 arglen = strlen(arg), len[SQL_COLS_MAX];
	my_bool		 isnull[SQL_COLS_MAX], error[SQL_COLS_MAX];
	unsigned int	 k, ncols = conn->ncols[i];
	int		 r, stop = 0;

	memset(&param, 0, sizeof(param));
	param.buffer_type = MYSQL_TYPE_STRING;
	param.buffer = (void *)(uintptr_t)arg;
	param.buffer_length = arglen;
	param.length = &arglen;
	memset(res, 0, sizeof(res));
	for (k = 0; k < ncols; k++) {
		res[k].buffer_type = MYSQL_TYPE_STRING;
		res[k].buffer = val[k];
		res[k].buffer_length = SQL_VALUE_MAX;
		res[k].length = &len[k];
		res[k].is_null = &isnull[k];
		res[k].error = &error[k];
	}
	if (mysql_stmt_bind_param(st, &param) != 0 ||
	    mysql_stmt_execute(st) != 0 ||
	    mysql_stmt_bind_result(st, res) != 0 ||
	    mysql_stmt_store_result(st) != 0)
		goto fail;
	while (!stop && (r = mysql_stmt_fetch(st)) != MYSQL_NO_DATA) {
		if (r == 1)
			goto fail;
		for (k = 0; k < ncols; k++) {
			if (isnull[k])
				len[k] = 0;
			if (r == MYSQL_DATA_TRUNCATED && error[k])
				break;
			val[k][len[k]] = '\0';
			cols[k] = val[k];
		}
		cols[ncols] = NULL;
		if (k < ncols) {
			log_warnx("%s: a value longer than %d bytes, row "
			    "skipped", sqlconf_query_name(lookups[i].q),
			    SQL_VALUE_MAX);
			continue;
		}
		stop = fn(cols, fnarg);
	}
	mysql_stmt_free_result(st);
	return 0;
 fail:
	stats_inc(ST_AUTHD_DB_ERRORS, 0);
	log_warnx("%s: %s: %s", sc_path, sqlconf_query_name(lookups[i].q),
	    mysql_stmt_error(st));
	mysql_stmt_free_result(st);
	sql_close(conn);
	return -1;
}

/* Run a lookup, reconnecting once if the connection was lost. */
static int
sql_exec(size_t i, const char *arg, row_fn fn, void *fnarg)
{
	const unsigned char	*p;
	int			 was_up;

	for (p = (const unsigned char *)arg; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f) {
			log_warnx("%s: control character in the key, not "
			    "asked", sqlconf_query_name(lookups[i].q));
			return TABLE_NOTFOUND;
		}
	was_up = conn->up;
	if (sql_ensure() == -1)
		return TABLE_TEMPFAIL;
	if (sql_exec_once(i, arg, fn, fnarg) == 0)
		return TABLE_FOUND;
	/* The server may have restarted since we last used it. */
	if (!was_up || sql_ensure() == -1)
		return TABLE_TEMPFAIL;
	if (sql_exec_once(i, arg, fn, fnarg) == 0)
		return TABLE_FOUND;
	return TABLE_TEMPFAIL;
}

static int
row_count(char **cols, void *arg)
{
	(*(int *)arg)++;
	return 1;
}

int
mysql_domain(const char *domain)
{
	int	 n = 0, rv;

	if ((rv = sql_exec(0, domain, row_count, &n)) != TABLE_FOUND)
		return rv;
	return n > 0 ? TABLE_FOUND : TABLE_NOTFOUND;
}

struct user_rows {
	struct table_user	*u;
	int			 n;
};

static int
row_user(char **cols, void *arg)
{
	struct user_rows	*ur = arg;

	if (ur->n++ > 0)
		return 1;
	if (strlcpy(ur->u->canon, cols[0], sizeof(ur->u->canon)) >=
	    sizeof(ur->u->canon))
		ur->u->canon[0] = '\0';
	if (strlcpy(ur->u->hash, cols[1], sizeof(ur->u->hash)) >=
	    sizeof(ur->u->hash))
		ur->u->hash[0] = '\0';
	/* The quota column: NULL or "" is the configured default. */
	if (cols[2] != NULL && *cols[2] != '\0') {
		if (quota_rule_parse(cols[2], &ur->u->quota) == 0)
			ur->u->has_quota = 1;
		else
			log_warnx("%s: %s: quota \"%.40s\" is not a size in "
			    "bytes, the default applies",
			    sqlconf_query_name(SQL_USER), ur->u->canon,
			    cols[2]);
	}
	return 0;
}

int
mysql_user(const char *key, struct table_user *u)
{
	struct user_rows	 ur = { u, 0 };
	int			 rv;

	memset(u, 0, sizeof(*u));
	if ((rv = sql_exec(1, key, row_user, &ur)) != TABLE_FOUND)
		return rv;
	if (ur.n == 0)
		return TABLE_NOTFOUND;
	if (u->canon[0] == '\0')
		strlcpy(u->canon, key, sizeof(u->canon));
	return TABLE_FOUND;
}

struct alias_rows {
	struct table_alias	*a;
	size_t			 cap;
	int			 nrows;
	int			 nomem;
};

/* One destination row; a comma-separated list is read as several. */
static int
row_alias(char **cols, void *arg)
{
	struct alias_rows	*ar = arg;
	struct table_alias	*a = ar->a;
	struct mailaddr		*grown, m;
	char			*s = cols[0], *tok;

	ar->nrows++;
	while ((tok = strsep(&s, ",")) != NULL) {
		tok += strspn(tok, " \t");
		tok[strcspn(tok, " \t")] = '\0';
		if (*tok == '\0')
			continue;
		if (addr_parse(tok, &m, ADDR_ALLOW_UTF8) == -1) {
			log_warnx("%s: bad destination \"%s\" skipped",
			    sqlconf_query_name(SQL_ALIAS), tok);
			continue;
		}
		if (a->ndests == ALIAS_EXPAND_MAX)
			return 1;
		if (a->ndests == ar->cap) {
			ar->cap = ar->cap == 0 ? 8 : ar->cap * 2;
			if ((grown = reallocarray(a->dests, ar->cap,
			    sizeof(*grown))) == NULL) {
				ar->nomem = 1;
				return 1;
			}
			a->dests = grown;
		}
		a->dests[a->ndests++] = m;
	}
	return 0;
}

int
mysql_alias(const char *key, struct table_alias *a)
{
	struct alias_rows	 ar;
	int			 rv;

	memset(a, 0, sizeof(*a));
	memset(&ar, 0, sizeof(ar));
	ar.a = a;
	if ((rv = sql_exec(2, key, row_alias, &ar)) != TABLE_FOUND ||
	    ar.nomem) {
		table_alias_free(a);
		return rv != TABLE_FOUND ? rv : TABLE_TEMPFAIL;
	}
	if (ar.nrows == 0)
		return TABLE_NOTFOUND;
	return TABLE_FOUND;
}

void
mysql_backend_free(void)
{
	mysql_library_end();
}
