/*
 * Unit tests for imapd/mailbox.c and imapd/folder.c in a temporary
 * Maildir: deliveries into new/ get UIDs in delivery order on the
 * first sync and move to cur/, a second session sees the changes
 * (new, flags, expunged), STORE renames (also when another process
 * renamed the file first), EXPUNGE, APPEND with flags and internal
 * date, COPY and MOVE with their new UIDs and keywords, and folders.
 */

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "folder.h"
#include "mailbox.h"
#include "unit.h"

static char	 top[64];

static void
deliver(int md, const char *dir, const char *name, const char *body)
{
	char	 path[512];
	int	 fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((fd = openat(md, path, O_WRONLY | O_CREAT | O_EXCL, 0600)) == -1)
		return;
	(void)write_all(fd, body, strlen(body));
	close(fd);
}

static int
exists(int md, const char *path)
{
	return faccessat(md, path, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

static int
count_dir(int md, const char *dir)
{
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	if ((d = opendir_at(md, dir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static void
test_select(int root)
{
	struct mailbox		*a, *b;
	struct mailbox_changes	 c;
	struct maildir_flags	 f = { MAILDIR_FLAG_SEEN, 0 };
	struct maildir_flags	 fl = { MAILDIR_FLAG_FLAGGED, 0 };
	struct mbox_msg		*m;
	uint32_t		 uidv;

	deliver(root, "new", "1000.M10P1.h,S=4", "abc\n");
	deliver(root, "new", "999.M5P1.h,S=4", "def\n");
	deliver(root, "cur", "1000.M9P1.h,S=4:2,S", "ghi\n");
	CHECK(mailbox_open(root, "INBOX", 0, &a) == 0);
	memset(&c, 0, sizeof(c));
	CHECK(mailbox_sync(a, &c) == 0);
	CHECK(a->nmsg == 3 && c.nadded == 3);
	mailbox_changes_free(&c);
	/* Delivery order, as Dovecot numbers them. */
	CHECK(strcmp(mailbox_find(a, 1)->name, "cur/999.M5P1.h,S=4:2,") == 0);
	CHECK(strcmp(mailbox_find(a, 2)->name, "cur/1000.M9P1.h,S=4:2,S") ==
	    0);
	CHECK(mailbox_find(a, 2)->flags.std == MAILDIR_FLAG_SEEN);
	CHECK(strcmp(mailbox_find(a, 3)->name, "cur/1000.M10P1.h,S=4:2,") ==
	    0);
	CHECK(count_dir(root, "new") == 0);
	uidv = a->ul.uidvalidity;
	CHECK(uidv != 0);

	/* A read-only session: UIDs, but new/ is left alone. */
	deliver(root, "new", "2000.M1P1.h", "new\n");
	CHECK(mailbox_open(root, "inbox", 1, &b) == 0);
	CHECK(mailbox_sync(b, NULL) == 0 && b->nmsg == 4);
	CHECK(b->ul.uidvalidity == uidv);
	CHECK(exists(root, "new/2000.M1P1.h"));
	CHECK(mailbox_find(b, 4) != NULL);

	/* STORE in a; b's next sync reports it, and the arrival to a. */
	CHECK(mailbox_store(a, 1, MB_STORE_ADD, &f) == 0);
	CHECK(exists(root, "cur/999.M5P1.h,S=4:2,S"));
	memset(&c, 0, sizeof(c));
	CHECK(mailbox_sync(a, &c) == 0 && c.nadded == 1 && c.added[0] == 4);
	CHECK(exists(root, "cur/2000.M1P1.h:2,"));
	mailbox_changes_free(&c);
	memset(&c, 0, sizeof(c));
	CHECK(mailbox_sync(b, &c) == 0 && c.nflagged == 1 &&
	    c.flagged[0] == 1 && c.nadded == 0 && c.nexpunged == 0);
	mailbox_changes_free(&c);

	/*
	 * The race: b's idea of message 2's name is stale (a renamed it);
	 * b's STORE finds the file again and keeps a's flag.
	 */
	CHECK(mailbox_store(a, 2, MB_STORE_ADD, &fl) == 0);
	CHECK(strcmp(mailbox_find(b, 2)->name, "cur/1000.M9P1.h,S=4:2,S") ==
	    0);
	f.std = MAILDIR_FLAG_REPLIED;
	CHECK(mailbox_store(b, 2, MB_STORE_ADD, &f) == 0);
	CHECK(exists(root, "cur/1000.M9P1.h,S=4:2,FRS"));
	m = mailbox_find(b, 2);
	CHECK(m->flags.std == (MAILDIR_FLAG_FLAGGED | MAILDIR_FLAG_REPLIED |
	    MAILDIR_FLAG_SEEN));
	f.std = MAILDIR_FLAG_SEEN;
	CHECK(mailbox_store(b, 2, MB_STORE_REMOVE, &f) == 0);
	CHECK(exists(root, "cur/1000.M9P1.h,S=4:2,FR"));

	/* EXPUNGE in b: gone from disk and uidlist; a sees it. */
	CHECK(mailbox_expunge(b, (uint32_t[]){ 3 }, 1) == 0);
	CHECK(b->nmsg == 3 && mailbox_find(b, 3) == NULL);
	CHECK(!exists(root, "cur/1000.M10P1.h,S=4:2,"));
	CHECK(uidlist_get(&b->ul, 3) == NULL);
	memset(&c, 0, sizeof(c));
	CHECK(mailbox_sync(a, &c) == 0 && c.nexpunged == 1 &&
	    c.expunged[0] == 3 && c.nflagged == 1 && c.flagged[0] == 2);
	mailbox_changes_free(&c);
	CHECK(mailbox_store(a, 3, MB_STORE_ADD, &f) == -1 && errno == ENOENT);

	/* A message removed behind a's back: STORE says it is gone. */
	CHECK(unlinkat(root, mailbox_find(b, 4)->name, 0) == 0);
	CHECK(mailbox_store(a, 4, MB_STORE_ADD, &f) == -1 && errno == ENOENT);
	memset(&c, 0, sizeof(c));
	CHECK(mailbox_sync(a, &c) == 0 && c.nexpunged == 1 &&
	    c.expunged[0] == 4);
	mailbox_changes_free(&c);

	/* A new session numbers nothing again. */
	mailbox_close(b);
	CHECK(mailbox_open(root, "INBOX", 0, &b) == 0);
	CHECK(mailbox_sync(b, NULL) == 0 && b->nmsg == 2 &&
	    mailbox_find(b, 1) != NULL && mailbox_find(b, 2) != NULL &&
	    b->ul.nextuid == 5);
	mailbox_close(a);
	mailbox_close(b);
}

static void
test_append_copy(int root)
{
	struct mailbox		*in, *sent;
	struct maildir_flags	 f = { MAILDIR_FLAG_SEEN, 0 };
	struct mbox_msg		*m = NULL;
	struct stat		 st;
	const char		*kw[] = { "$Forwarded", "work" };
	uint32_t		 uid, bits, uids[2], newuids[2];
	char			 path[600];

	CHECK(folder_create(root, "Sent") == 0);
	CHECK(folder_create(root, "Sent") == -1 && errno == EEXIST);
	CHECK(mailbox_open(root, "INBOX", 0, &in) == 0);
	CHECK(mailbox_open(root, "Sent", 0, &sent) == 0);
	CHECK(mailbox_sync(in, NULL) == 0 && mailbox_sync(sent, NULL) == 0);
	CHECK(sent->nmsg == 0 && sent->ul.uidvalidity != 0 &&
	    sent->ul.uidvalidity != in->ul.uidvalidity);

	CHECK(mailbox_keyword_bits(in, kw, 2, 0, &bits) == -1 &&
	    errno == ENOENT);
	CHECK(mailbox_keyword_bits(in, kw, 2, 1, &bits) == 0 && bits == 3);
	f.keywords = bits;
	CHECK(mailbox_append(in, "Subject: x\n\nhi\n", 15, &f, 1000000000,
	    &uid) == 0);
	CHECK(uid == 5);
	CHECK(mailbox_sync(in, NULL) == 0 && (m = mailbox_find(in, 5)) !=
	    NULL);
	if (m == NULL)
		return;
	CHECK(m->flags.std == MAILDIR_FLAG_SEEN && m->flags.keywords == 3);
	CHECK(strstr(m->name, ",S=15,W=18:2,Sab") != NULL);
	CHECK(fstatat(root, m->name, &st, 0) == 0 &&
	    st.st_mtime == 1000000000 && st.st_size == 15);

	/* COPY: the new UIDs in the target, keywords by name there. */
	CHECK(mailbox_keyword_bits(sent, (const char *[]){ "other" }, 1, 1,
	    &bits) == 0 && bits == 1);
	uids[0] = 5;
	uids[1] = 1;
	CHECK(mailbox_copy(in, uids, 2, sent, newuids) == 0);
	CHECK(newuids[0] == 1 && newuids[1] == 2);
	CHECK(mailbox_sync(sent, NULL) == 0 && sent->nmsg == 2);
	m = mailbox_find(sent, 1);
	CHECK(m != NULL && m->flags.keywords == ((1U << 1) | (1U << 2)));
	CHECK(strcmp(keywords_name(&sent->kw, 1), "$Forwarded") == 0);
	CHECK(fstatat(root, mailbox_find(in, 5)->name, &st, 0) == 0 &&
	    st.st_nlink == 2);
	/* Copied twice: a new unique name, a new UID. */
	CHECK(mailbox_copy(in, uids, 1, sent, newuids) == 0 &&
	    newuids[0] == 3);
	CHECK(mailbox_sync(sent, NULL) == 0 && sent->nmsg == 3);

	/* MOVE: into Sent, out of INBOX. */
	uids[0] = 2;
	CHECK(mailbox_move(in, uids, 1, sent, newuids) == 0 &&
	    newuids[0] == 4);
	CHECK(mailbox_find(in, 2) == NULL && in->nmsg == 2);
	CHECK(mailbox_sync(sent, NULL) == 0 && sent->nmsg == 4);
	snprintf(path, sizeof(path), ".Sent/%s", mailbox_find(sent, 4)->name);
	CHECK(exists(root, path));
	CHECK(mailbox_move(in, (uint32_t[]){ 99 }, 1, sent, newuids) == 0 &&
	    newuids[0] == 0);
	mailbox_close(in);
	mailbox_close(sent);
	CHECK(mailbox_open(root, "Nope", 0, &in) == -1 && errno == ENOENT);
	CHECK(mailbox_open(root, "../x", 0, &in) == -1 && errno == EINVAL);
}

static void
test_folders(int root)
{
	struct folder_list	 fl;
	size_t			 i;
	int			 found = 0;

	CHECK(folder_create(root, "a.b") == 0);
	CHECK(folder_create(root, "a/b/c") == 0);
	CHECK(folder_create(root, "Trash") == 0);
	CHECK(exists(root, ".a.b.c/maildirfolder"));
	CHECK(exists(root, ".a.b/dovecot-uidlist"));
	CHECK(folder_create(root, "a..b") == -1 && errno == EINVAL);
	CHECK(folder_list(root, &fl) == 0);
	CHECK(fl.n == 6 && strcmp(fl.f[0].name, "INBOX") == 0);
	for (i = 0; i < fl.n; i++) {
		if (strcmp(fl.f[i].name, "a") == 0)
			found += !fl.f[i].exists && fl.f[i].children;
		if (strcmp(fl.f[i].name, "a.b") == 0)
			found += fl.f[i].exists && fl.f[i].children;
		if (strcmp(fl.f[i].name, "Trash") == 0)
			found += fl.f[i].special == MBOX_SPECIAL_TRASH;
		if (strcmp(fl.f[i].name, "Sent") == 0)
			found += fl.f[i].special == MBOX_SPECIAL_SENT;
	}
	CHECK(found == 4);
	folder_list_free(&fl);
	CHECK(folder_special_use("Archive") == MBOX_SPECIAL_ARCHIVE);
	CHECK(folder_special_use("Drafts") == MBOX_SPECIAL_DRAFTS);
	CHECK(folder_special_use("Junk") == MBOX_SPECIAL_JUNK);
	CHECK(folder_special_use("INBOX") == 0);

	CHECK(folder_rename(root, "a", "x") == 0);
	CHECK(exists(root, ".x.b/maildirfolder") &&
	    exists(root, ".x.b.c/cur") && !exists(root, ".a.b"));
	CHECK(folder_rename(root, "x.b", "Trash") == -1 && errno == EEXIST);
	CHECK(folder_rename(root, "x.b", "x.b.d") == -1 && errno == EINVAL);
	CHECK(folder_rename(root, "nope", "y") == -1 && errno == ENOENT);
	CHECK(folder_rename(root, "x", "INBOX") == -1 && errno == EPERM);
	CHECK(folder_delete(root, "x.b") == 0);
	CHECK(!exists(root, ".x.b") && exists(root, ".x.b.c/cur"));
	CHECK(folder_delete(root, "INBOX") == -1 && errno == EPERM);
	CHECK(folder_delete(root, "nope") == -1 && errno == ENOENT);
}

static void
age_dirs(int md)
{
	struct timespec	 ts[2] = { { 1000000000, 0 }, { 1000000000, 0 } };

	utimensat(md, "new", ts, 0);
	utimensat(md, "cur", ts, 0);
}

/* new/ and cur/ unchanged since the last scan: no rescan. */
static void
test_skip(int root)
{
	struct mailbox		*mb;
	struct mailbox_changes	 c;
	int			 md;

	CHECK(folder_create(root, "Skip") == 0);
	md = openat(root, ".Skip", O_RDONLY | O_DIRECTORY);
	deliver(md, "cur", "1.M1P1.h:2,", "a\n");
	age_dirs(md);
	CHECK(mailbox_open(root, "Skip", 0, &mb) == 0);
	CHECK(mailbox_sync(mb, NULL) == 0 && mb->nmsg == 1);
	/* A change hidden by restoring the old mtime is not looked for. */
	CHECK(renameat(md, "cur/1.M1P1.h:2,", md, "cur/1.M1P1.h:2,S") == 0);
	age_dirs(md);
	memset(&c, 0, sizeof(c));
	CHECK(mailbox_sync(mb, &c) == 0 && c.nflagged == 0);
	CHECK(mailbox_find(mb, 1)->flags.std == 0);
	/* A delivery changes new/: seen, with the flag change. */
	deliver(md, "new", "2.M1P1.h", "b\n");
	CHECK(mailbox_sync(mb, &c) == 0 && c.nadded == 1 && c.nflagged == 1);
	mailbox_changes_free(&c);
	CHECK(mailbox_find(mb, 1)->flags.std == MAILDIR_FLAG_SEEN);
	mailbox_close(mb);
	close(md);
}

/* RENAME INBOX: its messages move, INBOX stays, empty. */
static void
test_rename_inbox(int root)
{
	struct mailbox	*in, *old;
	size_t		 n;

	CHECK(mailbox_open(root, "INBOX", 0, &in) == 0);
	CHECK(mailbox_sync(in, NULL) == 0 && in->nmsg > 0);
	n = in->nmsg;
	CHECK(folder_rename(root, "INBOX", "Old mail") == 0);
	CHECK(mailbox_sync(in, NULL) == 0 && in->nmsg == 0);
	CHECK(mailbox_open(root, "Old mail", 0, &old) == 0);
	CHECK(mailbox_sync(old, NULL) == 0 && old->nmsg == n);
	CHECK(mailbox_find(old, 1) != NULL && mailbox_find(old, n) != NULL);
	CHECK(folder_rename(root, "INBOX", "Old mail") == -1 &&
	    errno == EEXIST);
	mailbox_close(in);
	mailbox_close(old);
}

/* A uidlist that is no uidlist: renumbered under a new UIDVALIDITY. */
static void
test_corrupt(int root)
{
	struct mailbox	*mb;
	struct uidlist	 ul;
	uint32_t	 old;
	int		 md;

	CHECK(folder_create(root, "Broken") == 0);
	md = openat(root, ".Broken", O_RDONLY | O_DIRECTORY);
	deliver(md, "new", "1.M1P1.h", "a\n");
	CHECK(mailbox_open(root, "Broken", 0, &mb) == 0);
	CHECK(mailbox_sync(mb, NULL) == 0 && mb->nmsg == 1);
	old = mb->ul.uidvalidity;
	mailbox_close(mb);
	unlinkat(md, "dovecot-uidlist", 0);
	deliver(md, ".", "dovecot-uidlist", "this is not a uidlist\n1 :x\n");
	CHECK(mailbox_open(root, "Broken", 0, &mb) == 0);
	CHECK(mailbox_sync(mb, NULL) == 0 && mb->nmsg == 1);
	CHECK(mb->ul.uidvalidity != 0 && mb->ul.uidvalidity != old);
	mailbox_close(mb);
	uidlist_init(&ul);
	CHECK(uidlist_read(&ul, md) == 0 && ul.nrecs == 1 &&
	    ul.uidvalidity != old);
	uidlist_clear(&ul);
	close(md);
}

#define CONC_PROCS	4
#define CONC_ROUNDS	5
#define CONC_EACH	10
#define CONC_FIRST	300

/* One of several processes delivering and syncing at once. */
static void __attribute__((noreturn))
conc_child(int root, int id)
{
	struct mailbox	*mb;
	char		 name[128], path[256];
	FILE		*out;
	size_t		 i;
	int		 r, k, md;

	if (mailbox_open(root, "Conc", id & 1, &mb) == -1)
		_exit(2);
	md = mb->md;
	for (r = 0; r < CONC_ROUNDS; r++) {
		for (k = 0; k < CONC_EACH; k++) {
			snprintf(name, sizeof(name), "%d.M%dP%dQ%d.c", 2000 + r,
			    k, id, k);
			deliver(md, "new", name, "x\n");
		}
		if (mailbox_sync(mb, NULL) == -1)
			_exit(3);
	}
	snprintf(path, sizeof(path), "%s/view.%d", top, id);
	if ((out = fopen(path, "w")) == NULL)
		_exit(4);
	for (i = 0; i < mb->nmsg; i++)
		fprintf(out, "%u %s\n", mb->msg[i].uid, mb->msg[i].name + 4);
	fclose(out);
	_exit(0);
}

/*
 * Processes numbering one folder at once: every file gets exactly one
 * UID, and what each process saw is what the uidlist says.
 */
static void
test_concurrent(int root)
{
	struct mailbox		*mb;
	struct uidlist_rec	*r;
	char			 name[128], path[256], base[300];
	FILE			*in;
	pid_t			 pid[CONC_PROCS];
	unsigned int		 uid;
	int			 i, st, bad = 0, seen = 0, md;
	size_t			 j;

	CHECK(folder_create(root, "Conc") == 0);
	md = openat(root, ".Conc", O_RDONLY | O_DIRECTORY);
	for (i = 0; i < CONC_FIRST; i++) {
		snprintf(name, sizeof(name), "%d.M%dP1.h", 1000 + i / 7, i);
		deliver(md, "new", name, "y\n");
	}
	for (i = 0; i < CONC_PROCS; i++)
		if ((pid[i] = fork()) == 0)
			conc_child(root, i);
	for (i = 0; i < CONC_PROCS; i++) {
		CHECK(waitpid(pid[i], &st, 0) == pid[i]);
		CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child %d: %d",
		    i, st);
	}
	CHECK(mailbox_open(root, "Conc", 0, &mb) == 0);
	CHECK(mailbox_sync(mb, NULL) == 0);
	CHECK(mb->nmsg == CONC_FIRST + CONC_PROCS * CONC_ROUNDS * CONC_EACH);
	CHECK(mb->ul.nrecs == mb->nmsg);
	for (j = 1; j < mb->ul.nrecs; j++)
		if (maildir_base_cmp(mb->ul.recs[j]->name,
		    mb->ul.recs[j - 1]->name) == 0)
			bad++;
	/* The first files were numbered in delivery order. */
	CHECK(uidlist_get(&mb->ul, 1) != NULL &&
	    strcmp(uidlist_get(&mb->ul, 1)->name, "1000.M0P1.h") == 0);
	for (i = 0; i < CONC_PROCS; i++) {
		snprintf(path, sizeof(path), "%s/view.%d", top, i);
		if ((in = fopen(path, "r")) == NULL) {
			bad++;
			continue;
		}
		while (fscanf(in, "%u %299s", &uid, base) == 2) {
			seen++;
			r = uidlist_get(&mb->ul, uid);
			if (r == NULL || maildir_base_cmp(r->name, base) != 0)
				bad++;
		}
		fclose(in);
	}
	CHECK(bad == 0);
	CHECK(seen >= CONC_PROCS * CONC_FIRST);
	/* No UID twice in one view (view sorted by UID, uidlist too). */
	for (j = 1; j < mb->nmsg; j++)
		CHECK(mb->msg[j].uid > mb->msg[j - 1].uid);
	mailbox_close(mb);
	close(md);
}

int
main(void)
{
	char	 cmd[128];
	int	 root;

	snprintf(top, sizeof(top), "/tmp/test_mailbox.XXXXXX");
	if (mkdtemp(top) == NULL ||
	    (root = open(top, O_RDONLY | O_DIRECTORY)) == -1 ||
	    maildir_create(root, ".", 0) == -1)
		return 1;
	test_select(root);
	test_append_copy(root);
	test_folders(root);
	test_concurrent(root);
	test_corrupt(root);
	test_skip(root);
	test_rename_inbox(root);
	close(root);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", top);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", top);
	return unit_done("test_mailbox");
}
