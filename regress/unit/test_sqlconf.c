/*
 * Unit test of the MariaDB connection file parser: defaults that match
 * the schema, every key, quoting, continuation lines, and for each kind
 * of mistake the "file:line: message" on stderr.
 */

#include <sys/types.h>

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sqlconf.h"
#include "unit.h"

static char	tmpdir[] = "/tmp/test_sqlconf.XXXXXX";
static char	path[PATH_MAX];
static char	errtext[8192];

static void
fail_setup(const char *what)
{
	perror(what);
	exit(2);
}

static void
put_bytes(const char *bytes, size_t len)
{
	FILE	*f;

	if ((f = fopen(path, "w")) == NULL)
		fail_setup(path);
	fwrite(bytes, 1, len, f);
	if (fclose(f) != 0)
		fail_setup(path);
}

/* sqlconf_parse() of a file with its stderr kept in errtext. */
static int
parse_path(const char *file, struct sqlconf *sc)
{
	char	 errpath[PATH_MAX];
	ssize_t	 n;
	int	 fd, saved, rv;

	snprintf(errpath, sizeof(errpath), "%s/stderr", tmpdir);
	if ((fd = open(errpath, O_RDWR | O_CREAT | O_TRUNC, 0600)) == -1)
		fail_setup(errpath);
	fflush(stderr);
	if ((saved = dup(STDERR_FILENO)) == -1 ||
	    dup2(fd, STDERR_FILENO) == -1)
		fail_setup("dup");
	rv = sqlconf_parse(file, sc);
	fflush(stderr);
	if (dup2(saved, STDERR_FILENO) == -1)
		fail_setup("dup2");
	close(saved);
	if ((n = pread(fd, errtext, sizeof(errtext) - 1, 0)) == -1)
		fail_setup("pread");
	errtext[n] = '\0';
	close(fd);
	unlink(errpath);
	return rv;
}

static int
parse_bytes(const char *text, size_t len, struct sqlconf *sc)
{
	put_bytes(text, len);
	return parse_path(path, sc);
}

static int
parse(const char *text, struct sqlconf *sc)
{
	return parse_bytes(text, strlen(text), sc);
}

#define MIN_FILE	"user = mail\ndatabase = mailserver\n"

static void
expect_error(const char *text, int line, const char *msg)
{
	struct sqlconf	sc;
	char		want[PATH_MAX + 1024];
	int		rv;

	rv = parse(text, &sc);
	if (line > 0)
		snprintf(want, sizeof(want), "%s:%d: %s", path, line, msg);
	else
		snprintf(want, sizeof(want), "%s: %s", path, msg);
	CHECKF(rv == -1, "accepted: %s", text);
	CHECKF(strstr(errtext, want) != NULL, "want \"%s\", got \"%s\"",
	    want, errtext);
}

static void
test_defaults(void)
{
	struct sqlconf	sc;

	CHECK(parse(MIN_FILE, &sc) == 0);
	CHECK(errtext[0] == '\0');
	CHECK(sc.host[0] == '\0' && sc.socket[0] == '\0');
	CHECK(sc.port == 3306);
	CHECK(sc.pool == 4);
	CHECK(strcmp(sc.user, "mail") == 0);
	CHECK(strcmp(sc.database, "mailserver") == 0);
	CHECK(sc.password[0] == '\0');
	CHECK(strcmp(sc.query[SQL_USER],
	    "SELECT mail, c_password FROM users WHERE mail = ?") == 0);
	CHECK(strcmp(sc.query[SQL_DOMAIN],
	    "SELECT name FROM domains WHERE name = ?") == 0);
	CHECK(strcmp(sc.query[SQL_ALIAS],
	    "SELECT destination FROM aliases WHERE source = ?") == 0);
	CHECK(strstr(sc.query[SQL_USER_ADD], "INSERT INTO users") != NULL);
	CHECK(strstr(sc.query[SQL_ALIAS_DEL], "source = ? AND "
	    "destination = ?") != NULL);
	CHECK(strcmp(sqlconf_query_name(SQL_USER), "query_user") == 0);
	CHECK(strcmp(sqlconf_query_name(SQL_ALIAS_DEL),
	    "query_alias_del") == 0);
	CHECK(strcmp(sqlconf_query_name(SQL_NQUERIES), "query_unknown") == 0);
}

static void
test_full(void)
{
	struct sqlconf	sc;
	const char	*text =
	    "# connection\n"
	    "\n"
	    "  host = 127.0.0.1\n"
	    "port=3307\n"
	    "user = \"mail user\"\n"
	    "password = pa#ss \"word\"   \n"
	    "database = \"mail\\\"db\\\\\"  # comment\n"
	    "pool = 16\n"
	    "query_user = SELECT mail, c_password FROM users \\\n"
	    "  WHERE mail = ? AND active = 1\n"
	    "query_alias = SELECT destination FROM aliases "
	    "WHERE source = ? AND note <> 'why?'\n"
	    "query_user_list = \"SELECT mail FROM users\"\n";

	CHECK(parse(text, &sc) == 0);
	CHECKF(errtext[0] == '\0', "%s", errtext);
	CHECK(strcmp(sc.host, "127.0.0.1") == 0);
	CHECK(sc.port == 3307);
	CHECK(strcmp(sc.user, "mail user") == 0);
	CHECK(strcmp(sc.password, "pa#ss \"word\"") == 0);
	CHECK(strcmp(sc.database, "mail\"db\\") == 0);
	CHECK(sc.pool == 16);
	CHECKF(strcmp(sc.query[SQL_USER], "SELECT mail, c_password FROM "
	    "users   WHERE mail = ? AND active = 1") == 0, "%s",
	    sc.query[SQL_USER]);
	CHECK(strstr(sc.query[SQL_ALIAS], "'why?'") != NULL);
	CHECK(strcmp(sc.query[SQL_USER_LIST], "SELECT mail FROM users") == 0);

	CHECK(parse("socket = /run/mysqld/mysqld.sock\n" MIN_FILE, &sc) == 0);
	CHECK(strcmp(sc.socket, "/run/mysqld/mysqld.sock") == 0);
	CHECK(parse(MIN_FILE "password = \"\"\n", &sc) == 0);
}

static void
test_errors(void)
{
	char	long_line[SQLCONF_QUERY_MAX * 3];
	char	long_query[SQLCONF_QUERY_MAX + 64];

	expect_error(MIN_FILE "nonsense\n", 3, "expected \"key = value\"");
	expect_error(MIN_FILE "= x\n", 3, "expected \"key = value\"");
	expect_error("hostname = x\n" MIN_FILE, 1, "unknown key: hostname");
	expect_error(MIN_FILE "user = again\n", 3, "user set twice");
	expect_error(MIN_FILE "port = 0\n", 3,
	    "port: not a number from 1 to 65535: 0");
	expect_error(MIN_FILE "port = 65536\n", 3,
	    "port: not a number from 1 to 65535: 65536");
	expect_error(MIN_FILE "port = 33x\n", 3,
	    "port: not a number from 1 to 65535: 33x");
	expect_error(MIN_FILE "port = 99999999999999999999999\n", 3,
	    "port: not a number");
	expect_error(MIN_FILE "pool = 0\n", 3,
	    "pool: not a number from 1 to 64: 0");
	expect_error(MIN_FILE "host =\n", 3, "host: empty value");
	expect_error(MIN_FILE "host = \"\"\n", 3, "host: empty value");
	expect_error(MIN_FILE "socket = relative.sock\n", 3,
	    "socket: not an absolute path: relative.sock");
	expect_error(MIN_FILE "user2 = \"x\n", 3, "unknown key: user2");
	expect_error(MIN_FILE "host = \"x\n", 3,
	    "unterminated quoted value");
	expect_error(MIN_FILE "host = \"x\" y\n", 3,
	    "unexpected text after the quoted value");
	expect_error(MIN_FILE "query_user = SELECT mail, c_password "
	    "FROM users\n", 3,
	    "query_user: the query needs 1 '?' placeholder, it has 0");
	expect_error(MIN_FILE "query_user_add = INSERT INTO users (mail) "
	    "VALUES (?)\n", 3,
	    "query_user_add: the query needs 2 '?' placeholders, it has 1");
	expect_error(MIN_FILE "query_domain_list = SELECT name FROM domains "
	    "WHERE name = ?\n", 3,
	    "query_domain_list: the query needs 0 '?' placeholders, it has 1");
	expect_error(MIN_FILE "query_domain = SELECT name FROM domains "
	    "WHERE name = ? AND x = 'open\n", 3,
	    "query_domain: unterminated quote in the query");
	expect_error(MIN_FILE "host = a\tb\x01\n", 3,
	    "control character in the line");
	expect_error("user = mail\n", 0, "database is not set");
	expect_error("database = db\n", 0, "user is not set");
	expect_error(MIN_FILE "host = h\nsocket = /s\n", 0,
	    "host and socket are both set; choose one");

	memset(long_line, 'a', sizeof(long_line) - 2);
	memcpy(long_line, "host = ", 7);
	long_line[sizeof(long_line) - 2] = '\n';
	long_line[sizeof(long_line) - 1] = '\0';
	expect_error(long_line, 1, "line too long");

	memset(long_query, 'x', sizeof(long_query) - 2);
	memcpy(long_query, "query_user = ?", 14);
	long_query[sizeof(long_query) - 2] = '\n';
	long_query[sizeof(long_query) - 1] = '\0';
	expect_error(long_query, 1, "query_user: value too long");

	{
		struct sqlconf	sc;
		const char	nul[] = "user = a\0b\ndatabase = d\n";

		CHECK(parse_bytes(nul, sizeof(nul) - 1, &sc) == -1);
		CHECK(strstr(errtext, ":1: NUL byte in the line") != NULL);
		CHECK(sc.password[0] == '\0');
	}
	{
		struct sqlconf	sc;

		CHECK(parse(MIN_FILE "password = secret\nport = x\n",
		    &sc) == -1);
		CHECK(sc.password[0] == '\0');
	}
}

static void
test_missing(void)
{
	struct sqlconf	sc;
	char		want[PATH_MAX + 64];
	int		rv;

	unlink(path);
	rv = parse_bytes("", 0, &sc);
	CHECK(rv == -1);		/* "" parses: user/database missing */
	unlink(path);
	snprintf(want, sizeof(want), "%s/none.conf", tmpdir);
	CHECK(parse_path(want, &sc) == -1);
	CHECK(strstr(errtext, "none.conf: No such file or directory") !=
	    NULL);
}

int
main(void)
{
	if (mkdtemp(tmpdir) == NULL)
		fail_setup("mkdtemp");
	snprintf(path, sizeof(path), "%s/mysql.conf", tmpdir);

	test_defaults();
	test_full();
	test_errors();
	test_missing();

	unlink(path);
	rmdir(tmpdir);
	return unit_done("sqlconf");
}
