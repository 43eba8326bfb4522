/*
 * Unit tests for imapd/uidlist.c and imapd/dotlock.c: Dovecot's
 * dovecot-uidlist as Dovecot 2.3 writes it (records appended after a
 * stale header, extension fields), lookups by unique part whatever the
 * flags, new UIDs in Dovecot's order, append versus rewrite on disk,
 * the dot-lock (held, stale, dead owner), UIDVALIDITY for new folders,
 * and POP3 UIDLs.
 */

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dotlock.h"
#include "fileio.h"
#include "maildir.h"
#include "pop3_uidl.h"
#include "uidlist.h"
#include "unit.h"

/* As a real Dovecot 2.3.19 left it: N is stale after an append. */
static const char dovecot_list[] =
    "3 V1796687049 N1 G006a752fc644176be316000083ecc375\n"
    "1 :1796687046.M818434P5859.vm,S=20,W=23\n"
    "3 W1234 Pmigrated-uidl :1796687047.M1P1.vm\n"
    "7 :zzz\n";

/* A string literal and its length. */
#define STR(s)	(s), sizeof(s) - 1

static char	 top[64];

static char *
slurp(int md, const char *name)
{
	char	*buf;
	size_t	 len;
	int	 fd;

	if ((fd = openat(md, name, O_RDONLY)) == -1)
		return NULL;
	if (fileio_read_fd(fd, 1 << 20, &buf, &len) == -1)
		buf = NULL;
	close(fd);
	return buf;
}

static void
put(int md, const char *name, const char *s)
{
	int	 fd;

	fd = openat(md, name, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd == -1)
		return;
	(void)write_all(fd, s, strlen(s));
	close(fd);
}

static void
test_parse(void)
{
	struct uidlist		 ul;
	struct uidlist_rec	*r;
	const char		*v;
	char			*buf, uidl[POP3_UIDL_MAX];
	size_t			 len;

	uidlist_init(&ul);
	CHECK(uidlist_parse(&ul, dovecot_list, sizeof(dovecot_list) - 1) ==
	    0);
	CHECK(ul.uidvalidity == 1796687049U);
	CHECK(strcmp(ul.guid, "006a752fc644176be316000083ecc375") == 0);
	CHECK(ul.nrecs == 3);
	/* The header said N1, the records say 8. */
	CHECK(ul.nextuid == 8);
	r = uidlist_lookup(&ul, "1796687046.M818434P5859.vm,S=20,W=23:2,FS");
	CHECK(r != NULL && r->uid == 1);
	r = uidlist_lookup(&ul, "1796687047.M1P1.vm");
	CHECK(r != NULL && r->uid == 3);
	CHECK(r != NULL && (v = uidlist_ext(r, 'W', &len)) != NULL &&
	    len == 4 && strncmp(v, "1234", 4) == 0);
	CHECK(uidlist_lookup(&ul, "1796687047.M1P1.v") == NULL);
	CHECK(uidlist_get(&ul, 7) != NULL && uidlist_get(&ul, 4) == NULL);

	/* POP3: the migrated UIDL, else %08Xu%08Xv as Dovecot shows it. */
	CHECK(pop3_uidl(&ul, uidlist_get(&ul, 3), uidl, sizeof(uidl)) == 0 &&
	    strcmp(uidl, "migrated-uidl") == 0);
	CHECK(pop3_uidl(&ul, uidlist_get(&ul, 1), uidl, sizeof(uidl)) == 0 &&
	    strcmp(uidl, "000000016b1744c9") == 0);

	/* Written back: header fixed, extension fields kept. */
	CHECK(uidlist_format(&ul, &buf, &len) == 0);
	CHECK(strcmp(buf, "3 V1796687049 N8 G006a752fc644176be316000083ecc375"
	    "\n1 :1796687046.M818434P5859.vm,S=20,W=23\n"
	    "3 W1234 Pmigrated-uidl :1796687047.M1P1.vm\n7 :zzz\n") == 0);
	free(buf);

	CHECK(uidlist_add(&ul, "new.M1P1.h:2,S") == 8);
	CHECK(uidlist_lookup(&ul, "new.M1P1.h") != NULL);
	CHECK(uidlist_remove(&ul, 3) == 0 && uidlist_get(&ul, 3) == NULL);
	CHECK(uidlist_remove(&ul, 3) == -1 && errno == ENOENT);
	CHECK(ul.nextuid == 9);
	uidlist_clear(&ul);

	/* Version 1, unknown header fields, bad records skipped. */
	CHECK(uidlist_parse(&ul, STR("1 1000 5\n2 a\n4 b\n")) == 0);
	CHECK(ul.uidvalidity == 1000 && ul.nrecs == 2 && ul.nextuid == 5);
	CHECK(uidlist_parse(&ul,
	    STR("3 V5 N3 Gx Zfoo\n2 :b\n1 :a\nx :c\n2 z\n")) == 0);
	CHECK(ul.nrecs == 1 && strcmp(ul.hdr_ext, "Zfoo") == 0);
	CHECK(ul.guid[0] == '\0');
	CHECK(uidlist_format(&ul, &buf, &len) == 0);
	CHECK(strcmp(buf, "3 V5 N3 Zfoo\n2 :b\n") == 0);
	free(buf);
	CHECK(uidlist_parse(&ul, STR("garbage\n1 :a\n")) == -1);
	CHECK(uidlist_parse(&ul, STR("1 0 5\n")) == -1);
	CHECK(uidlist_parse(&ul, STR("3 N5\n")) == -1);
	CHECK(uidlist_parse(&ul, "", 0) == -1);
	uidlist_clear(&ul);
}

static void
test_order(void)
{
	/* Dovecot 2.3 numbered these files in this order. */
	static const char	*order[] = { "zzz", "999.M5P1.h",
	    "1000.M1P1.h", "1000.M9P1.h", "1000.M9P1Q10.h", "1000.M9P1Q2.h",
	    "1000.M10P1.h" };
	size_t			 i, j;

	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		for (j = 0; j < sizeof(order) / sizeof(order[0]); j++)
			CHECKF((maildir_name_cmp(order[i], order[j]) < 0) ==
			    (i < j), "%s %s", order[i], order[j]);
	CHECK(maildir_base_cmp("a,S=1:2,S", "a,S=1") == 0);
	CHECK(maildir_base_cmp("a", "ab") < 0);
}

static void
test_disk(void)
{
	struct uidlist	 ul, other;
	struct dotlock	 l, l2;
	struct stat	 st1, st2;
	char		*s;
	int		 md;

	md = open(top, O_RDONLY | O_DIRECTORY);
	uidlist_init(&ul);
	uidlist_init(&other);
	CHECK(uidlist_read(&ul, md) == 1 && ul.uidvalidity == 0);

	/* A new list: UIDVALIDITY and GUID, written through the lock. */
	CHECK(uidlist_lock(md, &l) == 0);
	CHECK(faccessat(md, "dovecot-uidlist.lock", F_OK, 0) == 0);
	CHECK(uidlist_setup(&ul, md) == 0 && ul.uidvalidity != 0);
	CHECK(strlen(ul.guid) == 32);
	CHECK(uidlist_add(&ul, "1.M1P1.h") == 1);
	CHECK(uidlist_commit(&ul, md, &l) == 0);
	CHECK(faccessat(md, "dovecot-uidlist.lock", F_OK, 0) == -1);
	CHECK(uidlist_read(&other, md) == 0 && other.nrecs == 1 &&
	    other.uidvalidity == ul.uidvalidity);

	/* Only new records: appended, the file is the same inode. */
	CHECK(fstatat(md, "dovecot-uidlist", &st1, 0) == 0);
	CHECK(uidlist_lock(md, &l) == 0);
	CHECK(uidlist_read(&ul, md) == 0);
	CHECK(uidlist_add(&ul, "2.M1P1.h") == 2);
	CHECK(uidlist_commit(&ul, md, &l) == 0);
	CHECK(fstatat(md, "dovecot-uidlist", &st2, 0) == 0);
	CHECK(st1.st_ino == st2.st_ino && st2.st_size > st1.st_size);
	s = slurp(md, "dovecot-uidlist");
	CHECK(s != NULL && strstr(s, " N2 ") != NULL &&
	    strstr(s, "\n2 :2.M1P1.h\n") != NULL);
	free(s);
	CHECK(uidlist_changed(&other, md) == 1);
	CHECK(uidlist_changed(&ul, md) == 0);

	/* A removal rewrites it, with the right N. */
	CHECK(uidlist_lock(md, &l) == 0);
	CHECK(uidlist_read(&ul, md) == 0 && ul.nextuid == 3);
	CHECK(uidlist_remove(&ul, 1) == 0);
	CHECK(uidlist_commit(&ul, md, &l) == 0);
	CHECK(fstatat(md, "dovecot-uidlist", &st2, 0) == 0);
	CHECK(st1.st_ino != st2.st_ino);
	s = slurp(md, "dovecot-uidlist");
	CHECK(s != NULL && strstr(s, " N3 ") != NULL &&
	    strstr(s, "1.M1P1.h") == NULL);
	free(s);

	/* A held lock keeps others out; a dead owner's lock is broken. */
	CHECK(dotlock_take(md, "x", 120, 30, &l) == 0);
	CHECK(dotlock_take(md, "x", 120, 0, &l2) == -1 &&
	    errno == EWOULDBLOCK);
	dotlock_release(&l);
	CHECK(dotlock_take(md, "x", 120, 0, &l2) == 0);
	dotlock_release(&l2);
	{
		char	 host[128], buf[200];
		pid_t	 pid;

		gethostname(host, sizeof(host));
		host[sizeof(host) - 1] = '\0';
		/* A child that has exited: its pid runs no process. */
		if ((pid = fork()) == 0)
			_exit(0);
		while (waitpid(pid, NULL, 0) == -1 && errno == EINTR)
			;
		snprintf(buf, sizeof(buf), "%ld:%s", (long)pid, host);
		put(md, "y.lock", buf);
		CHECK(dotlock_take(md, "y", 120, 0, &l) == 0);
		dotlock_release(&l);
		/* Another host's lock: broken only when old. */
		put(md, "z.lock", "1:elsewhere.example");
		CHECK(dotlock_take(md, "z", 120, 0, &l) == -1);
		{
			struct timespec	 ts[2] = { { 1000, 0 }, { 1000, 0 } };

			utimensat(md, "z.lock", ts, 0);
		}
		CHECK(dotlock_take(md, "z", 120, 0, &l) == 0);
		dotlock_release(&l);
	}

	uidlist_clear(&ul);
	uidlist_clear(&other);
	close(md);
}

static void
test_uidvalidity(void)
{
	uint32_t	 a, b, c;
	char		*s;
	int		 md;

	md = open(top, O_RDONLY | O_DIRECTORY);
	unlinkat(md, "dovecot-uidvalidity", 0);
	a = uidvalidity_next(md, 1796687046);
	b = uidvalidity_next(md, 1796687046);
	c = uidvalidity_next(md, 1796680000);
	/* The clock, then one more each time within that second. */
	CHECK(a >= 1796687046 && b == a + 1 && c == b + 1);
	s = slurp(md, "dovecot-uidvalidity");
	CHECK(s != NULL && strtoul(s, NULL, 16) == c && strlen(s) == 8);
	free(s);
	{
		char	 m[64];

		snprintf(m, sizeof(m), "dovecot-uidvalidity.%08x", c);
		CHECK(faccessat(md, m, F_OK, 0) == 0);
		snprintf(m, sizeof(m), "dovecot-uidvalidity.%08x", a);
		CHECK(faccessat(md, m, F_OK, 0) == -1);
	}
	close(md);
}

int
main(void)
{
	char	 cmd[128];

	snprintf(top, sizeof(top), "/tmp/test_uidlist.XXXXXX");
	if (mkdtemp(top) == NULL)
		return 1;
	test_parse();
	test_order();
	test_disk();
	test_uidvalidity();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", top);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", top);
	return unit_done("test_uidlist");
}
