/*
 * Unit tests for lib/maildir: unique names, flags in names, folder
 * names (with hostile ones), Maildir paths, creating a Maildir and a
 * folder, a delivery into a temporary directory, the 36-hour tmp/
 * cleanup (files aged with utimes(2)) and maildirsize arithmetic.
 */

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "maildir.h"
#include "unit.h"

static char	 top[64];	/* short: every path below it fits */

static void
test_uniq(void)
{
	struct maildir_uniq	 u;
	char			 a[MAILDIR_NAME_MAX], b[MAILDIR_NAME_MAX];
	char			 host[300];

	CHECK(maildir_uniq_format(a, sizeof(a), 1700000000, 123456, 4242,
	    7, "mail.example.org") == 0);
	CHECK(strcmp(a, "1700000000.M123456P4242Q7.mail.example.org") == 0);
	CHECK(maildir_uniq_format(a, 10, 1700000000, 1, 1, 1, "h") == -1);

	maildir_uniq_init(&u, "a/b:c");
	CHECK(strcmp(u.host, "a\\057b\\072c") == 0);
	/* A long host is cut, so that a name stays under NAME_MAX. */
	memset(host, 'h', sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	maildir_uniq_init(&u, host);
	CHECK(strlen(u.host) < MAILDIR_HOST_MAX);

	maildir_uniq_init(&u, "mx");
	CHECK(maildir_uniq_next(&u, a, sizeof(a)) == 0);
	CHECK(maildir_uniq_next(&u, b, sizeof(b)) == 0);
	CHECK(strcmp(a, b) != 0);
	CHECK(strstr(b, "Q2.mx") != NULL);
	CHECK(strchr(a, '/') == NULL && strchr(a, ':') == NULL);
}

static void
test_flags(void)
{
	static const char	*canon[] = { "1.M1P1Q1.h,S=5,W=6:2,",
	    "1.M1P1Q1.h:2,S", "x:2,DFPRST", "x:2,FSac", "x:2,Tz",
	    "x:2,DFPRSTabcdefghijklmnopqrstuvwxyz" };
	struct maildir_flags	 f;
	char			 buf[MAILDIR_NAME_MAX];
	size_t			 i;

	for (i = 0; i < sizeof(canon) / sizeof(canon[0]); i++) {
		CHECKF(maildir_flags_parse(canon[i], &f) == 0, "%s",
		    canon[i]);
		CHECKF(maildir_name_set_flags(canon[i], &f, buf,
		    sizeof(buf)) == 0 && strcmp(buf, canon[i]) == 0,
		    "%s -> %s", canon[i], buf);
	}
	CHECK(maildir_flags_parse("x:2,SRa", &f) == 0);
	CHECK(f.std == (MAILDIR_FLAG_SEEN | MAILDIR_FLAG_REPLIED));
	CHECK(f.keywords == 1);
	/* Written back in ASCII order; a letter not defined yet dropped. */
	CHECK(maildir_flags_parse("x:2,SXFb", &f) == 0);
	CHECK(maildir_name_set_flags("x:2,SXFb", &f, buf, sizeof(buf)) ==
	    0 && strcmp(buf, "x:2,FSb") == 0);
	CHECK(maildir_flags_parse("no-info,S=3", &f) == 0 && f.std == 0 &&
	    f.keywords == 0);
	CHECK(maildir_name_set_flags("no-info,S=3", &f, buf, sizeof(buf)) ==
	    0 && strcmp(buf, "no-info,S=3:2,") == 0);
	CHECK(maildir_flags_parse("x:1,S", &f) == -1);
	CHECK(maildir_flags_parse("x:2S", &f) == -1);
	CHECK(maildir_flags_parse("x:2,S1", &f) == -1);
	CHECK(maildir_flags_parse("x:2,S,", &f) == -1);
	f.std = MAILDIR_FLAG_SEEN;
	f.keywords = 0;
	CHECK(maildir_flags_format(&f, buf, 5) == 0 &&
	    strcmp(buf, ":2,S") == 0);
	CHECK(maildir_flags_format(&f, buf, 4) == -1);
}

static void
test_name_size(void)
{
	size_t	 s;

	CHECK(maildir_name_size("1.M2P3Q4.h,S=1234,W=1260:2,S", 'S', &s) ==
	    0 && s == 1234);
	CHECK(maildir_name_size("1.M2P3Q4.h,S=1234,W=1260:2,S", 'W', &s) ==
	    0 && s == 1260);
	CHECK(maildir_name_size("1.M2P3Q4.h", 'S', &s) == -1);
	CHECK(maildir_name_size("1.h,S=", 'S', &s) == -1);
	CHECK(maildir_name_size("1.h,S=12x", 'S', &s) == -1);
	CHECK(maildir_name_size("1.h:2,S=12", 'S', &s) == -1);
	CHECK(maildir_name_size("1.h,S=99999999999999999999999", 'S', &s) ==
	    -1);
}

static void
test_folder_names(void)
{
	static const struct {
		const char	*mailbox, *dir, *back;
	} good[] = {
		{ "INBOX", "", "INBOX" },
		{ "inbox", "", "INBOX" },
		{ "Sent", ".Sent", "Sent" },
		{ "Drafts", ".Drafts", "Drafts" },
		{ "a/b", ".a.b", "a/b" },
		{ "a.b", ".a.b", "a/b" },
		{ "a/b/c", ".a.b.c", "a/b/c" },
		{ "INBOX/x", ".INBOX.x", "INBOX/x" },
		{ "Entw&APw-rfe", ".Entw&APw-rfe", "Entw&APw-rfe" },
		{ "with space", ".with space", "with space" },
	};
	static const char	*bad_mailbox[] = { "", "..", ".", "/", "/x",
	    "x/", "x.", ".x", "a//b", "a..b", "a/./b", "../x", "a/../b",
	    "a\nb", "a\tb", "\x7f", "a\rb" };
	static const char	*bad_dir[] = { "Sent", "..", ".a..b", ".a.",
	    ".a/b", "./x", "x", ".a\nb", ".INBOX", ".inbox", "/etc" };
	char	 dir[NAME_MAX + 2], name[NAME_MAX + 2], big[400];
	size_t	 i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		CHECKF(maildir_folder_dir(good[i].mailbox, dir,
		    sizeof(dir)) == 0 && strcmp(dir, good[i].dir) == 0,
		    "%s -> %s", good[i].mailbox, dir);
		CHECKF(maildir_folder_name(good[i].dir, '/', name,
		    sizeof(name)) == 0 && strcmp(name, good[i].back) == 0,
		    "%s -> %s", good[i].dir, name);
	}
	CHECK(maildir_folder_name(".a.b", '.', name, sizeof(name)) == 0 &&
	    strcmp(name, "a.b") == 0);
	CHECK(maildir_folder_name(".", '/', name, sizeof(name)) == 0 &&
	    strcmp(name, "INBOX") == 0);
	for (i = 0; i < sizeof(bad_mailbox) / sizeof(bad_mailbox[0]); i++)
		CHECKF(maildir_folder_dir(bad_mailbox[i], dir, sizeof(dir)) ==
		    -1, "mailbox \"%s\" accepted as %s", bad_mailbox[i], dir);
	for (i = 0; i < sizeof(bad_dir) / sizeof(bad_dir[0]); i++)
		CHECKF(maildir_folder_name(bad_dir[i], '/', name,
		    sizeof(name)) == -1, "dir \"%s\" accepted as %s",
		    bad_dir[i], name);
	/* Too long for one directory name, or for the caller's buffer. */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CHECK(maildir_folder_dir(big, dir, sizeof(dir)) == -1);
	CHECK(maildir_folder_dir("Sent", dir, 5) == -1);
	CHECK(maildir_folder_name(".Sent", '/', name, 4) == -1);
}

static void
test_path_ok(void)
{
	static const char	*good[] = { "example.org/alice",
	    "example.org/alice/", "d/u/Maildir", "d/.u", "d/u..x" };
	static const char	*bad[] = { "", "/etc", "../x", "d/../../x",
	    "d/..", "./d/u", "d//u", "d/u\n", "d/\x01u", "..", "." };
	size_t			 i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		CHECKF(maildir_path_ok(good[i]), "%s", good[i]);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECKF(!maildir_path_ok(bad[i]), "%s", bad[i]);
}

static int
is_dir(const char *fmt, const char *a)
{
	char		 p[PATH_MAX];
	struct stat	 st;

	snprintf(p, sizeof(p), fmt, top, a);
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode) &&
	    (st.st_mode & 0777) == 0700;
}

/* The only file in top/<sub>, or "" if there is none or more than one. */
static void
only_file(const char *sub, char *name, size_t namesz)
{
	char		 p[PATH_MAX];
	struct dirent	*de;
	DIR		*d;
	int		 n = 0;

	name[0] = '\0';
	snprintf(p, sizeof(p), "%s/%s", top, sub);
	if ((d = opendir(p)) == NULL)
		return;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' && n++ == 0)
			strlcpy(name, de->d_name, namesz);
	closedir(d);
	if (n != 1)
		name[0] = '\0';
}

static void
test_create(void)
{
	int	 at, md, fd;
	char	 p[PATH_MAX], big[300];

	CHECK((at = open(top, O_RDONLY | O_DIRECTORY)) != -1);
	CHECK(maildir_create(at, "example.org/alice/", 0) ==
	    MAILDIR_CREATED);
	CHECK(is_dir("%s/%s", "example.org/alice/cur"));
	CHECK(is_dir("%s/%s", "example.org/alice/new"));
	CHECK(is_dir("%s/%s", "example.org/alice/tmp"));
	/* A second time: there already, and completed if a part is gone. */
	snprintf(p, sizeof(p), "%s/example.org/alice/cur", top);
	CHECK(rmdir(p) == 0);
	CHECK(maildir_create(at, "example.org/alice", 0) == MAILDIR_EXISTED);
	CHECK(is_dir("%s/%s", "example.org/alice/cur"));

	/* A link on the way is not followed when asked. */
	snprintf(p, sizeof(p), "%s/link", top);
	CHECK(symlink("example.org", p) == 0);
	CHECK(maildir_create(at, "link/bob", MAILDIR_NOFOLLOW) == -1);
	CHECK(!is_dir("%s/%s", "example.org/bob"));
	/* A failure takes back the directories it made, and only those. */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	snprintf(p, sizeof(p), "made.org/u/%s", big);
	CHECK(maildir_create(at, p, 0) == -1 && errno == ENAMETOOLONG);
	CHECK(!is_dir("%s/%s", "made.org"));
	snprintf(p, sizeof(p), "example.org/u/%s", big);
	CHECK(maildir_create(at, p, 0) == -1 && errno == ENAMETOOLONG);
	CHECK(!is_dir("%s/%s", "example.org/u"));
	CHECK(is_dir("%s/%s", "example.org/alice"));
	snprintf(p, sizeof(p), "%s/example.org/file", top);
	CHECK((fd = open(p, O_WRONLY | O_CREAT, 0600)) != -1);
	close(fd);
	CHECK(maildir_create(at, "example.org/file/x", 0) == -1 &&
	    errno == ENOTDIR);
	CHECK(unlink(p) == 0);
	CHECK(maildir_create(at, "other.org/v/w", 0) == MAILDIR_CREATED);

	/* Folders: ".Sent" with its own cur/ new/ tmp/ and maildirfolder. */
	CHECK((md = maildir_open(at, "example.org/alice")) != -1);
	CHECK(maildir_folder_create(md, ".Sent") == MAILDIR_CREATED);
	CHECK(maildir_folder_create(md, ".Sent") == MAILDIR_EXISTED);
	CHECK(maildir_folder_create(md, ".a.b") == MAILDIR_CREATED);
	CHECK(is_dir("%s/%s", "example.org/alice/.Sent/new"));
	CHECK(is_dir("%s/%s", "example.org/alice/.a.b/tmp"));
	snprintf(p, sizeof(p), "%s/example.org/alice/.Sent/maildirfolder",
	    top);
	CHECK(access(p, F_OK) == 0);
	CHECK(maildir_folder_create(md, "..") == -1 && errno == EINVAL);
	CHECK(maildir_folder_create(md, "../x") == -1 && errno == EINVAL);
	CHECK(maildir_folder_create(md, "Sent") == -1 && errno == EINVAL);
	CHECK(maildir_folder_create(md, "") == -1 && errno == EINVAL);

	/* Removal takes the whole tree and follows no link. */
	snprintf(p, sizeof(p), "%s/example.org/alice/.a.b/escape", top);
	CHECK(symlink(top, p) == 0);
	CHECK(maildir_remove(md, ".a.b") == 0);
	CHECK(!is_dir("%s/%s", "example.org/alice/.a.b"));
	CHECK(is_dir("%s/%s", "example.org/alice"));
	CHECK(maildir_remove(at, "other.org") == 0);
	CHECK(maildir_remove(at, "other.org") == -1 && errno == ENOENT);
	close(md);
	close(at);
}

static void
test_deliver(void)
{
	struct maildir_uniq	 u;
	struct maildir_tmp	 t;
	struct maildir_flags	 f;
	struct stat		 st;
	char			 name[MAILDIR_NAME_MAX], p[PATH_MAX];
	char			 want[MAILDIR_NAME_MAX + 64];
	char			 file[MAILDIR_NAME_MAX];
	static const char	 msg[] = "Subject: x\n\nline 1\nline 2\n";
	size_t			 s;
	int			 md;

	maildir_uniq_init(&u, "test.host");
	snprintf(p, sizeof(p), "%s/example.org/alice", top);
	CHECK((md = maildir_open(AT_FDCWD, p)) != -1);
	CHECK(maildir_tmp_open(md, &u, &t) == 0);
	CHECK(maildir_tmp_write(&t, "Return-Path: <a@b>\n", 19) == 0);
	CHECK(maildir_tmp_write(&t, msg, sizeof(msg) - 1) == 0);
	only_file("example.org/alice/tmp", file, sizeof(file));
	CHECK(strcmp(file, t.base) == 0);
	CHECK(maildir_tmp_commit(md, &t, NULL, name, sizeof(name)) == 0);
	snprintf(want, sizeof(want), "%s,S=%zu,W=%zu", t.base,
	    19 + sizeof(msg) - 1, 19 + sizeof(msg) - 1 + 5);
	CHECK(strcmp(name, want) == 0);
	only_file("example.org/alice/new", file, sizeof(file));
	CHECK(strcmp(file, name) == 0);
	only_file("example.org/alice/tmp", file, sizeof(file));
	CHECK(file[0] == '\0');
	snprintf(p, sizeof(p), "%s/example.org/alice/new/%s", top, name);
	CHECK(stat(p, &st) == 0 && (size_t)st.st_size == 19 +
	    sizeof(msg) - 1 && (st.st_mode & 0777) == 0600);
	CHECK(maildir_name_size(name, 'S', &s) == 0 &&
	    s == (size_t)st.st_size);
	CHECK(strstr(name, ".test.host,S=") != NULL);

	/* An APPEND with flags goes to cur/ with its info. */
	f.std = MAILDIR_FLAG_SEEN | MAILDIR_FLAG_DRAFT;
	f.keywords = 0;
	CHECK(maildir_tmp_open(md, &u, &t) == 0);
	CHECK(maildir_tmp_write(&t, "x", 1) == 0);
	CHECK(maildir_tmp_commit(md, &t, &f, name, sizeof(name)) == 0);
	only_file("example.org/alice/cur", file, sizeof(file));
	CHECK(strcmp(file, name) == 0 && strstr(name, ",S=1,W=1:2,DS") !=
	    NULL);

	/* Kept with CRLF (APPEND of a literal8): only bare LFs add to W. */
	CHECK(maildir_tmp_open(md, &u, &t) == 0);
	CHECK(maildir_tmp_write(&t, "a\r\nb\r", 5) == 0);
	CHECK(maildir_tmp_write(&t, "\nc\n", 3) == 0);
	CHECK(maildir_tmp_commit(md, &t, &f, name, sizeof(name)) == 0);
	CHECK(strstr(name, ",S=8,W=9:2,DS") != NULL);
	snprintf(p, sizeof(p), "cur/%s", name);
	CHECK(unlinkat(md, p, 0) == 0);

	/* An abandoned message leaves nothing behind. */
	CHECK(maildir_tmp_open(md, &u, &t) == 0);
	CHECK(maildir_tmp_write(&t, "x", 1) == 0);
	maildir_tmp_abort(md, &t);
	only_file("example.org/alice/tmp", file, sizeof(file));
	CHECK(file[0] == '\0');
	close(md);
}

static void
make_aged(const char *dir, const char *name, time_t atime, time_t mtime)
{
	struct timeval	 tv[2];
	char		 p[PATH_MAX];
	int		 fd;

	snprintf(p, sizeof(p), "%s/%s/%s", top, dir, name);
	CHECK((fd = open(p, O_WRONLY | O_CREAT, 0600)) != -1);
	close(fd);
	tv[0].tv_sec = atime;
	tv[0].tv_usec = 0;
	tv[1].tv_sec = mtime;
	tv[1].tv_usec = 0;
	CHECK(utimes(p, tv) == 0);
}

static int
exists(const char *dir, const char *name)
{
	char	 p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/%s/%s", top, dir, name);
	return access(p, F_OK) == 0;
}

static void
test_tmp_clean(void)
{
	const char	*tmp = "example.org/alice/tmp";
	char		 p[PATH_MAX];
	time_t		 now = time(NULL), old = now - MAILDIR_TMP_STALE - 60;
	int		 md;

	snprintf(p, sizeof(p), "%s/example.org/alice", top);
	CHECK((md = maildir_open(AT_FDCWD, p)) != -1);
	make_aged(tmp, "stale", old, old);
	make_aged(tmp, "fresh", now, now);
	make_aged(tmp, "read-lately", now - 60, old);
	make_aged(tmp, "written-lately", old, now - 60);
	make_aged(tmp, "almost", now - MAILDIR_TMP_STALE + 60,
	    now - MAILDIR_TMP_STALE + 60);
	make_aged("example.org/alice/new", "old-message", old, old);
	snprintf(p, sizeof(p), "%s/%s/subdir", top, tmp);
	CHECK(mkdir(p, 0700) == 0);
	CHECK(maildir_tmp_clean(md, now) == 1);
	CHECK(!exists(tmp, "stale"));
	CHECK(exists(tmp, "fresh"));
	CHECK(exists(tmp, "read-lately"));
	CHECK(exists(tmp, "written-lately"));
	CHECK(exists(tmp, "almost"));
	CHECK(exists(tmp, "subdir"));
	CHECK(exists("example.org/alice/new", "old-message"));
	/* Later, the others are stale too. */
	CHECK(maildir_tmp_clean(md, now + MAILDIR_TMP_STALE + 120) == 4);
	CHECK(exists(tmp, "subdir"));
	CHECK(rmdir(p) == 0);
	snprintf(p, sizeof(p), "%s/example.org/alice/new/old-message", top);
	CHECK(unlink(p) == 0);
	close(md);
	/* A Maildir without tmp/ has nothing to clean. */
	snprintf(p, sizeof(p), "%s/example.org", top);
	CHECK((md = maildir_open(AT_FDCWD, p)) != -1);
	CHECK(maildir_tmp_clean(md, now) == 0);
	close(md);
}

static void
test_quota_parse(void)
{
	struct maildir_quota	 q;
	char			 buf[MAILDIR_QUOTA_DEF_MAX];
	static const char	 f1[] = "1000000S,500C\n300 3\n-100 -1\n"
	    "  50   1  \n";

	CHECK(maildir_quota_parse(f1, sizeof(f1) - 1, &q) == 0);
	CHECK(q.max_bytes == 1000000 && q.max_count == 500);
	CHECK(q.bytes == 250 && q.count == 3);
	CHECK(q.filesize == sizeof(f1) - 1);
	CHECK(!maildir_quota_exceeded(&q, 999750, 1));
	CHECK(maildir_quota_exceeded(&q, 999751, 1));
	CHECK(!maildir_quota_exceeded(&q, 1, 497));
	CHECK(maildir_quota_exceeded(&q, 1, 498));
	/* Removing never exceeds; no limit never exceeds. */
	CHECK(!maildir_quota_exceeded(&q, -10, -1));
	CHECK(maildir_quota_parse("\n5 1\n", 5, &q) == 0 &&
	    q.max_bytes == 0 && q.max_count == 0 && q.bytes == 5);
	CHECK(!maildir_quota_exceeded(&q, INT64_MAX, INT64_MAX));
	CHECK(maildir_quota_parse("20C\n", 4, &q) == 0 && q.max_count == 20 &&
	    q.max_bytes == 0 && q.bytes == 0);

	/* A cut or bad line: the sums are not to be trusted. */
	CHECK(maildir_quota_parse("100S\n5 1\n7 1", 13, &q) == -1 &&
	    q.max_bytes == 100);
	CHECK(maildir_quota_parse("100S\n5\n", 7, &q) == -1);
	CHECK(maildir_quota_parse("100S\n5 x\n", 9, &q) == -1);
	CHECK(maildir_quota_parse("100S\n5 1 2\n", 11, &q) == -1);
	CHECK(maildir_quota_parse("100X\n", 5, &q) == -1);
	CHECK(maildir_quota_parse("100S,\n", 6, &q) == -1);
	CHECK(maildir_quota_parse("S\n", 2, &q) == -1);
	CHECK(maildir_quota_parse("-5S\n", 4, &q) == -1);
	CHECK(maildir_quota_parse("100S", 4, &q) == -1);
	CHECK(maildir_quota_parse("\n9223372036854775807 1\n1 1\n", 27,
	    &q) == -1);
	CHECK(maildir_quota_parse("\n99999999999999999999 1\n", 24, &q) ==
	    -1);

	CHECK(maildir_quota_def_format(1000, 10, buf, sizeof(buf)) == 0 &&
	    strcmp(buf, "1000S,10C") == 0);
	CHECK(maildir_quota_def_format(1000, 0, buf, sizeof(buf)) == 0 &&
	    strcmp(buf, "1000S") == 0);
	CHECK(maildir_quota_def_format(0, 7, buf, sizeof(buf)) == 0 &&
	    strcmp(buf, "7C") == 0);
	CHECK(maildir_quota_def_format(0, 0, buf, sizeof(buf)) == 0 &&
	    strcmp(buf, "") == 0);
	CHECK(maildir_quota_def_format(1000, 10, buf, 5) == -1);
}

static void
write_file(const char *path, const char *text)
{
	char	 p[PATH_MAX];
	FILE	*f;

	snprintf(p, sizeof(p), "%s/%s", top, path);
	CHECK((f = fopen(p, "w")) != NULL);
	if (f != NULL) {
		fputs(text, f);
		fclose(f);
	}
}

static void
test_quota_file(void)
{
	struct maildir_uniq	 u;
	struct maildir_quota	 q;
	char			 p[PATH_MAX], name[MAILDIR_NAME_MAX];
	int			 md, i, r = 0;

	maildir_uniq_init(&u, "test.host");
	snprintf(p, sizeof(p), "%s/example.org/alice", top);
	CHECK((md = maildir_open(AT_FDCWD, p)) != -1);
	/* No file: no quota kept, and nothing is appended. */
	CHECK(maildir_quota_read(md, &q) == -1 && errno == ENOENT);
	CHECK(maildir_quota_add(md, 10, 1) == -1 && errno == ENOENT);

	write_file("example.org/alice/maildirsize", "5000S,100C\n0 0\n");
	CHECK(maildir_quota_add(md, 1200, 1) == 0);
	CHECK(maildir_quota_add(md, -200, -1) == 0);
	CHECK(maildir_quota_read(md, &q) == 0);
	CHECK(q.max_bytes == 5000 && q.max_count == 100);
	CHECK(q.bytes == 1000 && q.count == 0);
	CHECK(q.filesize == strlen("5000S,100C\n0 0\n1200 1\n-200 -1\n"));
	/* Past 5120 bytes the file wants recalculating. */
	for (i = 0; i < 2000 && r == 0; i++)
		r = maildir_quota_add(md, 1, 1);
	CHECK(r == 1);
	CHECK(maildir_quota_read(md, &q) == 0 &&
	    q.filesize > MAILDIR_QUOTA_RECALC);

	/*
	 * Recalculation counts new/ and cur/ of INBOX and the folders
	 * (name's S= or the file's size) and keeps the limits.
	 */
	write_file("example.org/alice/new/1.M1P1Q1.h,S=100,W=104", "");
	write_file("example.org/alice/cur/2.M1P1Q1.h:2,S", "12345");
	write_file("example.org/alice/.Sent/cur/3.M1P1Q1.h,S=40:2,S", "");
	write_file("example.org/alice/.Sent/tmp/4.M1P1Q1.h,S=999", "");
	write_file("example.org/alice/maildirsize", "5000S,100C\n0 0\n5 1\n"
	    "7");
	CHECK(maildir_quota_read(md, &q) == -1 && errno == EINVAL);
	CHECK(q.max_bytes == 5000 && q.max_count == 100);
	CHECK(maildir_quota_recalc(md, &u, &q) == 0);
	/* Two messages delivered in test_deliver: 45 and 1 bytes. */
	CHECK(q.bytes == 100 + 5 + 40 + 45 + 1 && q.count == 5);
	memset(&q, 0, sizeof(q));
	CHECK(maildir_quota_read(md, &q) == 0);
	CHECK(q.max_bytes == 5000 && q.max_count == 100);
	CHECK(q.bytes == 191 && q.count == 5);
	snprintf(p, sizeof(p), "%d %d\n", 191, 5);
	CHECK(q.filesize == strlen("5000S,100C\n") + strlen(p));
	only_file("example.org/alice/tmp", name, sizeof(name));
	CHECK(name[0] == '\0');
	close(md);
}

/* The first line of maildirsize, read back. */
static int
quota_first_line(const char *path, char *buf, size_t bufsz)
{
	char	 p[PATH_MAX];
	FILE	*f;

	snprintf(p, sizeof(p), "%s/%s", top, path);
	if ((f = fopen(p, "r")) == NULL)
		return -1;
	if (fgets(buf, bufsz, f) == NULL)
		buf[0] = '\0';
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

static void
test_quota_sync(void)
{
	struct maildir_uniq	 u;
	struct maildir_quota	 q;
	char			 p[PATH_MAX], line[64];
	const char		*qf = "example.org/alice/maildirsize";
	int			 md;

	maildir_uniq_init(&u, "test.host");
	snprintf(p, sizeof(p), "%s/example.org/alice", top);
	CHECK((md = maildir_open(AT_FDCWD, p)) != -1);
	snprintf(p, sizeof(p), "%s/%s", top, qf);
	CHECK(unlink(p) == 0);
	/* Unset and no file: nothing counted, nothing made. */
	CHECK(maildir_quota_sync(md, &u, MAILDIR_QUOTA_UNSET, &q) == -1 &&
	    errno == ENOENT);
	CHECK(maildir_quota_sync(md, &u, MAILDIR_QUOTA_NONE, &q) == -1 &&
	    errno == ENOENT);
	CHECK(quota_first_line(qf, line, sizeof(line)) == -1);
	/* A limit and no file: made, with the use counted. */
	CHECK(maildir_quota_sync(md, &u, 10000, &q) == 0);
	CHECK(q.max_bytes == 10000 && q.max_count == 0);
	CHECK(q.bytes == 191 && q.count == 5);
	CHECK(quota_first_line(qf, line, sizeof(line)) == 0 &&
	    strcmp(line, "10000S") == 0);
	/* The same limit: the file is only read (a line added stays). */
	CHECK(maildir_quota_add(md, 9, 1) == 0);
	CHECK(maildir_quota_sync(md, &u, 10000, &q) == 0 && q.bytes == 200);
	/* Another: rewritten, the count limit of the file kept. */
	write_file(qf, "10000S,7C\n191 5\n");
	CHECK(maildir_quota_sync(md, &u, 2048, &q) == 0);
	CHECK(q.max_bytes == 2048 && q.max_count == 7 && q.bytes == 191);
	CHECK(quota_first_line(qf, line, sizeof(line)) == 0 &&
	    strcmp(line, "2048S,7C") == 0);
	/* Unset: whatever the file says stands. */
	CHECK(maildir_quota_sync(md, &u, MAILDIR_QUOTA_UNSET, &q) == 0 &&
	    q.max_bytes == 2048);
	/* None: the byte limit goes from the file. */
	CHECK(maildir_quota_sync(md, &u, MAILDIR_QUOTA_NONE, &q) == 0 &&
	    q.max_bytes == 0 && q.max_count == 7);
	CHECK(quota_first_line(qf, line, sizeof(line)) == 0 &&
	    strcmp(line, "7C") == 0);
	/* A broken file is recalculated under the quota given. */
	write_file(qf, "junk");
	CHECK(maildir_quota_sync(md, &u, 5000, &q) == 0 &&
	    q.max_bytes == 5000 && q.bytes == 191 && q.count == 5);
	CHECK(quota_first_line(qf, line, sizeof(line)) == 0 &&
	    strcmp(line, "5000S") == 0);
	close(md);
}

int
main(void)
{
	char	 cmd[sizeof(top) + 16];

	strlcpy(top, "/tmp/test_maildir.XXXXXX", sizeof(top));
	if (mkdtemp(top) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	umask(022);
	test_uniq();
	test_flags();
	test_name_size();
	test_folder_names();
	test_path_ok();
	test_create();
	test_deliver();
	test_tmp_clean();
	test_quota_parse();
	test_quota_file();
	test_quota_sync();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", top);
	return unit_done("test_maildir");
}
