/*
 * Unit test of the tsamba.conf parser: values, defaults, macros,
 * includes, units, and for every kind of error the "file:line: message"
 * on stderr and the failure of conf_parse().
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "unit.h"

static char	tmpdir[256];
static char	errtext[8192];

static void
fail_setup(const char *what)
{
	perror(what);
	exit(2);
}

/* Write a file in the test directory; returns its path (static). */
static const char *
put(const char *name, const char *text)
{
	static char	 path[PATH_MAX];
	FILE		*f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	if ((f = fopen(path, "w")) == NULL)
		fail_setup(path);
	fputs(text, f);
	if (fclose(f) != 0)
		fail_setup(path);
	return path;
}

static const char *
put_bytes(const char *name, const char *bytes, size_t len)
{
	static char	 path[PATH_MAX];
	FILE		*f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	if ((f = fopen(path, "w")) == NULL)
		fail_setup(path);
	fwrite(bytes, 1, len, f);
	if (fclose(f) != 0)
		fail_setup(path);
	return path;
}

/* conf_parse() with its stderr kept in errtext. */
static int
parse(const char *path, struct conf *conf)
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
	rv = conf_parse(path, conf);
	fflush(stderr);
	if (dup2(saved, STDERR_FILENO) == -1)
		fail_setup("dup2");
	close(saved);
	if ((n = pread(fd, errtext, sizeof(errtext) - 1, 0)) == -1)
		fail_setup("pread");
	errtext[n] = '\0';
	close(fd);
	return rv;
}

static int
mkdir_sub(void)
{
	char	path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/sub", tmpdir);
	return mkdir(path, 0700) == -1 && errno != EEXIST ? -1 : 0;
}

static int
parse_text(const char *text, struct conf *conf)
{
	return parse(put("t.conf", text), conf);
}

/* The text must fail with exactly this message at this line. */
static void
expect_error(const char *text, int line, const char *msg)
{
	struct conf	conf;
	char		want[1024];
	int		rv;

	rv = parse_text(text, &conf);
	snprintf(want, sizeof(want), "%s/t.conf:%d: %s", tmpdir, line, msg);
	CHECKF(rv == -1, "accepted: %s", text);
	CHECKF(strstr(errtext, want) != NULL, "want \"%s\", got \"%s\"",
	    want, errtext);
	CHECKF(TAILQ_EMPTY(&conf.pkis) && TAILQ_EMPTY(&conf.listens),
	    "lists left after a failed parse");
}

static int
count_listens(struct conf_listen_list *list)
{
	struct conf_listen	*l;
	int			 n = 0;

	TAILQ_FOREACH(l, list, entry)
		n++;
	return n;
}

static void
test_defaults(void)
{
	struct conf	conf;
	char		host[CONF_HOST_MAX] = "", buf[PATH_MAX];

	CHECK(parse_text("", &conf) == 0);
	CHECK(errtext[0] == '\0');
	gethostname(host, sizeof(host) - 1);
	CHECK(strcmp(conf.hostname, host) == 0);
	CHECK(strcmp(conf.rundir, "/run/tsamba") == 0);
	CHECK(strcmp(conf.spool, "/var/spool/tsamba") == 0);
	CHECK(strcmp(conf.mailroot, "/var/vmail") == 0);
	CHECK(strcmp(conf.chroot, "/var/lib/tsamba/empty") == 0);
	CHECK(strcmp(conf.user_smtpd, "_tsamba") == 0);
	CHECK(strcmp(conf.user_lmtpd, "_tsambalmtp") == 0);
	CHECK(strcmp(conf.user_mta, "_tsambamta") == 0);
	CHECK(strcmp(conf.user_queue, "_tsambaq") == 0);
	CHECK(strcmp(conf.user_imap, "_tsambaimap") == 0);
	CHECK(strcmp(conf.user_auth, "_tsambaauth") == 0);
	CHECK(strcmp(conf.user_vmail, "vmail") == 0);
	CHECK(conf.nlmtp_allow == 0);
	CHECK(TAILQ_EMPTY(&conf.pkis));
	CHECK(TAILQ_EMPTY(&conf.listens));
	CHECK(TAILQ_EMPTY(&conf.lmtp_listens));
	CHECK(strcmp(conf.lmtp_socket, "/run/tsamba/lmtp.sock") == 0);
	CHECK(strcmp(conf.queue_lmtp, "/run/tsamba/lmtp.sock") == 0);
	CHECK(conf.domains.backend == TABLE_NONE);
	CHECK(conf.users.backend == TABLE_NONE);
	CHECK(conf.aliases.backend == TABLE_NONE);
	CHECK(conf.max_message_size == 35 * 1024 * 1024);
	CHECK(conf.max_rcpts == 100);
	CHECK(conf.max_sessions == 500);
	CHECK(conf.max_sessions_per_ip == 20);
	CHECK(conf.max_line == 1000);
	CHECK(conf.timeout_idle == 300);
	CHECK(conf.timeout_session == 1800);
	CHECK(conf.queue_lifetime == 4 * 86400);
	CHECK(conf.queue_retry_min == 60);
	CHECK(conf.queue_retry_max == 3600);
	CHECK(conf.queue_delay_warn == 4 * 3600);
	CHECK(conf.queue_lmtp_sessions == 8);
	CHECK(strcmp(conf.statedir, "/var/lib/tsamba") == 0);
	CHECK(conf.ban_max_failures == 5);
	CHECK(conf.ban_window == 600);
	CHECK(conf.ban_duration == 3600);
	CHECK(TAILQ_EMPTY(&conf.ban_never));
	CHECK(conf.ban_prefix4 == 32);
	CHECK(conf.ban_prefix6 == 64);
	conf_sockpath(&conf, "auth.sock", buf, sizeof(buf));
	CHECK(strcmp(buf, "/run/tsamba/auth.sock") == 0);
	conf_clear(&conf);
	conf_clear(&conf);	/* twice is harmless */
}

static void
test_full(void)
{
	struct conf		 conf;
	struct conf_listen	*l;
	struct conf_pki		*pki;
	struct sockaddr_in	*sin;
	struct sockaddr_in6	*sin6;
	char			 buf[PATH_MAX];

	CHECK(parse_text(
	    "# a whole configuration\n"
	    "hostname \"mail.example.org\"\n"
	    "rundir \"/tmp/tsamba-run\"\n"
	    "spool \"/srv/spool\"\n"
	    "mailroot /srv/vmail   # unquoted path\n"
	    "chroot \"/srv/empty\"\n"
	    "user smtpd \"s\"\n"
	    "user queue \"q\"\n"
	    "user auth \"a\"\n"
	    "user vmail \"v\"\n"
	    "pki mail cert \"/etc/ssl/mail.crt\" key \"/etc/ssl/mail.key\"\n"
	    "pki other key \"/k\" cert \"/c\"\n"
	    "table domains file \"/etc/tsamba/domains\"\n"
	    "table users file \"/etc/tsamba/users\"\n"
	    "table aliases file \"/etc/tsamba/aliases\"\n"
	    "listen on any port 25 tls pki mail\n"
	    "listen on localhost port 587 tls-require pki mail auth\n"
	    "listen on any smtps pki other auth\n"
	    "listen on :: port 25\n"
	    "listen on 192.0.2.1 auth port 2525\n"
	    "lmtp listen on socket \"/tmp/l.sock\"\n"
	    "lmtp listen on 127.0.0.1 port 2424\n"
	    "lmtp listen on ::1\n"
	    "limit message-size 10M\n"
	    "limit recipients 50\n"
	    "limit sessions 1000\n"
	    "limit sessions-per-ip 5\n"
	    "limit line-length 2048\n"
	    "timeout idle 2m\n"
	    "timeout session 1h\n"
	    "queue lifetime 5d\n"
	    "queue retry-min 30s\n"
	    "queue retry-max 7200\n"
	    "queue delay-warn 2h\n"
	    "queue lmtp-sessions 4\n", &conf) == 0);
	CHECKF(errtext[0] == '\0', "%s", errtext);
	CHECK(strcmp(conf.hostname, "mail.example.org") == 0);
	CHECK(strcmp(conf.rundir, "/tmp/tsamba-run") == 0);
	CHECK(strcmp(conf.spool, "/srv/spool") == 0);
	CHECK(strcmp(conf.mailroot, "/srv/vmail") == 0);
	CHECK(strcmp(conf.chroot, "/srv/empty") == 0);
	CHECK(strcmp(conf.user_smtpd, "s") == 0);
	CHECK(strcmp(conf.user_queue, "q") == 0);
	CHECK(strcmp(conf.user_auth, "a") == 0);
	CHECK(strcmp(conf.user_vmail, "v") == 0);

	CHECK((pki = conf_pki_find(&conf, "mail")) != NULL);
	CHECK(pki != NULL && strcmp(pki->cert, "/etc/ssl/mail.crt") == 0);
	CHECK(pki != NULL && strcmp(pki->key, "/etc/ssl/mail.key") == 0);
	CHECK((pki = conf_pki_find(&conf, "other")) != NULL);
	CHECK(pki != NULL && strcmp(pki->cert, "/c") == 0);
	CHECK(conf_pki_find(&conf, "none") == NULL);

	CHECK(conf.domains.backend == TABLE_FILE);
	CHECK(strcmp(conf.domains.path, "/etc/tsamba/domains") == 0);
	CHECK(conf.users.backend == TABLE_FILE);
	CHECK(strcmp(conf.users.path, "/etc/tsamba/users") == 0);
	CHECK(conf.aliases.backend == TABLE_FILE);
	CHECK(strcmp(conf.aliases.path, "/etc/tsamba/aliases") == 0);

	CHECK(count_listens(&conf.listens) == 5);
	l = TAILQ_FIRST(&conf.listens);
	sin = (struct sockaddr_in *)&l->ss;
	CHECK(strcmp(l->addr, "any") == 0 && l->port == 25);
	CHECK(sin->sin_family == AF_INET && l->sslen == sizeof(*sin));
	CHECK(sin->sin_addr.s_addr == htonl(INADDR_ANY));
	CHECK(ntohs(sin->sin_port) == 25);
	CHECK(l->flags == LISTEN_TLS && strcmp(l->pki, "mail") == 0);
	l = TAILQ_NEXT(l, entry);
	sin = (struct sockaddr_in *)&l->ss;
	CHECK(sin->sin_addr.s_addr == htonl(INADDR_LOOPBACK));
	CHECK(l->port == 587 && ntohs(sin->sin_port) == 587);
	CHECK(l->flags == (LISTEN_TLS | LISTEN_TLS_REQUIRE | LISTEN_AUTH));
	l = TAILQ_NEXT(l, entry);
	CHECK(l->port == 465 && l->flags == (LISTEN_SMTPS | LISTEN_AUTH));
	CHECK(strcmp(l->pki, "other") == 0);
	l = TAILQ_NEXT(l, entry);
	sin6 = (struct sockaddr_in6 *)&l->ss;
	CHECK(sin6->sin6_family == AF_INET6 && l->sslen == sizeof(*sin6));
	CHECK(IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr));
	CHECK(ntohs(sin6->sin6_port) == 25 && l->flags == 0);
	CHECK(l->pki[0] == '\0');
	l = TAILQ_NEXT(l, entry);
	sin = (struct sockaddr_in *)&l->ss;
	CHECK(sin->sin_addr.s_addr == inet_addr("192.0.2.1"));
	CHECK(l->port == 2525 && l->flags == LISTEN_AUTH);

	CHECK(count_listens(&conf.lmtp_listens) == 2);
	l = TAILQ_FIRST(&conf.lmtp_listens);
	CHECK(l->port == 2424 && l->ss.ss_family == AF_INET);
	l = TAILQ_NEXT(l, entry);
	sin6 = (struct sockaddr_in6 *)&l->ss;
	CHECK(l->port == 24 && IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr));
	CHECK(strcmp(conf.lmtp_socket, "/tmp/l.sock") == 0);
	CHECK(strcmp(conf.queue_lmtp, "/tmp/l.sock") == 0);

	CHECK(conf.max_message_size == 10 * 1024 * 1024);
	CHECK(conf.max_rcpts == 50);
	CHECK(conf.max_sessions == 1000);
	CHECK(conf.max_sessions_per_ip == 5);
	CHECK(conf.max_line == 2048);
	CHECK(conf.timeout_idle == 120);
	CHECK(conf.timeout_session == 3600);
	CHECK(conf.queue_lifetime == 5 * 86400);
	CHECK(conf.queue_retry_min == 30);
	CHECK(conf.queue_retry_max == 7200);
	CHECK(conf.queue_delay_warn == 7200);
	CHECK(conf.queue_lmtp_sessions == 4);
	conf_sockpath(&conf, "queue.sock", buf, sizeof(buf));
	CHECK(strcmp(buf, "/tmp/tsamba-run/queue.sock") == 0);
	conf_clear(&conf);
	CHECK(TAILQ_EMPTY(&conf.pkis) && TAILQ_EMPTY(&conf.listens));
}

/* A user per role, and the users lmtp.sock admits. */
static void
test_roles(void)
{
	struct conf	conf;

	CHECK(parse_text(
	    "user lmtpd \"l\"\n"
	    "user mta \"m\"\n"
	    "user imap-login \"i\"\n"
	    "lmtp listen on socket \"/l.sock\" allow \"postfix\" "
	    "allow \"other\"\n"
	    "lmtp listen on socket allow \"postfix\" allow \"third\"\n",
	    &conf) == 0);
	CHECKF(errtext[0] == '\0', "%s", errtext);
	CHECK(strcmp(conf.user_lmtpd, "l") == 0);
	CHECK(strcmp(conf.user_mta, "m") == 0);
	CHECK(strcmp(conf.user_imap, "i") == 0);
	CHECK(strcmp(conf.user_smtpd, "_tsamba") == 0);
	/* The last socket line names the path; allow adds up, once each. */
	CHECK(strcmp(conf.lmtp_socket, "/run/tsamba/lmtp.sock") == 0);
	CHECK(conf.nlmtp_allow == 3);
	CHECK(strcmp(conf.lmtp_allow[0], "postfix") == 0);
	CHECK(strcmp(conf.lmtp_allow[1], "other") == 0);
	CHECK(strcmp(conf.lmtp_allow[2], "third") == 0);
	conf_clear(&conf);

	expect_error("user imap \"x\"\n", 1, "unknown user kind \"imap\" "
	    "(smtpd, lmtpd, mta, queue, auth, imap-login, metrics or vmail)");
	expect_error("lmtp listen on socket allow \"\"\n", 1,
	    "empty user name in allow");
	expect_error("lmtp listen on socket allow\n", 1, "syntax error");
}

static void
test_derived(void)
{
	struct conf	conf;

	/* Derived paths follow rundir wherever it is set. */
	CHECK(parse_text("queue lifetime 1d\nrundir \"/r\"\n", &conf) == 0);
	CHECK(strcmp(conf.lmtp_socket, "/r/lmtp.sock") == 0);
	CHECK(strcmp(conf.queue_lmtp, "/r/lmtp.sock") == 0);
	conf_clear(&conf);

	CHECK(parse_text("queue lmtp \"/q.sock\"\nrundir \"/r\"\n",
	    &conf) == 0);
	CHECK(strcmp(conf.lmtp_socket, "/r/lmtp.sock") == 0);
	CHECK(strcmp(conf.queue_lmtp, "/q.sock") == 0);
	conf_clear(&conf);

	CHECK(parse_text("lmtp listen on socket\n", &conf) == 0);
	CHECK(strcmp(conf.lmtp_socket, "/run/tsamba/lmtp.sock") == 0);
	conf_clear(&conf);
}

/* RFC 5321 4.5.1: postmaster@hostname unless the file names another. */
static void
test_postmaster(void)
{
	struct conf	conf;
	char		host[CONF_HOST_MAX] = "", want[CONF_HOST_MAX + 16];

	gethostname(host, sizeof(host) - 1);
	CHECK(parse_text("spool \"/s\"\n", &conf) == 0);
	snprintf(want, sizeof(want), "postmaster@%s", host);
	CHECKF(strcmp(conf.postmaster, want) == 0, "%s", conf.postmaster);
	conf_clear(&conf);

	/* The default follows the hostname wherever it is set. */
	CHECK(parse_text("spool \"/s\"\nhostname \"mx.example.org\"\n",
	    &conf) == 0);
	CHECK(strcmp(conf.postmaster, "postmaster@mx.example.org") == 0);
	conf_clear(&conf);

	/* Kept as a lookup would write it: the domain lowercased. */
	CHECK(parse_text("postmaster \"Alice@Example.ORG\"\n"
	    "hostname \"mx.example.org\"\n", &conf) == 0);
	CHECKF(strcmp(conf.postmaster, "Alice@example.org") == 0, "%s",
	    conf.postmaster);
	conf_clear(&conf);

	expect_error("postmaster \"root\"\n", 1,
	    "invalid postmaster address \"root\": want local@domain");
	expect_error("postmaster \"<a@b.example>\"\n", 1,
	    "invalid postmaster address");
	expect_error("postmaster \"\"\n", 1, "invalid postmaster address");
	expect_error("postmaster\n", 1, "syntax error");
}

static void
test_units(void)
{
	struct conf	conf;

	CHECK(parse_text("limit message-size 512K\ntimeout idle 90\n"
	    "timeout session 1d\nqueue lifetime 30m\n", &conf) == 0);
	CHECK(conf.max_message_size == 512 * 1024);
	CHECK(conf.timeout_idle == 90);
	CHECK(conf.timeout_session == 86400);
	CHECK(conf.queue_lifetime == 1800);
	conf_clear(&conf);

	CHECK(parse_text("limit message-size 1G\nlimit message-size 4096\n",
	    &conf) == 0);
	CHECK(conf.max_message_size == 4096);
	conf_clear(&conf);

	CHECK(parse_text("limit message-size 1g\ntimeout idle 5M\n",
	    &conf) == 0);
	CHECK(conf.max_message_size == 1024 * 1024 * 1024);
	CHECK(conf.timeout_idle == 300);
	conf_clear(&conf);

	/* The default quota: unset unless said, 0 is unlimited. */
	CHECK(parse_text("", &conf) == 0);
	CHECK(conf.mailbox_quota == CONF_QUOTA_UNSET);
	conf_clear(&conf);
	CHECK(parse_text("limit mailbox-size 2G\n", &conf) == 0);
	CHECK(conf.mailbox_quota == 2048ULL * 1024 * 1024);
	conf_clear(&conf);
	CHECK(parse_text("limit mailbox-size 0\n", &conf) == 0);
	CHECK(conf.mailbox_quota == 0);
	conf_clear(&conf);
	CHECK(parse_text("limit mailbox-size 1G\nlimit mailbox-size none\n",
	    &conf) == 0);
	CHECK(conf.mailbox_quota == 0);
	conf_clear(&conf);
	expect_error("limit message-size none\n", 1,
	    "limit message-size: bad size");
	expect_error("limit mailbox-size lots\n", 1,
	    "limit mailbox-size: bad size");
	expect_error("limit mailbox-size 1048577G\n", 1,
	    "limit mailbox-size: 1048577G out of range");
}

static void
test_macros(void)
{
	struct conf		 conf;
	struct conf_listen	*l;
	struct conf_pki		*pki;

	CHECK(parse_text(
	    "etc = \"/etc/tsamba\"\n"
	    "tlsopts = \"tls pki mail\"\n"
	    "p = 2525\n"
	    "size=20M\n"
	    "pki mail cert \"$etc/c.pem\" key $etc/k.pem\n"
	    "listen on any port $p $tlsopts\n"
	    "limit message-size $size\n"
	    "p = 26\n"
	    "listen on localhost port $p\n"
	    "table users file \"$etc/users\\$x$\"\n"
	    "hostname \"mail.$host\"\n", &conf) == -1);
	/* $host is not defined: that is the only error. */
	CHECKF(strstr(errtext, "t.conf:11: macro \"host\" not defined")
	    != NULL && strchr(errtext, '\n') == strrchr(errtext, '\n'),
	    "%s", errtext);

	CHECK(parse_text(
	    "etc = \"/etc/tsamba\"\n"
	    "tlsopts = \"tls pki mail\"\n"
	    "p = 2525\n"
	    "size=20M\n"
	    "pki mail cert \"$etc/c.pem\" key $etc/k.pem\n"
	    "listen on any port $p $tlsopts\n"
	    "limit message-size $size\n"
	    "p = 26\n"
	    "listen on localhost port $p\n"
	    "table users file \"$etc/users\\$x$\"\n", &conf) == 0);
	CHECKF(errtext[0] == '\0', "%s", errtext);
	pki = conf_pki_find(&conf, "mail");
	CHECK(pki != NULL && strcmp(pki->cert, "/etc/tsamba/c.pem") == 0);
	CHECK(pki != NULL && strcmp(pki->key, "/etc/tsamba/k.pem") == 0);
	l = TAILQ_FIRST(&conf.listens);
	CHECK(l != NULL && l->port == 2525 && l->flags == LISTEN_TLS);
	CHECK(l != NULL && strcmp(l->pki, "mail") == 0);
	l = TAILQ_NEXT(l, entry);
	CHECK(l != NULL && l->port == 26);
	CHECK(conf.max_message_size == 20 * 1024 * 1024);
	CHECK(strcmp(conf.users.path, "/etc/tsamba/users$x$") == 0);
	conf_clear(&conf);
}

static void
test_strings(void)
{
	struct conf	 conf;
	struct conf_pki	*pki;

	CHECK(parse_text(
	    "pki \"a b\" cert \"/x\\\"y\\\\z # not a comment\" key \"/k\"\r\n"
	    "pki t cert \"/tab\\there\" key \"/spl\\\n"
	    "it\"\n"
	    "spool \\\n"
	    "   \"/s\" \\\n"
	    "\n", &conf) == 0);
	CHECKF(errtext[0] == '\0', "%s", errtext);
	pki = conf_pki_find(&conf, "a b");
	CHECK(pki != NULL &&
	    strcmp(pki->cert, "/x\"y\\z # not a comment") == 0);
	pki = conf_pki_find(&conf, "t");
	CHECK(pki != NULL && strcmp(pki->cert, "/tab\there") == 0);
	CHECK(pki != NULL && strcmp(pki->key, "/split") == 0);
	CHECK(strcmp(conf.spool, "/s") == 0);
	conf_clear(&conf);

	/* Line numbers count continued lines. */
	expect_error("spool \\\n\"/s\"\nbogus 1\n", 3,
	    "unknown keyword \"bogus\"");
	expect_error("pki a cert \"/a\\\nb\" key \"/b\"\n\"x\"\n", 3,
	    "syntax error");
}

static void
test_include(void)
{
	struct conf	conf;
	char		text[PATH_MAX + 64];

	put("inc1.conf", "hostname \"b.example\"\ninclude \"sub/inc2.conf\"\n"
	    "x = \"from-inc1\"");		/* no final newline */
	if (mkdir_sub() == -1)
		fail_setup("mkdir");
	put("sub/inc2.conf", "user vmail \"deep\"\n");
	CHECK(parse_text("hostname \"a.example\"\ninclude \"inc1.conf\"\n"
	    "user smtpd \"$x\"\n", &conf) == 0);
	CHECKF(errtext[0] == '\0', "%s", errtext);
	CHECK(strcmp(conf.hostname, "b.example") == 0);
	CHECK(strcmp(conf.user_vmail, "deep") == 0);
	CHECK(strcmp(conf.user_smtpd, "from-inc1") == 0);
	conf_clear(&conf);

	/* The include takes effect before the next line. */
	CHECK(parse_text("include \"inc1.conf\"\nhostname \"c.example\"\n",
	    &conf) == 0);
	CHECK(strcmp(conf.hostname, "c.example") == 0);
	conf_clear(&conf);

	/* Absolute path. */
	snprintf(text, sizeof(text), "include \"%s/sub/inc2.conf\"\n",
	    tmpdir);
	CHECK(parse_text(text, &conf) == 0);
	CHECK(strcmp(conf.user_vmail, "deep") == 0);
	conf_clear(&conf);

	/* An error inside an included file names that file and line. */
	put("bad.conf", "# comment\n\nlimit recipients 0\n");
	CHECK(parse_text("include \"bad.conf\"\n", &conf) == -1);
	snprintf(text, sizeof(text), "%s/bad.conf:3: limit recipients: 0 "
	    "out of range", tmpdir);
	CHECKF(strstr(errtext, text) != NULL, "%s", errtext);

	expect_error("\n\ninclude \"missing.conf\"\n", 3, "include ");
	CHECK(strstr(errtext, "No such file") != NULL);
	expect_error("include \"/dev/null\"\n", 1,
	    "include \"/dev/null\": not a regular file");

	/* A file that includes itself stops at the depth limit. */
	put("self.conf", "include \"self.conf\"\n");
	CHECK(parse(put("top.conf", "include \"self.conf\"\n"), &conf) == -1);
	CHECKF(strstr(errtext, "self.conf:1: include \"") != NULL &&
	    strstr(errtext, "nested too deep") != NULL, "%s", errtext);
}

static void
test_errors(void)
{
	struct conf	conf;
	char		want[PATH_MAX + 64];

	expect_error("hostname \"x\"\nfoo \"bar\"\n", 2,
	    "unknown keyword \"foo\"");
	expect_error("frobnicate\n", 1, "unknown keyword \"frobnicate\"");
	expect_error("listen on any prot 25\n", 1, "unknown keyword \"prot\"");
	expect_error("listen on any port 25 tls pki\n", 1,
	    "syntax error at end of line");
	expect_error("listen on any port", 1, "syntax error at end of file");
	expect_error("hostname\n", 1, "syntax error");
	expect_error("hostname \"x\" = \n", 1, "syntax error near '='");

	expect_error("listen on any tls pki mail\n", 1,
	    "pki \"mail\" not defined");
	expect_error("listen on any tls\n", 1,
	    "tls, tls-require and smtps need a pki");
	expect_error("listen on any smtps\n", 1,
	    "tls, tls-require and smtps need a pki");
	expect_error("pki m cert \"/c\" key \"/k\"\n"
	    "listen on any smtps tls pki m\n", 2,
	    "smtps cannot be combined with tls or tls-require");
	expect_error("pki m cert \"/c\" key \"/k\"\nlisten on any pki m\n", 2,
	    "pki given without tls");
	expect_error("pki m cert \"/c\" key \"/k\"\n"
	    "pki m cert \"/c\" key \"/k\"\n", 2, "pki \"m\" defined twice");
	expect_error("pki m cert \"/c\"\n", 1,
	    "pki \"m\" needs both cert and key");
	expect_error("pki m cert \"c\" key \"/k\"\n", 1,
	    "pki \"m\": cert and key must be absolute paths");
	expect_error("\nuser bogus \"x\"\n", 2,
	    "unknown user kind \"bogus\"");
	expect_error("table users sql \"/x\"\n", 1,
	    "unknown table backend \"sql\"");
	expect_error("table bla file \"/x\"\n", 1, "unknown table \"bla\"");
	expect_error("table users file \"x\"\n", 1,
	    "table path must be absolute");

	expect_error("listen on 1.2.3.999\n", 1,
	    "bad address \"1.2.3.999\"");
	expect_error("listen on mail.example.org\n", 1,
	    "bad address \"mail.example.org\"");
	expect_error("listen on any port 65536\n", 1,
	    "port 65536 out of range (1 to 65535)");
	expect_error("listen on any port 0\n", 1, "port 0 out of range");
	expect_error("listen on any port -1\n", 1, "port -1 out of range");
	expect_error("listen on any port 25x\n", 1, "bad port \"25x\"");
	expect_error("listen on any port 25 port 26\n", 1,
	    "port given twice");
	expect_error("listen on any auth auth\n", 1, "auth given twice");
	expect_error("listen on any\nlisten on any port 25\n", 2,
	    "listen on any port 25 given twice");
	expect_error("lmtp listen on any port 24 tls\n", 1,
	    "an lmtp listener takes only a port");

	expect_error("limit recipients 0\n", 1,
	    "limit recipients: 0 out of range (1 to 10000)");
	expect_error("limit message-size 2G\n", 1,
	    "limit message-size: 2G out of range");
	expect_error("limit message-size 10X\n", 1,
	    "limit message-size: bad size \"10X\"");
	expect_error("limit line-length 100\n", 1,
	    "limit line-length: 100 out of range (512 to 65536)");
	expect_error("limit line-length 1K\n", 1,
	    "limit line-length: bad number \"1K\"");
	expect_error("timeout idle 2y\n", 1, "timeout idle: bad time \"2y\"");
	expect_error("timeout idle 0\n", 1, "timeout idle: 0 out of range");
	expect_error("limit bogus 1\n", 1, "unknown limit \"bogus\"");
	expect_error("timeout bogus 1\n", 1, "unknown timeout \"bogus\"");
	expect_error("queue bogus 1\n", 1, "unknown queue \"bogus\"");
	expect_error("limit sessions 99999999999999999999999\n", 1,
	    "number out of range");
	expect_error("limit message-size 99999999999999999G\n", 1,
	    "limit message-size: bad size \"99999999999999999G\"");

	expect_error("hostname \"a b\"\n", 1, "invalid hostname \"a b\"");
	expect_error("rundir \"relative\"\n", 1,
	    "rundir must be an absolute path");
	expect_error("rundir \"/a/very/long/run/directory/that/leaves/no/room"
	    "/for/the/socket/names/of/the/daemons/at/all/xxxxxxxx\"\n", 1,
	    "rundir too long for UNIX sockets");
	expect_error("spool \"unterminated\n", 1,
	    "unterminated quoted string");
	expect_error("spool \"/a\\qb\"\n", 1, "unknown escape");
	expect_error("spool $nope\n", 1, "macro \"nope\" not defined");
	expect_error("spool \"$nope/x\"\n", 1, "macro \"nope\" not defined");
	expect_error("a = \"$a\"\n", 1, "macro \"a\" not defined");
	expect_error("a = \"$\"\nspool $a\n", 2,
	    "'$' not followed by a macro name");
	expect_error("l = \"$l $l\"\n", 1, "macro \"l\" not defined");
	/* Values are expanded when defined; only \$ can make a loop. */
	expect_error("a = \"\\$a\"\nspool $a\n", 2,
	    "too many macro expansions");
	expect_error("x = \"a\nb\"\n", 1, "unterminated");
	expect_error("x = \"a\\nb\"\n", 1,
	    "macro \"x\" contains a newline");
	expect_error("\"1x\" = \"v\"\n", 1, "invalid macro name \"1x\"");
	expect_error("hostname \"x\"\nspool \"/s\" \x01\n", 2,
	    "unexpected byte 0x01");
	expect_error("spool \"/s\" ;\n", 1, "unexpected character ';'");
	/* A NUL byte does not end the file early. */
	CHECK(parse(put_bytes("nul.conf", "spool \"/s\"\n\0\nbogus\n", 19),
	    &conf) == -1);
	CHECKF(strstr(errtext, "nul.conf:2: unexpected byte 0x00") != NULL &&
	    strstr(errtext, "nul.conf:3: unknown keyword \"bogus\"") != NULL,
	    "%s", errtext);
	CHECK(parse_text("queue retry-min 2h\n", &conf) == -1);
	snprintf(want, sizeof(want), "%s/t.conf: queue retry-min (7200s) is "
	    "longer than retry-max (3600s)", tmpdir);
	CHECKF(strstr(errtext, want) != NULL, "%s", errtext);
	CHECK(parse_text("queue retry-min 2h\nqueue retry-max 3h\n",
	    &conf) == 0);
	conf_clear(&conf);

	/* After 25 errors the parser gives up. */
	expect_error("x\nx\nx\nx\nx\nx\nx\nx\nx\nx\nx\nx\nx\nx\nx\nx\nx\nx\n"
	    "x\nx\nx\nx\nx\nx\nx\nx\nx\nx\nx\nx\n", 25,
	    "too many errors, giving up");

	snprintf(want, sizeof(want), "%s/nonexistent.conf", tmpdir);
	CHECK(parse(want, &conf) == -1);
	CHECKF(strstr(errtext, "nonexistent.conf: No such file") != NULL,
	    "%s", errtext);
}

/* Static state of one parse must not leak into the next. */
static void
test_reparse(void)
{
	struct conf	conf;

	CHECK(parse_text("a = \"x\"\nspool \"/unterminated\n", &conf) == -1);
	CHECK(parse_text("spool $a\n", &conf) == -1);	/* macro gone */
	CHECK(parse_text("spool \"/ok\"\n", &conf) == 0);
	CHECK(strcmp(conf.spool, "/ok") == 0);
	CHECKF(errtext[0] == '\0', "%s", errtext);
	conf_clear(&conf);
	CHECK(parse_text("spool \"/again\"\n", &conf) == 0);
	CHECK(strcmp(conf.spool, "/again") == 0);
	conf_clear(&conf);
}

static void
test_sample(void)
{
	struct conf	conf;
	const char	*srcdir = getenv("TSAMBA_SRCDIR");
	char		path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/etc/tsamba.conf",
	    srcdir != NULL ? srcdir : ".");
	if (access(path, R_OK) == -1)
		return;
	CHECKF(parse(path, &conf) == 0, "%s", errtext);
	CHECK(!TAILQ_EMPTY(&conf.listens));
	conf_clear(&conf);
}

static int
net_match(struct conf *conf, const char *ip)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, ip, &sin->sin_addr) == 1)
		sin->sin_family = AF_INET;
	else if (inet_pton(AF_INET6, ip, &sin6->sin6_addr) == 1)
		sin6->sin6_family = AF_INET6;
	else
		return -1;
	return conf_net_match(&conf->ban_never, (struct sockaddr *)&ss);
}

/* Tables on MariaDB, the state directory, bans and hide-client. */
static void
test_auth(void)
{
	struct conf		 conf;
	struct conf_net		*n;
	struct conf_listen	*l;
	char			 buf[PATH_MAX];
	int			 count = 0;

	CHECK(parse_text(
	    "table domains mysql \"/etc/tsamba/mysql.conf\"\n"
	    "table users mysql \"/etc/tsamba/mysql.conf\"\n"
	    "table aliases file \"/etc/tsamba/aliases\"\n"
	    "statedir \"/srv/state\"\n"
	    "ban max-failures 3\n"
	    "ban window 2m\n"
	    "ban duration 1d\n"
	    "ban never \"10.0.0.0/8\"\n"
	    "ban never 192.0.2.77\n"
	    "ban never \"2001:db8:abcd::/48\"\n"
	    "ban never 172.16.5.9/12\n"
	    "ban never ::1\n"
	    "listen on any port 25 hide-client\n"
	    "listen on any port 26 auth hide-client\n", &conf) == 0);
	CHECKF(errtext[0] == '\0', "%s", errtext);
	CHECK(conf.domains.backend == TABLE_MYSQL);
	CHECK(strcmp(conf.domains.path, "/etc/tsamba/mysql.conf") == 0);
	CHECK(conf.users.backend == TABLE_MYSQL);
	CHECK(conf.aliases.backend == TABLE_FILE);
	CHECK(strcmp(conf.statedir, "/srv/state") == 0);
	CHECK(conf.ban_max_failures == 3);
	CHECK(conf.ban_window == 120);
	CHECK(conf.ban_duration == 86400);
	TAILQ_FOREACH(n, &conf.ban_never, entry)
		count++;
	CHECK(count == 5);
	n = TAILQ_FIRST(&conf.ban_never);
	CHECK(n->prefixlen == 8 && strcmp(n->text, "10.0.0.0/8") == 0);
	n = TAILQ_NEXT(n, entry);
	CHECK(n->prefixlen == 32);
	CHECK(net_match(&conf, "10.1.2.3") == 1);
	CHECK(net_match(&conf, "11.0.0.1") == 0);
	CHECK(net_match(&conf, "192.0.2.77") == 1);
	CHECK(net_match(&conf, "192.0.2.78") == 0);
	CHECK(net_match(&conf, "172.31.255.255") == 1);	/* host bits */
	CHECK(net_match(&conf, "172.32.0.0") == 0);
	CHECK(net_match(&conf, "2001:db8:abcd:1::5") == 1);
	CHECK(net_match(&conf, "2001:db8:abce::5") == 0);
	CHECK(net_match(&conf, "::1") == 1);
	CHECK(net_match(&conf, "::2") == 0);
	CHECK(net_match(&conf, "::ffff:10.9.9.9") == 1);	/* mapped */
	CHECK(net_match(&conf, "::ffff:11.9.9.9") == 0);
	l = TAILQ_FIRST(&conf.listens);
	CHECK(l->flags == LISTEN_HIDE_CLIENT);
	l = TAILQ_NEXT(l, entry);
	CHECK(l->flags == (LISTEN_AUTH | LISTEN_HIDE_CLIENT));
	conf_sockpath(&conf, "authd.control.sock", buf, sizeof(buf));
	CHECK(strcmp(buf, "/run/tsamba/authd.control.sock") == 0);
	conf_clear(&conf);
	CHECK(TAILQ_EMPTY(&conf.ban_never));

	CHECK(parse_text("ban never 0.0.0.0/0\n", &conf) == 0);
	CHECK(net_match(&conf, "203.0.113.1") == 1);
	CHECK(net_match(&conf, "2001:db8::1") == 0);
	conf_clear(&conf);
	CHECK(parse_text("ban never ::/0\n", &conf) == 0);
	CHECK(net_match(&conf, "2001:db8::1") == 1);
	conf_clear(&conf);

	/* Failures counted per network: both families, either alone. */
	CHECK(parse_text("ban prefix ipv4 24 ipv6 48\n", &conf) == 0);
	CHECK(conf.ban_prefix4 == 24 && conf.ban_prefix6 == 48);
	conf_clear(&conf);
	CHECK(parse_text("ban prefix ipv6 128\n", &conf) == 0);
	CHECK(conf.ban_prefix4 == 32 && conf.ban_prefix6 == 128);
	conf_clear(&conf);
	expect_error("ban prefix ipv6 8\n", 1, "ban prefix: expected "
	    "\"ipv4 LEN\" (8 to 32) or \"ipv6 LEN\" (16 to 128), got "
	    "\"ipv6 8\"");
	expect_error("ban prefix ipv5 24\n", 1, "ban prefix: expected "
	    "\"ipv4 LEN\" (8 to 32) or \"ipv6 LEN\" (16 to 128), got "
	    "\"ipv5 24\"");
	expect_error("ban prefixes ipv4 24\n", 1, "unknown ban \"prefixes\"");

	expect_error("table users ldap \"/x\"\n", 1,
	    "unknown table backend \"ldap\" (file or mysql)");
	expect_error("table users mysql \"rel.conf\"\n", 1,
	    "table path must be absolute");
	expect_error("statedir \"rel\"\n", 1,
	    "statedir must be an absolute path");
	expect_error("ban max-failures 0\n", 1,
	    "ban max-failures: 0 out of range (1 to 1000)");
	expect_error("ban window 10x\n", 1, "ban window: bad time \"10x\"");
	expect_error("ban duration 0\n", 1, "ban duration: 0 out of range");
	expect_error("ban forever 1\n", 1, "unknown ban \"forever\"");
	expect_error("ban never \"10.0.0.0/33\"\n", 1,
	    "ban never: bad network \"10.0.0.0/33\"");
	expect_error("ban never \"::/129\"\n", 1,
	    "ban never: bad network \"::/129\"");
	expect_error("ban never \"mail.example.org\"\n", 1,
	    "ban never: bad network");
	expect_error("ban never \"10.0.0.0/\"\n", 1,
	    "ban never: bad network");
	expect_error("ban never \"/8\"\n", 1, "ban never: bad network");
	expect_error("ban never 10.0.0.0/x\n", 1, "ban never: bad network");
	expect_error("listen on any hide-client hide-client\n", 1,
	    "hide-client given twice");
	expect_error("ban never\n", 1, "syntax error");
}

/* Outbound delivery: the mta, the relay host and DKIM keys (issue 4). */
static void
test_mta(void)
{
	struct conf		 conf;
	struct conf_domain	*d;
	struct conf_dkim	*k;

	CHECK(parse_text("hostname \"x\"\n", &conf) == 0);
	CHECK(conf.mta_resolver[0] == '\0');
	CHECK(conf.mta_port == 25);
	CHECK(conf.mta_max_conns == 100);
	CHECK(conf.mta_max_conns_domain == 10);
	CHECK(TAILQ_EMPTY(&conf.mta_tls_verify));
	CHECK(conf.relay.host[0] == '\0');
	CHECK(TAILQ_EMPTY(&conf.dkims));
	conf_clear(&conf);

	CHECK(parse_text(
	    "mta resolver \"127.0.0.1@5353\"\n"
	    "mta port 2525\n"
	    "mta max-connections 20\n"
	    "mta max-connections-per-domain 3\n"
	    "mta tls verify domain \"Example.COM\"\n"
	    "mta tls verify domain \"example.net\"\n"
	    "relay host \"smtp.example.net\" port 587 starttls "
	    "auth \"/etc/tsamba/relay.secret\"\n"
	    "dkim domain \"Example.org\" selector \"s2024\" "
	    "key \"/etc/tsamba/dkim/example.org.rsa\"\n"
	    "dkim domain \"example.org\" selector \"ed\" "
	    "key \"/etc/tsamba/dkim/example.org.ed\" ed25519\n", &conf) == 0);
	CHECKF(errtext[0] == '\0', "%s", errtext);
	CHECK(strcmp(conf.mta_resolver, "127.0.0.1@5353") == 0);
	CHECK(conf.mta_port == 2525);
	CHECK(conf.mta_max_conns == 20);
	CHECK(conf.mta_max_conns_domain == 3);
	d = TAILQ_FIRST(&conf.mta_tls_verify);
	CHECK(d != NULL && strcmp(d->name, "example.com") == 0);
	d = d != NULL ? TAILQ_NEXT(d, entry) : NULL;
	CHECK(d != NULL && strcmp(d->name, "example.net") == 0);
	CHECK(strcmp(conf.relay.host, "smtp.example.net") == 0);
	CHECK(conf.relay.port == 587);
	CHECK(conf.relay.tls == RELAY_STARTTLS);
	CHECK(strcmp(conf.relay.secret, "/etc/tsamba/relay.secret") == 0);
	k = TAILQ_FIRST(&conf.dkims);
	CHECK(k != NULL && strcmp(k->domain, "example.org") == 0 &&
	    strcmp(k->selector, "s2024") == 0 &&
	    strcmp(k->key, "/etc/tsamba/dkim/example.org.rsa") == 0 &&
	    k->algorithm == DKIM_RSA);
	k = k != NULL ? TAILQ_NEXT(k, entry) : NULL;
	CHECK(k != NULL && strcmp(k->selector, "ed") == 0 &&
	    k->algorithm == DKIM_ED25519);
	conf_clear(&conf);
	CHECK(TAILQ_EMPTY(&conf.mta_tls_verify) && TAILQ_EMPTY(&conf.dkims));

	/* Relay defaults: STARTTLS on 25, 465 for smtps. */
	CHECK(parse_text("relay host \"192.0.2.1\"\n", &conf) == 0);
	CHECK(conf.relay.port == 25 && conf.relay.tls == RELAY_STARTTLS &&
	    conf.relay.secret[0] == '\0');
	conf_clear(&conf);
	CHECK(parse_text("relay host \"2001:db8::25\" smtps\n", &conf) == 0);
	CHECK(conf.relay.port == 465 && conf.relay.tls == RELAY_SMTPS);
	conf_clear(&conf);
	CHECK(parse_text("mta resolver \"::1\"\n", &conf) == 0);
	CHECK(strcmp(conf.mta_resolver, "::1") == 0);
	conf_clear(&conf);

	expect_error("mta resolver \"dns.example.org\"\n", 1,
	    "mta resolver: bad address \"dns.example.org\"");
	expect_error("mta resolver \"127.0.0.1@0\"\n", 1,
	    "mta resolver: bad address");
	expect_error("mta resolver \"127.0.0.1@70000\"\n", 1,
	    "mta resolver: bad address");
	expect_error("mta port 0\n", 1, "mta port 0 out of range");
	expect_error("mta max-connections 0\n", 1,
	    "mta max-connections: 0 out of range (1 to 10000)");
	expect_error("mta max-connections-per-domain x\n", 1,
	    "mta max-connections-per-domain: bad number \"x\"");
	expect_error("mta frobs 1\n", 1, "unknown mta \"frobs\"");
	expect_error("mta tls verify host \"a.b\"\n", 1,
	    "mta tls: expected \"verify domain NAME\"");
	expect_error("mta tls verify domain \"a..b\"\n", 1,
	    "mta tls verify: bad domain \"a..b\"");
	expect_error("mta tls verify domain \"a.b\"\n"
	    "mta tls verify domain \"A.B\"\n", 2,
	    "mta tls verify domain \"A.B\" given twice");
	expect_error("relay host \"a.b\"\nrelay host \"c.d\"\n", 2,
	    "relay host given twice");
	expect_error("relay host \"a b\"\n", 1, "relay: bad host \"a b\"");
	expect_error("relay server \"a.b\"\n", 1,
	    "relay: expected \"host NAME\"");
	expect_error("relay host \"a.b\" port 0\n", 1,
	    "relay port 0 out of range");
	expect_error("relay host \"a.b\" port 25 port 26\n", 1,
	    "relay port given twice");
	expect_error("relay host \"a.b\" smtps starttls\n", 1,
	    "relay: smtps or starttls given twice");
	expect_error("relay host \"a.b\" tls\n", 1, "syntax error");
	expect_error("relay host \"a.b\" plain\n", 1,
	    "unknown relay option \"plain\"");
	expect_error("relay host \"a.b\" auth \"secret\"\n", 1,
	    "relay auth: secret file must be an absolute path");
	expect_error("dkim domain \"a.b\" selector \"s\" key \"k\"\n", 1,
	    "dkim: key must be an absolute path: \"k\"");
	expect_error("dkim domain \"a.b\" selector \"s\" key \"/k\" dsa\n", 1,
	    "dkim: unknown algorithm \"dsa\" (rsa or ed25519)");
	expect_error("dkim domain \"a..b\" selector \"s\" key \"/k\"\n", 1,
	    "dkim: bad domain \"a..b\"");
	expect_error("dkim domain \"a.b\" selector \"s/x\" key \"/k\"\n", 1,
	    "dkim: bad selector \"s/x\"");
	expect_error("dkim name \"a.b\" selector \"s\" key \"/k\"\n", 1,
	    "dkim: expected \"domain D selector S key FILE\"");
	expect_error("dkim domain \"a.b\" selector \"s\" key \"/k\"\n"
	    "dkim domain \"A.b\" selector \"s\" key \"/k2\" ed25519\n", 2,
	    "dkim domain \"A.b\" selector \"s\" given twice");
	expect_error("dkim domain \"a.b\" selector \"s\"\n", 1,
	    "syntax error");
}

/* "tls ciphers" and a listener's own "ciphers", checked by libtls. */
static void
test_ciphers(void)
{
	struct conf		 conf;
	struct conf_listen	*l;
	struct conf_pki		*pki;

	CHECK(parse_text("", &conf) == 0);
	CHECK(strcmp(conf.tls_ciphers, TLS_CIPHERS_DEFAULT) == 0);
	conf_clear(&conf);
	CHECK(parse_text("tls ciphers \"compat\"\n"
	    "pki p cert \"/c\" key \"/k\"\n"
	    "listen on any port 25 tls pki p ciphers \"AES128-SHA\"\n"
	    "listen on any port 465 smtps pki p\n", &conf) == 0);
	CHECK(strcmp(conf.tls_ciphers, "compat") == 0);
	l = TAILQ_FIRST(&conf.listens);
	CHECK(l != NULL && strcmp(l->ciphers, "AES128-SHA") == 0);
	l = TAILQ_NEXT(l, entry);
	CHECK(l != NULL && l->ciphers[0] == '\0');
	/* The pki remembers where it was defined, for later checks. */
	pki = TAILQ_FIRST(&conf.pkis);
	CHECK(pki != NULL && pki->line == 2 &&
	    strstr(pki->file, "t.conf") != NULL);
	conf_clear(&conf);

	expect_error("tls ciphers \"NO-SUCH-SUITE\"\n", 1,
	    "tls ciphers \"NO-SUCH-SUITE\": ");
	expect_error("listen on any ciphers \"compat\"\n", 1,
	    "ciphers given without tls, tls-require or smtps");
	expect_error("pki p cert \"/c\" key \"/k\"\n"
	    "listen on any tls pki p ciphers \"compat\" ciphers \"secure\"\n",
	    2,
	    "ciphers given twice");
}

/* metrics listen: tsamba-metricsd's endpoints and user. */
static void
test_metrics(void)
{
	struct conf		 conf;
	struct conf_listen	*l;

	CHECK(parse_text("", &conf) == 0);
	CHECK(TAILQ_EMPTY(&conf.metrics_listens));
	CHECK(strcmp(conf.user_metrics, "_tsambamet") == 0);
	conf_clear(&conf);

	CHECK(parse_text("metrics listen on 127.0.0.1 port 9999\n"
	    "metrics listen on ::1\n"
	    "user metrics \"nobody\"\n", &conf) == 0);
	l = TAILQ_FIRST(&conf.metrics_listens);
	CHECK(l != NULL && l->port == 9999 && strcmp(l->addr, "127.0.0.1") ==
	    0);
	l = l != NULL ? TAILQ_NEXT(l, entry) : NULL;
	CHECK(l != NULL && l->port == 9154 && l->ss.ss_family == AF_INET6);
	CHECK(strcmp(conf.user_metrics, "nobody") == 0);
	/* Not an SMTP listener. */
	CHECK(TAILQ_EMPTY(&conf.listens));
	conf_clear(&conf);

	expect_error("metrics listen on 127.0.0.1 tls\n", 1,
	    "a metrics listener takes only a port");
	expect_error("metrics listen on 127.0.0.1\n"
	    "metrics listen on 127.0.0.1 port 9154\n", 2,
	    "listen on 127.0.0.1 port 9154 given twice");
}

/* The inbound checks: listener flags, check statements, their errors. */
static void
test_checks(void)
{
	struct conf		 conf;
	struct conf_listen	*cl;

	CHECK(parse_text("listen on 127.0.0.1 port 25\n", &conf) == 0);
	CHECK(conf.check_tempfail == CHECK_TEMPFAIL_ACCEPT);
	CHECK(conf.check_dmarc_reject == CHECK_DMARC_REJECT);
	CHECK(conf.grey_delay == 300 && conf.grey_retry == 4 * 3600);
	CHECK(conf.grey_expire == 36 * 24 * 3600);
	CHECK(strcmp(conf.check_psl,
	    "/usr/share/publicsuffix/public_suffix_list.dat") == 0);
	CHECK((TAILQ_FIRST(&conf.listens)->flags & (LISTEN_CHECKS |
	    LISTEN_DNSBL | LISTEN_GREYLIST)) == 0);
	conf_clear(&conf);

	CHECK(parse_text(
	    "listen on 127.0.0.1 port 25 spf dkim dmarc dnsbl greylist\n"
	    "check resolver \"127.0.0.1@5353\"\n"
	    "check psl \"/p.dat\"\n"
	    "check on-tempfail tempfail\n"
	    "check dmarc-reject quarantine\n"
	    "check received-spf yes\n"
	    "check dnsbl \"zen.spamhaus.org=127.0.0.2,127.0.0.4\"\n"
	    "check dnsbl \"bl.example\"\n"
	    "check dnswl \"list.dnswl.org\"\n"
	    "check greylist-delay 2s\n"
	    "check greylist-retry 1h\n"
	    "check greylist-expire 7d\n", &conf) == 0);
	CHECKF(errtext[0] == '\0', "%s", errtext);
	cl = TAILQ_FIRST(&conf.listens);
	CHECK((cl->flags & (LISTEN_SPF | LISTEN_DKIM | LISTEN_DMARC |
	    LISTEN_DNSBL | LISTEN_GREYLIST)) == (LISTEN_SPF | LISTEN_DKIM |
	    LISTEN_DMARC | LISTEN_DNSBL | LISTEN_GREYLIST));
	CHECK(strcmp(conf.check_resolver, "127.0.0.1@5353") == 0);
	CHECK(strcmp(conf.check_psl, "/p.dat") == 0);
	CHECK(conf.check_tempfail == CHECK_TEMPFAIL_DEFER);
	CHECK(conf.check_dmarc_reject == CHECK_DMARC_QUARANTINE);
	CHECK(conf.check_received_spf == 1);
	CHECK(conf.ndnsbl == 2 && conf.ndnswl == 1);
	CHECK(strcmp(conf.dnsbl[0].zone, "zen.spamhaus.org") == 0);
	CHECK(conf.dnsbl[0].ncodes == 2 && conf.dnsbl[1].ncodes == 0);
	CHECK(conf.dnsbl[0].codes[1].s_addr == htonl(0x7f000004));
	CHECK(strcmp(conf.dnswl[0].zone, "list.dnswl.org") == 0);
	CHECK(conf.grey_delay == 2 && conf.grey_retry == 3600);
	CHECK(conf.grey_expire == 7 * 24 * 3600);
	conf_clear(&conf);

	expect_error("check on-tempfail maybe\n", 1, "check on-tempfail: "
	    "\"maybe\" is not accept or tempfail");
	expect_error("check dmarc-reject drop\n", 1, "check dmarc-reject: "
	    "\"drop\" is not reject, quarantine or none");
	expect_error("check dnsbl \"bl.example=1.2.3\"\n", 1, "check dnsbl "
	    "bl.example: bad or too many answer codes (at most 8 IPv4 "
	    "addresses)");
	expect_error("check greylist-delay soon\n", 1, "check greylist-delay: "
	    "bad time \"soon\" (0 to 366d)");
	expect_error("check bogus 1\n", 1, "unknown check \"bogus\" "
	    "(resolver, psl, on-tempfail, dmarc-reject, received-spf, dnsbl, "
	    "dnswl, iprev-fail, dnsbl-at)");
	expect_error("listen on 127.0.0.1 spf spf\n", 1, "spf given twice");

	/* A listener's own check settings override the global ones. */
	CHECK(parse_text("listen on 127.0.0.1 port 25 spf dkim dmarc iprev "
	    "dmarc-reject quarantine on-tempfail accept iprev-fail reject "
	    "dnsbl-at rcpt\n"
	    "listen on 127.0.0.1 port 26 spf\n"
	    "check on-tempfail tempfail\n"
	    "check iprev-fail tempfail\n", &conf) == 0);
	CHECKF(errtext[0] == '\0', "%s", errtext);
	cl = TAILQ_FIRST(&conf.listens);
	CHECK(cl->flags & LISTEN_IPREV);
	CHECK(CONF_CHECK(cl, &conf, check_dmarc_reject) ==
	    CHECK_DMARC_QUARANTINE);
	CHECK(CONF_CHECK(cl, &conf, check_tempfail) == CHECK_TEMPFAIL_ACCEPT);
	CHECK(CONF_CHECK(cl, &conf, check_iprev) == CHECK_IPREV_REJECT);
	CHECK(CONF_CHECK(cl, &conf, check_dnsbl_at) == CHECK_DNSBL_RCPT);
	cl = TAILQ_NEXT(cl, entry);
	CHECK(CONF_CHECK(cl, &conf, check_dmarc_reject) == CHECK_DMARC_REJECT);
	CHECK(CONF_CHECK(cl, &conf, check_tempfail) == CHECK_TEMPFAIL_DEFER);
	CHECK(CONF_CHECK(cl, &conf, check_iprev) == CHECK_IPREV_TEMPFAIL);
	CHECK(CONF_CHECK(cl, &conf, check_dnsbl_at) == CHECK_DNSBL_CONNECT);
	conf_clear(&conf);
	expect_error("listen on 127.0.0.1 dmarc-reject drop\n", 1,
	    "check dmarc-reject: \"drop\" is not reject, quarantine or none");
	expect_error("listen on 127.0.0.1 dnsbl-at rcpt dnsbl-at connect\n", 1,
	    "dnsbl-at given twice");
	expect_error("imap listen on 127.0.0.1 plaintext on-tempfail accept\n",
	    1, "check settings are for smtp listeners");
	expect_error("check iprev-fail maybe\n", 1, "check iprev-fail: "
	    "\"maybe\" is not log, tempfail or reject");
}

/* imap listen / pop3 listen: default ports, implicit TLS, plaintext. */
static void
test_imap(void)
{
	struct conf		 conf;
	struct conf_listen	*l;

	CHECK(parse_text("pki p cert \"/c\" key \"/k\"\n"
	    "imap listen on any tls pki p\n"
	    "imap listen on any imaps pki p\n"
	    "imap listen on localhost port 1143 plaintext\n"
	    "pop3 listen on any tls-require pki p plaintext\n"
	    "pop3 listen on any pop3s pki p\n"
	    "limit imap-sessions-per-user 3\ntimeout imap-idle 31m\n",
	    &conf) == 0);
	CHECK(TAILQ_EMPTY(&conf.listens));
	l = TAILQ_FIRST(&conf.imap_listens);
	CHECK(l != NULL && l->port == 143 && (l->flags & LISTEN_TLS) &&
	    strcmp(l->pki, "p") == 0);
	l = TAILQ_NEXT(l, entry);
	CHECK(l != NULL && l->port == 993 && (l->flags & LISTEN_IMPLICIT));
	l = TAILQ_NEXT(l, entry);
	CHECK(l != NULL && l->port == 1143 && l->flags == LISTEN_PLAINTEXT);
	l = TAILQ_FIRST(&conf.pop3_listens);
	/* tls-require wins over plaintext. */
	CHECK(l != NULL && l->port == 110 && (l->flags & LISTEN_TLS_REQUIRE) &&
	    !(l->flags & LISTEN_PLAINTEXT));
	l = TAILQ_NEXT(l, entry);
	CHECK(l != NULL && l->port == 995 && (l->flags & LISTEN_IMPLICIT));
	CHECK(conf.imap_max_per_user == 3);
	CHECK(conf.imap_timeout_idle == 31 * 60);
	CHECK(conf.imap_max_per_ip == 20);
	conf_clear(&conf);

	expect_error("imap listen on any\n", 1,
	    "an imap listener without tls or imaps allows no login");
	expect_error("pki p cert \"/c\" key \"/k\"\n"
	    "imap listen on any smtps pki p\n", 2,
	    "smtps on an imap listener");
	expect_error("pki p cert \"/c\" key \"/k\"\n"
	    "listen on any pop3s pki p\n", 2, "pop3s on an smtp listener");
	expect_error("listen on any plaintext\n", 1,
	    "plaintext is for imap and pop3 listeners");
	expect_error("imap listen on any plaintext auth\n", 1,
	    "auth and hide-client are for smtp listeners");
	expect_error("imap listen on any imaps\n", 1,
	    "tls, tls-require and imaps need a pki");
	expect_error("pki p cert \"/c\" key \"/k\"\n"
	    "pop3 listen on any pop3s pop3s pki p\n", 2,
	    "pop3s given twice");
}

static void
test_milters(void)
{
	struct conf		 conf;
	struct conf_milter	*m;
	struct conf_listen	*l;
	struct sockaddr_in	*sin;

	CHECK(parse_text(
	    "milter \"rspamd\" on \"inet:127.0.0.1:11332\" timeout 30s "
	    "on-failure accept\n"
	    "milter \"clam\" on \"unix:/run/clamav/milter.sock\"\n"
	    "milter \"v6\" on \"inet6:[::1]:8891\"\n"
	    "listen on localhost port 25 milter \"rspamd\" milter \"clam\"\n"
	    "listen on localhost port 587 auth milter \"rspamd\" "
	    "milter-auth\n", &conf) == 0);
	m = TAILQ_FIRST(&conf.milters);
	CHECK(m != NULL && strcmp(m->name, "rspamd") == 0);
	CHECK(m != NULL && m->timeout == 30 &&
	    m->on_failure == MILTER_FAIL_ACCEPT);
	sin = (struct sockaddr_in *)&m->ss;
	CHECK(m != NULL && sin->sin_family == AF_INET &&
	    ntohs(sin->sin_port) == 11332);
	m = TAILQ_NEXT(m, entry);
	CHECK(m != NULL && m->ss.ss_family == AF_UNIX && m->timeout == 10 &&
	    m->on_failure == MILTER_FAIL_TEMPFAIL);
	m = TAILQ_NEXT(m, entry);
	CHECK(m != NULL && m->ss.ss_family == AF_INET6);
	l = TAILQ_FIRST(&conf.listens);
	CHECK(l != NULL && l->nmilters == 2 &&
	    strcmp(l->milters[0]->name, "rspamd") == 0 &&
	    strcmp(l->milters[1]->name, "clam") == 0 &&
	    !(l->flags & LISTEN_MILTER_AUTH));
	l = TAILQ_NEXT(l, entry);
	CHECK(l != NULL && l->nmilters == 1 &&
	    (l->flags & LISTEN_MILTER_AUTH));
	conf_clear(&conf);

	expect_error("listen on localhost milter \"x\"\n", 1,
	    "milter \"x\" not defined");
	expect_error("milter \"a\" on \"inet:mx.example.org:25\"\n", 1,
	    "bad milter address \"inet:mx.example.org:25\"");
	expect_error("milter \"a\" on \"tcp:1\"\n", 1,
	    "bad milter address");
	expect_error("milter \"a\" on \"unix:relative\"\n", 1,
	    "bad milter address");
	expect_error("milter \"a\" on \"inet:127.0.0.1:1\" on-failure "
	    "reject\n", 1, "on-failure \"reject\": tempfail or accept");
	expect_error("milter \"a\" on \"inet:127.0.0.1:1\" timeout 2h\n",
	    1, "bad milter timeout");
	expect_error("milter \"a\" on \"inet:127.0.0.1:1\"\n"
	    "milter \"a\" on \"inet:127.0.0.1:2\"\n", 2,
	    "milter \"a\" defined twice");
	expect_error("milter \"a\" on \"inet:127.0.0.1:1\"\n"
	    "listen on localhost milter \"a\" milter \"a\"\n", 2,
	    "milter \"a\" given twice");
}

int
main(void)
{
	char	cmd[PATH_MAX + 16];

	snprintf(tmpdir, sizeof(tmpdir), "%s/test_conf.XXXXXX",
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(tmpdir) == NULL)
		fail_setup("mkdtemp");

	test_defaults();
	test_full();
	test_derived();
	test_roles();
	test_postmaster();
	test_units();
	test_macros();
	test_strings();
	test_include();
	test_errors();
	test_reparse();
	test_sample();
	test_auth();
	test_mta();
	test_ciphers();
	test_metrics();
	test_checks();
	test_milters();
	test_imap();

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", tmpdir);
	return unit_done("test_conf");
}
