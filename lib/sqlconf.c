/*
 * The MariaDB connection file (sqlconf.h): defaults that work against
 * the existing schema, then a strict line parser.  Anything it does not
 * understand is a "file:line: message" error, never a guess: the file
 * holds the SQL that authd runs and the password it connects with.
 */

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqlconf.h"

#define SQLCONF_LINE_MAX	(SQLCONF_QUERY_MAX * 2)
#define SQLCONF_POOL_MAX	64

struct sql_query_def {
	const char	*name;
	int		 nparams;	/* '?' placeholders it must have */
	const char	*dflt;
};

static const struct sql_query_def query_defs[SQL_NQUERIES] = {
	[SQL_DOMAIN] = { "query_domain", 1,
	    "SELECT name FROM domains WHERE name = ?" },
	[SQL_USER] = { "query_user", 1,
	    "SELECT mail, c_password FROM users WHERE mail = ?" },
	[SQL_ALIAS] = { "query_alias", 1,
	    "SELECT destination FROM aliases WHERE source = ?" },
	[SQL_DOMAIN_LIST] = { "query_domain_list", 0,
	    "SELECT name FROM domains ORDER BY name" },
	[SQL_DOMAIN_ADD] = { "query_domain_add", 1,
	    "INSERT INTO domains (name) VALUES (?)" },
	[SQL_DOMAIN_DEL] = { "query_domain_del", 1,
	    "DELETE FROM domains WHERE name = ?" },
	[SQL_USER_LIST] = { "query_user_list", 0,
	    "SELECT mail FROM users ORDER BY mail" },
	[SQL_USER_ADD] = { "query_user_add", 2,
	    "INSERT INTO users (mail, c_password) VALUES (?, ?)" },
	[SQL_USER_PASSWD] = { "query_user_passwd", 2,
	    "UPDATE users SET c_password = ? WHERE mail = ?" },
	[SQL_USER_DEL] = { "query_user_del", 1,
	    "DELETE FROM users WHERE mail = ?" },
	[SQL_ALIAS_LIST] = { "query_alias_list", 0,
	    "SELECT source, destination FROM aliases "
	    "ORDER BY source, destination" },
	[SQL_ALIAS_ADD] = { "query_alias_add", 2,
	    "INSERT INTO aliases (source, destination) VALUES (?, ?)" },
	[SQL_ALIAS_DEL] = { "query_alias_del", 2,
	    "DELETE FROM aliases WHERE source = ? AND destination = ?" },
};

enum sqlconf_key {
	KEY_HOST = SQL_NQUERIES,
	KEY_SOCKET,
	KEY_PORT,
	KEY_USER,
	KEY_PASSWORD,
	KEY_DATABASE,
	KEY_POOL,
	KEY_MAX
};

static const char *const key_names[KEY_MAX - SQL_NQUERIES] = {
	"host", "socket", "port", "user", "password", "database", "pool"
};

struct sqlconf_parser {
	const char	*path;
	int		 lineno;
	int		 errors;
	int		 seen[KEY_MAX];
};

const char *
sqlconf_query_name(enum sql_query q)
{
	if ((unsigned int)q >= SQL_NQUERIES)
		return "query_unknown";
	return query_defs[q].name;
}

static void
sqlconf_error(struct sqlconf_parser *p, const char *fmt, ...)
{
	va_list	ap;

	fprintf(stderr, "%s:%d: ", p->path, p->lineno);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	p->errors++;
}

static void
sqlconf_defaults(struct sqlconf *sc)
{
	int	q;

	memset(sc, 0, sizeof(*sc));
	sc->port = 3306;
	sc->pool = 4;
	for (q = 0; q < SQL_NQUERIES; q++)
		(void)snprintf(sc->query[q], sizeof(sc->query[q]), "%s",
		    query_defs[q].dflt);
}

/*
 * Placeholders outside quoted literals and identifiers: a '?' inside
 * 'text', "text" or `name` is data, not a parameter.  -1 when a quote
 * is left open.
 */
static int
sqlconf_count_params(const char *sql)
{
	int	 n = 0;
	char	 quote = '\0';

	for (; *sql != '\0'; sql++) {
		if (quote != '\0') {
			if (*sql == '\\' && quote != '`' && sql[1] != '\0')
				sql++;
			else if (*sql == quote)
				quote = '\0';
			continue;
		}
		if (*sql == '\'' || *sql == '"' || *sql == '`')
			quote = *sql;
		else if (*sql == '?')
			n++;
	}
	return quote != '\0' ? -1 : n;
}

static int
sqlconf_find_key(const char *key)
{
	int	i;

	for (i = 0; i < SQL_NQUERIES; i++)
		if (strcmp(key, query_defs[i].name) == 0)
			return i;
	for (i = SQL_NQUERIES; i < KEY_MAX; i++)
		if (strcmp(key, key_names[i - SQL_NQUERIES]) == 0)
			return i;
	return -1;
}

static int
sqlconf_number(struct sqlconf_parser *p, const char *key, const char *v,
    unsigned long min, unsigned long max, unsigned int *out)
{
	unsigned long	 n = 0;
	const char	*s;

	for (s = v; *s != '\0'; s++) {
		if (!isdigit((unsigned char)*s) || n > max) {
			sqlconf_error(p, "%s: not a number from %lu to %lu: "
			    "%s", key, min, max, v);
			return -1;
		}
		n = n * 10 + (unsigned long)(*s - '0');
	}
	if (s == v || n < min || n > max) {
		sqlconf_error(p, "%s: not a number from %lu to %lu: %s", key,
		    min, max, v);
		return -1;
	}
	*out = (unsigned int)n;
	return 0;
}

static int
sqlconf_string(struct sqlconf_parser *p, const char *key, const char *v,
    char *dst, size_t dstsz)
{
	if ((size_t)snprintf(dst, dstsz, "%s", v) >= dstsz) {
		sqlconf_error(p, "%s: value too long (at most %zu bytes)",
		    key, dstsz - 1);
		return -1;
	}
	return 0;
}

static void
sqlconf_set(struct sqlconf_parser *p, struct sqlconf *sc, int k,
    const char *key, const char *v)
{
	int	n;

	if (k < SQL_NQUERIES) {
		if (sqlconf_string(p, key, v, sc->query[k],
		    sizeof(sc->query[k])) == -1)
			return;
		n = sqlconf_count_params(v);
		if (n == -1)
			sqlconf_error(p, "%s: unterminated quote in the query",
			    key);
		else if (n != query_defs[k].nparams)
			sqlconf_error(p, "%s: the query needs %d '?' "
			    "placeholder%s, it has %d", key,
			    query_defs[k].nparams,
			    query_defs[k].nparams == 1 ? "" : "s", n);
		return;
	}
	switch (k) {
	case KEY_HOST:
		(void)sqlconf_string(p, key, v, sc->host, sizeof(sc->host));
		break;
	case KEY_SOCKET:
		if (v[0] != '/')
			sqlconf_error(p, "socket: not an absolute path: %s", v);
		else
			(void)sqlconf_string(p, key, v, sc->socket,
			    sizeof(sc->socket));
		break;
	case KEY_PORT:
		(void)sqlconf_number(p, key, v, 1, 65535, &sc->port);
		break;
	case KEY_USER:
		(void)sqlconf_string(p, key, v, sc->user, sizeof(sc->user));
		break;
	case KEY_PASSWORD:
		(void)sqlconf_string(p, key, v, sc->password,
		    sizeof(sc->password));
		break;
	case KEY_DATABASE:
		(void)sqlconf_string(p, key, v, sc->database,
		    sizeof(sc->database));
		break;
	case KEY_POOL:
		(void)sqlconf_number(p, key, v, 1, SQLCONF_POOL_MAX,
		    &sc->pool);
		break;
	}
}

/*
 * A quoted value in place: "..." with \" and \\ escapes; nothing but
 * blanks or a comment may follow.  Returns the end of the value or NULL.
 */
static char *
sqlconf_unquote(struct sqlconf_parser *p, char *s)
{
	char	*r = s + 1, *w = s;

	for (;; r++) {
		if (*r == '\0') {
			sqlconf_error(p, "unterminated quoted value");
			return NULL;
		}
		if (*r == '"')
			break;
		if (*r == '\\' && (r[1] == '"' || r[1] == '\\'))
			r++;
		*w++ = *r;
	}
	*w = '\0';
	for (r++; *r == ' ' || *r == '\t'; r++)
		;
	if (*r != '\0' && *r != '#') {
		sqlconf_error(p, "unexpected text after the quoted value");
		return NULL;
	}
	return w;
}

static void
sqlconf_line(struct sqlconf_parser *p, struct sqlconf *sc, char *line)
{
	char	*key, *v, *end;
	int	 k;

	for (key = line; *key == ' ' || *key == '\t'; key++)
		;
	if (*key == '\0' || *key == '#')
		return;
	for (v = key; isalnum((unsigned char)*v) || *v == '_'; v++)
		;
	end = v;
	for (; *v == ' ' || *v == '\t'; v++)
		;
	if (end == key || *v != '=') {
		sqlconf_error(p, "expected \"key = value\"");
		return;
	}
	*end = '\0';
	if ((k = sqlconf_find_key(key)) == -1) {
		sqlconf_error(p, "unknown key: %s", key);
		return;
	}
	if (p->seen[k]++) {
		sqlconf_error(p, "%s set twice", key);
		return;
	}
	for (v++; *v == ' ' || *v == '\t'; v++)
		;
	if (*v == '"') {
		if (sqlconf_unquote(p, v) == NULL)
			return;
	} else {
		/* Unquoted: the rest of the line, so '#' may be data. */
		end = v + strlen(v);
		while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
	}
	if (*v == '\0' && k != KEY_PASSWORD) {
		sqlconf_error(p, "%s: empty value", key);
		return;
	}
	sqlconf_set(p, sc, k, key, v);
}

/* Control characters (tab aside) have no business in this file. */
static int
sqlconf_line_clean(struct sqlconf_parser *p, const char *line, size_t len)
{
	size_t	i;

	for (i = 0; i < len; i++) {
		if ((unsigned char)line[i] < 0x20 && line[i] != '\t') {
			sqlconf_error(p, "control character in the line");
			return 0;
		}
		if (line[i] == 0x7f) {
			sqlconf_error(p, "control character in the line");
			return 0;
		}
	}
	return 1;
}

/*
 * One logical line into buf: a line ending in '\' continues on the next
 * one (long queries).  0 at EOF with nothing read, -1 for a line that is
 * too long (the rest of it is skipped), else 1.
 */
static int
sqlconf_getline(struct sqlconf_parser *p, FILE *fp, char *buf, size_t bufsz,
    size_t *lenp)
{
	size_t	 len = 0;
	int	 c, got = 0, toolong = 0;

	p->lineno++;
	for (;;) {
		c = getc(fp);
		if (c == EOF)
			break;
		got = 1;
		if (c == '\n') {
			if (len > 0 && buf[len - 1] == '\\') {
				len--;
				p->lineno++;
				continue;
			}
			break;
		}
		if (len + 1 >= bufsz) {
			toolong = 1;
			continue;
		}
		buf[len++] = (char)c;
	}
	buf[len] = '\0';
	*lenp = len;
	if (!got)
		return 0;
	if (toolong) {
		sqlconf_error(p, "line too long (at most %zu bytes)",
		    bufsz - 2);
		return -1;
	}
	return 1;
}

/* What only the whole file can tell: "file: message", no line. */
static void
sqlconf_check(struct sqlconf_parser *p, struct sqlconf *sc)
{
	const char	*msg = NULL;

	if (sc->host[0] != '\0' && sc->socket[0] != '\0')
		msg = "host and socket are both set; choose one";
	else if (sc->database[0] == '\0')
		msg = "database is not set";
	else if (sc->user[0] == '\0')
		msg = "user is not set";
	if (msg != NULL) {
		fprintf(stderr, "%s: %s\n", p->path, msg);
		p->errors++;
	}
}

int
sqlconf_parse(const char *path, struct sqlconf *sc)
{
	struct sqlconf_parser	 p;
	FILE			*fp;
	char			*line;
	size_t			 len;
	int			 r;

	sqlconf_defaults(sc);
	memset(&p, 0, sizeof(p));
	p.path = path;
	if ((fp = fopen(path, "r")) == NULL) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	if ((line = malloc(SQLCONF_LINE_MAX)) == NULL) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		fclose(fp);
		return -1;
	}
	while ((r = sqlconf_getline(&p, fp, line, SQLCONF_LINE_MAX,
	    &len)) != 0) {
		if (r == -1)
			continue;
		if (len != strlen(line)) {
			sqlconf_error(&p, "NUL byte in the line");
			continue;
		}
		if (sqlconf_line_clean(&p, line, len))
			sqlconf_line(&p, sc, line);
	}
	if (ferror(fp)) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		p.errors++;
	}
	fclose(fp);
	free(line);
	if (p.errors == 0)
		sqlconf_check(&p, sc);
	if (p.errors > 0) {
		/* Do not leave the password lying in a rejected config. */
		explicit_bzero(sc->password, sizeof(sc->password));
		return -1;
	}
	return 0;
}
