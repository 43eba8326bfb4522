/*
 * One Maildir folder as a session sees it.  The disk is the truth:
 * the messages are the files in new/ and cur/, their flags are in
 * their names, their UIDs in dovecot-uidlist (uidlist.c), keyword
 * letters in dovecot-keywords (keywords.c).  mailbox_sync() scans the
 * directories, gives UIDs to files no uidlist knows yet (under the
 * uidlist lock, in Dovecot's order, so another process cannot give
 * the same file a second UID), moves new/ files to cur/ as Dovecot
 * does on SELECT, and tells what changed since the last sync.
 *
 * Several processes change one folder at once (lmtpd, other IMAP and
 * POP3 sessions, Dovecot).  A flag change is a rename of one file; if
 * the file was renamed by someone else meanwhile, rename(2) fails with
 * ENOENT, the file is found again by its unique part and the change
 * is applied to the flags it has now, so no update is lost.  A file a
 * scan misses while another process renames it is looked for again
 * before it is called expunged.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "maildir.h"
#include "mailbox.h"

#define STORE_TRIES	8	/* renames lost to other processes */
#define COPY_BUF	65536
#define RECHECK_FEW	64	/* new files checked one by one */

/* A file found by a scan. */
struct scan_ent {
	char		*name;		/* "cur/<file>" or "new/<file>" */
	size_t		 blen;		/* of the unique part, for sorts */
	uint32_t	 uid;
};

struct scan {
	struct scan_ent	*e;
	size_t		 n, cap;
};

static void
scan_free(struct scan *s)
{
	size_t	 i;

	for (i = 0; i < s->n; i++)
		free(s->e[i].name);
	free(s->e);
	memset(s, 0, sizeof(*s));
}

static int
scan_add(struct scan *s, const char *dir, const char *file)
{
	struct scan_ent	*e;
	size_t		 cap;

	if (s->n == s->cap) {
		cap = s->cap ? s->cap * 2 : 256;
		if ((e = reallocarray(s->e, cap, sizeof(*e))) == NULL)
			return -1;
		s->e = e;
		s->cap = cap;
	}
	if (asprintf(&s->e[s->n].name, "%s/%s", dir, file) == -1)
		return -1;
	s->e[s->n].blen = strcspn(file, ":");
	s->e[s->n].uid = 0;
	s->n++;
	return 0;
}

static int
scan_dir(int md, const char *dir, struct scan *s)
{
	DIR		*d;
	struct dirent	*de;
	int		 rv = 0;

	if ((d = opendir_at(md, dir)) == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((de = readdir(d)) != NULL) {
		/* Dot files are not messages (Maildir rule). */
		if (de->d_name[0] == '.')
			continue;
		if (scan_add(s, dir, de->d_name) == -1) {
			rv = -1;
			break;
		}
	}
	closedir(d);
	return rv;
}

static const char *
base_of(const char *name)
{
	return name + 4;	/* past "cur/" or "new/" */
}

/* maildir_base_cmp() with the lengths known. */
static int
base_cmp_len(const char *a, size_t la, const char *b, size_t lb)
{
	int	 r;

	if ((r = memcmp(a, b, la < lb ? la : lb)) != 0)
		return r;
	return la < lb ? -1 : la > lb;
}

static int
ent_cmp(const struct scan_ent *ea, const struct scan_ent *eb)
{
	return base_cmp_len(base_of(ea->name), ea->blen, base_of(eb->name),
	    eb->blen);
}

static int
ent_base_cmp(const void *a, const void *b)
{
	const struct scan_ent	*ea = a, *eb = b;
	int			 r;

	if ((r = ent_cmp(ea, eb)) != 0)
		return r;
	/* The same message in new/ and cur/ (mid-move): cur/ first. */
	return ea->name[0] == 'c' ? -1 : eb->name[0] == 'c';
}

/* Sorted by unique part, one entry per message. */
static void
scan_dedup(struct scan *s)
{
	size_t	 i, o = 0;

	if (s->n == 0)
		return;
	qsort(s->e, s->n, sizeof(*s->e), ent_base_cmp);
	for (i = 0; i < s->n; i++) {
		if (o > 0 && ent_cmp(&s->e[o - 1], &s->e[i]) == 0) {
			free(s->e[i].name);
			continue;
		}
		s->e[o++] = s->e[i];
	}
	s->n = o;
}

static int
scan_folder(int md, struct scan *s)
{
	memset(s, 0, sizeof(*s));
	if (scan_dir(md, "new", s) == -1 || scan_dir(md, "cur", s) == -1) {
		scan_free(s);
		return -1;
	}
	scan_dedup(s);
	return 0;
}

static struct scan_ent *
scan_find(const struct scan *s, const char *base)
{
	size_t	 lo = 0, hi = s->n, mid, blen = strcspn(base, ":");
	int	 c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if ((c = base_cmp_len(base, blen, base_of(s->e[mid].name),
		    s->e[mid].blen)) == 0)
			return &s->e[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* The current name of the file with this unique part, or NULL. */
static char *
find_file(int md, const char *base)
{
	struct scan	 s;
	struct scan_ent	*e;
	char		*name = NULL;

	if (scan_folder(md, &s) == -1)
		return NULL;
	if ((e = scan_find(&s, base)) != NULL) {
		name = e->name;
		e->name = strdup("");
	}
	scan_free(&s);
	if (name == NULL)
		errno = ENOENT;
	return name;
}

int
mailbox_open(int root, const char *name, int readonly, struct mailbox **mbp)
{
	struct mailbox	*mb;
	char		 dir[MAILBOX_NAME_MAX], host[128];

	if (maildir_folder_dir(name, dir, sizeof(dir)) == -1) {
		errno = EINVAL;
		return -1;
	}
	if ((mb = calloc(1, sizeof(*mb))) == NULL)
		return -1;
	mb->root = root;
	mb->readonly = readonly;
	strlcpy(mb->name, name, sizeof(mb->name));
	uidlist_init(&mb->ul);
	keywords_init(&mb->kw);
	if (gethostname(host, sizeof(host)) == -1)
		strlcpy(host, "localhost", sizeof(host));
	host[sizeof(host) - 1] = '\0';
	maildir_uniq_init(&mb->uniq, host);
	mb->md = dir[0] == '\0' ? openat(root, ".", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC) : maildir_open(root, dir);
	if (mb->md == -1 || faccessat(mb->md, "cur", F_OK, 0) == -1) {
		if (mb->md != -1)
			close(mb->md);
		free(mb);
		errno = ENOENT;
		return -1;
	}
	*mbp = mb;
	return 0;
}

static void
free_msgs(struct mbox_msg *m, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		free(m[i].name);
	free(m);
}

void
mailbox_close(struct mailbox *mb)
{
	if (mb == NULL)
		return;
	free_msgs(mb->msg, mb->nmsg);
	uidlist_clear(&mb->ul);
	keywords_clear(&mb->kw);
	close(mb->md);
	free(mb);
}

/*
 * Is mb's directory still the folder of its name?  Not after a DELETE
 * or RENAME by anyone: a mailbox kept open across commands asks first.
 */
int
mailbox_is_current(const struct mailbox *mb)
{
	struct stat	 now, open;
	char		 dir[MAILBOX_NAME_MAX];

	if (maildir_folder_dir(mb->name, dir, sizeof(dir)) == -1 ||
	    fstatat(mb->root, dir[0] == '\0' ? "." : dir, &now, 0) == -1 ||
	    fstat(mb->md, &open) == -1)
		return 0;
	return now.st_dev == open.st_dev && now.st_ino == open.st_ino;
}

void
mailbox_changes_free(struct mailbox_changes *c)
{
	free(c->added);
	free(c->expunged);
	free(c->flagged);
	memset(c, 0, sizeof(*c));
}

struct mbox_msg *
mailbox_find(const struct mailbox *mb, uint32_t uid)
{
	size_t	 lo = 0, hi = mb->nmsg, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (mb->msg[mid].uid == uid)
			return &mb->msg[mid];
		if (mb->msg[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/*
 * The folder's uidlist.  One that is no uidlist at all (its header
 * unreadable) cannot be kept: like Dovecot, start a new one, which
 * gets a new UIDVALIDITY, so that clients drop what they cached.  A
 * valid list is never renumbered.
 */
static int
read_list(struct mailbox *mb)
{
	int	 r;

	if ((r = uidlist_read(&mb->ul, mb->md)) != -1 || errno != EINVAL)
		return r;
	log_warnx("%s: %s is corrupt: new UIDVALIDITY", mb->name,
	    UIDLIST_FILE);
	uidlist_clear(&mb->ul);
	return 1;
}

/* Entries no uidlist record matches yet, UIDs of the others noted. */
static size_t
join_uids(struct mailbox *mb, struct scan *s)
{
	struct uidlist_rec	*r;
	size_t			 i, unknown = 0;

	for (i = 0; i < s->n; i++) {
		r = uidlist_lookup(&mb->ul, base_of(s->e[i].name));
		s->e[i].uid = r != NULL ? r->uid : 0;
		if (r == NULL)
			unknown++;
	}
	return unknown;
}

/* A new/ file not there any more but in cur/ (moved, not expunged)? */
static int
file_moved_to_cur(int md, const char *name)
{
	char	 cur[MAILDIR_NAME_MAX + 8];
	char	*found;

	if (strncmp(name, "new/", 4) != 0)
		return 0;
	snprintf(cur, sizeof(cur), "cur/%s:2,", name + 4);
	if (faccessat(md, cur, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		return 1;
	if ((found = find_file(md, name + 4)) == NULL)
		return 0;
	free(found);
	return 1;
}

static int
ent_order_cmp(const void *a, const void *b)
{
	return maildir_order_cmp(a, b);
}

/* A file without a UID still there, now that the lock is held? */
static int
still_there(struct mailbox *mb, const struct scan *now,
    const struct scan_ent *e)
{
	if (now->n > 0)
		return scan_find(now, base_of(e->name)) != NULL;
	return faccessat(mb->md, e->name, F_OK, AT_SYMLINK_NOFOLLOW) == 0 ||
	    (errno == ENOENT && file_moved_to_cur(mb->md, e->name));
}

/*
 * UIDs for new files, under the lock: the list is read again (another
 * process may have numbered them meanwhile), the rest numbered in
 * delivery order and the list written.  A file expunged by another
 * process between our scan and the lock (its record already gone)
 * gets no UID.  That takes a change of the list, as numbering it
 * first did: with the list as it was before our scan, every file the
 * scan found without a UID is one, and none is looked at again (a
 * first SELECT of 100,000 files would make 100,000 faccessat(2)
 * calls).  Else a few are looked for one by one, many by one more
 * scan.
 */
static int
assign_uids(struct mailbox *mb, struct scan *s)
{
	struct dotlock		 l;
	struct maildir_order	*todo = NULL;
	struct scan		 now;
	size_t			 i, n = 0, unknown;
	int			 r, check;

	memset(&now, 0, sizeof(now));
	if (uidlist_lock(mb->md, &l) == -1)
		return -1;
	if ((check = uidlist_changed(&mb->ul, mb->md)) &&
	    (r = read_list(mb)) == -1)
		goto fail;
	if (uidlist_setup(&mb->ul, mb->root) == -1)
		goto fail;
	unknown = join_uids(mb, s);
	if (check && unknown > RECHECK_FEW && scan_folder(mb->md, &now) == -1)
		goto fail;
	if ((todo = reallocarray(NULL, unknown + 1, sizeof(*todo))) == NULL)
		goto fail;
	for (i = 0; i < s->n; i++) {
		if (s->e[i].uid != 0 ||
		    (check && !still_there(mb, &now, &s->e[i])))
			continue;
		maildir_name_order(base_of(s->e[i].name), &todo[n]);
		todo[n++].arg = &s->e[i];
	}
	scan_free(&now);
	qsort(todo, n, sizeof(*todo), ent_order_cmp);
	for (i = 0; i < n; i++) {
		struct scan_ent	*e = todo[i].arg;

		if ((e->uid = uidlist_add(&mb->ul, base_of(e->name))) == 0)
			goto fail;
	}
	free(todo);
	return uidlist_commit(&mb->ul, mb->md, &l);
 fail:
	free(todo);
	scan_free(&now);
	dotlock_release(&l);
	return -1;
}

/* SELECT moves new/ files to cur/ ("x" becomes "x:2,"), as Dovecot. */
static void
move_new(struct mailbox *mb, struct scan *s)
{
	struct maildir_flags	 none = { 0, 0 };
	char			 name[MAILDIR_NAME_MAX], *n;
	size_t			 i;

	for (i = 0; i < s->n; i++) {
		if (s->e[i].uid == 0 || strncmp(s->e[i].name, "new/", 4) != 0)
			continue;
		if (maildir_flags_parse(base_of(s->e[i].name), &none) == -1)
			continue;
		if (maildir_rename_flags(mb->md, s->e[i].name, &none, name,
		    sizeof(name)) == -1)
			continue;	/* moved by another: seen next sync */
		if (asprintf(&n, "cur/%s", name) == -1)
			continue;
		free(s->e[i].name);
		s->e[i].name = n;
	}
}

/* A message in the last view that this scan did not see, if any. */
static int
view_missing(const struct mailbox *mb, const struct scan *s)
{
	size_t	 i;

	for (i = 0; i < mb->nmsg; i++)
		if (scan_find(s, base_of(mb->msg[i].name)) == NULL)
			return 1;
	return 0;
}

/* Add to a what found only by a second scan b (a file mid-rename). */
static int
scan_merge(struct scan *a, struct scan *b)
{
	size_t	 i;

	for (i = 0; i < b->n; i++) {
		if (scan_find(a, base_of(b->e[i].name)) != NULL)
			continue;
		if (scan_add(a, "cur", "x") == -1)
			return -1;
		free(a->e[a->n - 1].name);
		a->e[a->n - 1].name = b->e[i].name;
		a->e[a->n - 1].blen = b->e[i].blen;
		b->e[i].name = NULL;
	}
	scan_dedup(a);
	return 0;
}

static int
uid_push(uint32_t **v, size_t *n, uint32_t uid)
{
	uint32_t	*nv;

	if ((nv = reallocarray(*v, *n + 1, sizeof(**v))) == NULL)
		return -1;
	nv[(*n)++] = uid;
	*v = nv;
	return 0;
}

static int
msg_uid_cmp(const void *a, const void *b)
{
	const struct mbox_msg	*ma = a, *mb = b;

	return ma->uid < mb->uid ? -1 : ma->uid > mb->uid;
}

/* The new view from the scan, and how it differs from the old one. */
static int
build_view(struct mailbox *mb, struct scan *s, struct mailbox_changes *c)
{
	struct mbox_msg	*m, *old;
	size_t		 i, n = 0, oi = 0, ni = 0;
	int		 rv = 0;

	if ((m = reallocarray(NULL, s->n + 1, sizeof(*m))) == NULL)
		return -1;
	for (i = 0; i < s->n; i++) {
		if (s->e[i].uid == 0)
			continue;
		m[n].uid = s->e[i].uid;
		m[n].name = s->e[i].name;
		s->e[i].name = NULL;
		if (maildir_flags_parse(base_of(m[n].name), &m[n].flags) == -1)
			m[n].flags.std = m[n].flags.keywords = 0;
		n++;
	}
	qsort(m, n, sizeof(*m), msg_uid_cmp);
	old = mb->msg;
	while (c != NULL && (oi < mb->nmsg || ni < n)) {
		if (ni == n || (oi < mb->nmsg && old[oi].uid < m[ni].uid))
			rv |= uid_push(&c->expunged, &c->nexpunged,
			    old[oi++].uid);
		else if (oi == mb->nmsg || m[ni].uid < old[oi].uid)
			rv |= uid_push(&c->added, &c->nadded, m[ni++].uid);
		else {
			if (old[oi].flags.std != m[ni].flags.std ||
			    old[oi].flags.keywords != m[ni].flags.keywords)
				rv |= uid_push(&c->flagged, &c->nflagged,
				    m[ni].uid);
			oi++;
			ni++;
		}
	}
	free_msgs(mb->msg, mb->nmsg);
	mb->msg = m;
	mb->nmsg = n;
	return rv;
}

static int
same_time(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

/*
 * Can the last scan stand?  Only if neither directory changed since,
 * and their mtimes are older than the scan by more than a second: on
 * a file system with coarse times, a change in the same second as the
 * scan would not show.  (Dovecot keeps the same rule.)
 */
static int
scan_still_valid(struct mailbox *mb, struct timespec *nm, struct timespec *cm)
{
	struct stat	 st;

	nm->tv_sec = cm->tv_sec = 0;
	nm->tv_nsec = cm->tv_nsec = 0;
	if (fstatat(mb->md, "new", &st, 0) == 0)
		*nm = st.st_mtim;
	if (fstatat(mb->md, "cur", &st, 0) == 0)
		*cm = st.st_mtim;
	return mb->scanned_at != 0 && same_time(nm, &mb->new_mtime) &&
	    same_time(cm, &mb->cur_mtime) &&
	    nm->tv_sec + 1 < mb->scanned_at && cm->tv_sec + 1 < mb->scanned_at;
}

/*
 * Bring the view in step with the disk; c (if not NULL, zeroed by the
 * caller) gets the UIDs added, expunged and with other flags.
 */
int
mailbox_sync(struct mailbox *mb, struct mailbox_changes *c)
{
	struct scan	 s, again;
	struct timespec	 nm, cm;
	time_t		 now = time(NULL);
	int		 r, kwch, ulch;

	if ((kwch = keywords_changed(&mb->kw, mb->md)) &&
	    keywords_read(&mb->kw, mb->md) == -1)
		return -1;
	if ((ulch = uidlist_changed(&mb->ul, mb->md)) &&
	    (r = read_list(mb)) == -1) {
		log_warn("%s: %s", mb->name, UIDLIST_FILE);
		return -1;
	}
	/* Times taken before the scan: a change during it shows next time. */
	if (scan_still_valid(mb, &nm, &cm) && !kwch && !ulch)
		return 0;
	if (scan_folder(mb->md, &s) == -1)
		return -1;
	if (view_missing(mb, &s)) {
		if (scan_folder(mb->md, &again) == -1 ||
		    scan_merge(&s, &again) == -1) {
			scan_free(&again);
			scan_free(&s);
			return -1;
		}
		scan_free(&again);
	}
	if ((join_uids(mb, &s) > 0 || mb->ul.uidvalidity == 0) &&
	    assign_uids(mb, &s) == -1) {
		scan_free(&s);
		return -1;
	}
	if (!mb->readonly)
		move_new(mb, &s);
	r = build_view(mb, &s, c);
	scan_free(&s);
	if (r == 0) {
		/* Our own moves changed the directories: no skip next time. */
		mb->new_mtime = nm;
		mb->cur_mtime = cm;
		mb->scanned_at = now;
	}
	return r;
}

/*
 * Keyword names as bits of this folder's letters; with create, a
 * keyword new to the folder gets a letter.  -1 (ENOENT: unknown and
 * not created, ENOSPC: no letter left).
 */
int
mailbox_keyword_bits(struct mailbox *mb, const char **names, size_t n,
    int create, uint32_t *bits)
{
	size_t	 i;
	int	 idx;

	*bits = 0;
	for (i = 0; i < n; i++) {
		if ((idx = keywords_find(&mb->kw, names[i])) == -1 &&
		    keywords_changed(&mb->kw, mb->md)) {
			(void)keywords_read(&mb->kw, mb->md);
			idx = keywords_find(&mb->kw, names[i]);
		}
		if (idx == -1 && create)
			idx = keywords_add(&mb->kw, mb->md, names[i]);
		else if (idx == -1)
			errno = ENOENT;
		if (idx == -1)
			return -1;
		*bits |= 1U << idx;
	}
	return 0;
}

static void
apply_op(struct maildir_flags *f, enum mailbox_store_op op,
    const struct maildir_flags *d)
{
	switch (op) {
	case MB_STORE_SET:
		*f = *d;
		break;
	case MB_STORE_ADD:
		f->std |= d->std;
		f->keywords |= d->keywords;
		break;
	case MB_STORE_REMOVE:
		f->std &= ~d->std;
		f->keywords &= ~d->keywords;
		break;
	}
}

/*
 * Change a message's flags by renaming its file.  The change applies
 * to the flags the file has at the moment of the rename: when another
 * process renamed it first, it is found again and the change redone
 * on its flags.  -1 with ENOENT when the message is gone.
 */
int
mailbox_store(struct mailbox *mb, uint32_t uid, enum mailbox_store_op op,
    const struct maildir_flags *d)
{
	struct mbox_msg		*m;
	struct maildir_flags	 f;
	char			 name[MAILDIR_NAME_MAX], *n;
	int			 tries;

	if ((m = mailbox_find(mb, uid)) == NULL) {
		errno = ENOENT;
		return -1;
	}
	for (tries = 0; tries < STORE_TRIES; tries++) {
		if (maildir_flags_parse(base_of(m->name), &f) == -1)
			f.std = f.keywords = 0;
		apply_op(&f, op, d);
		if (maildir_rename_flags(mb->md, m->name, &f, name,
		    sizeof(name)) == 0) {
			if (asprintf(&n, "cur/%s", name) == -1)
				return -1;
			free(m->name);
			m->name = n;
			m->flags = f;
			return 0;
		}
		if (errno != ENOENT)
			return -1;
		if ((n = find_file(mb->md, base_of(m->name))) == NULL)
			return -1;
		free(m->name);
		m->name = n;
	}
	errno = EAGAIN;
	return -1;
}

/* Remove the file of m, wherever another process renamed it. */
static int
unlink_msg(struct mailbox *mb, struct mbox_msg *m)
{
	char	*n;
	int	 tries;

	for (tries = 0; tries < STORE_TRIES; tries++) {
		if (unlinkat(mb->md, m->name, 0) == 0)
			return 0;
		if (errno != ENOENT)
			return -1;
		if ((n = find_file(mb->md, base_of(m->name))) == NULL)
			return 0;	/* expunged by another */
		free(m->name);
		m->name = n;
	}
	errno = EAGAIN;
	return -1;
}

static void
view_remove(struct mailbox *mb, uint32_t uid)
{
	struct mbox_msg	*m;
	size_t		 i;

	if ((m = mailbox_find(mb, uid)) == NULL)
		return;
	i = m - mb->msg;
	free(m->name);
	memmove(mb->msg + i, mb->msg + i + 1,
	    (mb->nmsg - i - 1) * sizeof(*mb->msg));
	mb->nmsg--;
}

/*
 * EXPUNGE these UIDs: the files first (a crash in between leaves a
 * record without a file, which every reader takes as expunged), then
 * the records, under the lock.  They leave the view.
 */
int
mailbox_expunge(struct mailbox *mb, const uint32_t *uids, size_t n)
{
	struct dotlock	 l;
	struct mbox_msg	*m;
	size_t		 i;
	int		 rv = 0;

	for (i = 0; i < n; i++)
		if ((m = mailbox_find(mb, uids[i])) != NULL &&
		    unlink_msg(mb, m) == -1)
			return -1;
	if (n > 0 && fsync_dir_at(mb->md, "cur") == -1)
		return -1;
	if (uidlist_lock(mb->md, &l) == -1)
		return -1;
	if (read_list(mb) == -1) {
		dotlock_release(&l);
		return -1;
	}
	for (i = 0; i < n; i++) {
		(void)uidlist_remove(&mb->ul, uids[i]);
		view_remove(mb, uids[i]);
	}
	if (uidlist_commit(&mb->ul, mb->md, &l) == -1)
		rv = -1;
	return rv;
}

/* The UID of a file just published: the lock is held, l. */
static uint32_t
record_new(struct mailbox *mb, const char *file)
{
	struct uidlist_rec	*r;

	if ((r = uidlist_lookup(&mb->ul, file)) != NULL)
		return r->uid;
	return uidlist_add(&mb->ul, file);
}

/*
 * The lock, and the list as it is under it: read again only if another
 * process changed it since we last read or wrote it (a mailbox kept
 * open for APPEND after APPEND reads a big list once, not every time).
 */
static int
lock_and_read(struct mailbox *mb, struct dotlock *l)
{
	if (uidlist_lock(mb->md, l) == -1)
		return -1;
	if ((mb->ul.exists && !uidlist_changed(&mb->ul, mb->md) ? 0 :
	    read_list(mb)) == -1 || uidlist_setup(&mb->ul, mb->root) == -1) {
		dotlock_release(l);
		return -1;
	}
	return 0;
}

static int
set_times(int md, const char *path, time_t when)
{
	struct timespec	 ts[2];

	if (when <= 0)
		return 0;
	ts[0].tv_sec = ts[1].tv_sec = when;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	return utimensat(md, path, ts, AT_SYMLINK_NOFOLLOW);
}

/*
 * APPEND: the message written through tmp/ into cur/ with its flags,
 * its mtime set to the internal date (how Dovecot keeps it), and its
 * UID recorded, all under the uidlist lock so that the UID given back
 * (APPENDUID) is the one every process sees.
 */
int
mailbox_append(struct mailbox *mb, const void *data, size_t len,
    const struct maildir_flags *f, time_t internaldate, uint32_t *uid)
{
	struct maildir_flags	 none = { 0, 0 };
	struct maildir_tmp	 t;
	struct dotlock		 l;
	char			 name[MAILDIR_NAME_MAX];
	char			 path[MAILDIR_NAME_MAX + 8];

	if (lock_and_read(mb, &l) == -1)
		return -1;
	if (maildir_tmp_open(mb->md, &mb->uniq, &t) == -1)
		goto fail;
	if (maildir_tmp_write(&t, data, len) == -1) {
		maildir_tmp_abort(mb->md, &t);
		goto fail;
	}
	if (maildir_tmp_commit(mb->md, &t, f != NULL ? f : &none, name,
	    sizeof(name)) == -1)
		goto fail;
	snprintf(path, sizeof(path), "cur/%s", name);
	if (set_times(mb->md, path, internaldate) == -1)
		log_warn("%s: internal date", path);
	/* A name just made unique here: no record can have it yet. */
	if ((*uid = uidlist_add(&mb->ul, name)) == 0)
		goto fail;
	return uidlist_commit(&mb->ul, mb->md, &l);
 fail:
	dotlock_release(&l);
	return -1;
}

/* Keyword bits of src's letters as bits of dst's letters. */
static int
map_keywords(struct mailbox *src, struct mailbox *dst, uint32_t in,
    uint32_t *out)
{
	const char	*kn;
	unsigned int	 i;
	int		 idx;

	*out = 0;
	for (i = 0; i < KEYWORDS_MAX; i++) {
		if ((in & (1U << i)) == 0 ||
		    (kn = keywords_name(&src->kw, i)) == NULL)
			continue;
		if ((idx = keywords_add(&dst->kw, dst->md, kn)) == -1)
			return -1;
		*out |= 1U << idx;
	}
	return 0;
}

/* Bytes of an open file through dst's tmp/ into its cur/. */
static int
copy_bytes(struct mailbox *dst, int fd, const struct maildir_flags *f,
    char *name, size_t namesz)
{
	struct maildir_tmp	 t;
	char			 buf[COPY_BUF];
	ssize_t			 n;

	if (maildir_tmp_open(dst->md, &dst->uniq, &t) == -1)
		return -1;
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if ((n == -1 && errno != EINTR) ||
		    (n > 0 && maildir_tmp_write(&t, buf, n) == -1)) {
			maildir_tmp_abort(dst->md, &t);
			return -1;
		}
	}
	return maildir_tmp_commit(dst->md, &t, f, name, namesz);
}

/* The name a copy gets: the same unique part, or a new one if taken. */
static int
copy_name(struct mailbox *dst, const char *srcbase,
    const struct maildir_flags *f, int fresh, char *name, size_t namesz)
{
	char		 base[MAILDIR_NAME_MAX], u[MAILDIR_NAME_MAX];
	const char	*sizes;
	size_t		 blen = strcspn(srcbase, ":");
	int		 n;

	if (!fresh) {
		n = snprintf(base, sizeof(base), "%.*s", (int)blen, srcbase);
	} else {
		if (maildir_uniq_next(&dst->uniq, u, sizeof(u)) == -1)
			return -1;
		/* Keep ",S=..,W=.." so that sizes need no stat later. */
		sizes = memchr(srcbase, ',', blen);
		n = snprintf(base, sizeof(base), "%s%.*s", u,
		    sizes != NULL ? (int)(srcbase + blen - sizes) : 0,
		    sizes != NULL ? sizes : "");
	}
	if (n < 0 || (size_t)n >= sizeof(base))
		return -1;
	return maildir_name_set_flags(base, f, name, namesz);
}

/* One message into dst (the lock on dst's uidlist is held). */
static uint32_t
copy_one(struct mailbox *src, struct mbox_msg *m, struct mailbox *dst)
{
	struct maildir_flags	 f = m->flags;
	char			 name[MAILDIR_NAME_MAX];
	char			 to[MAILDIR_NAME_MAX + 8];
	char			*n;
	int			 fd, tries, fresh;

	if (map_keywords(src, dst, m->flags.keywords, &f.keywords) == -1)
		return 0;
	fresh = uidlist_lookup(&dst->ul, base_of(m->name)) != NULL;
	for (tries = 0; tries < STORE_TRIES; tries++) {
		if (copy_name(dst, base_of(m->name), &f, fresh, name,
		    sizeof(name)) == -1)
			return 0;
		snprintf(to, sizeof(to), "cur/%s", name);
		if (linkat(src->md, m->name, dst->md, to, 0) == 0)
			return record_new(dst, name);
		if (errno == EEXIST) {
			fresh = 1;
			continue;
		}
		if (errno == ENOENT) {
			if ((n = find_file(src->md, base_of(m->name))) == NULL)
				return 0;
			free(m->name);
			m->name = n;
			continue;
		}
		break;
	}
	/* No hard link here (another file system, EPERM): copy bytes. */
	if ((fd = openat(src->md, m->name, O_RDONLY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		return 0;
	tries = copy_bytes(dst, fd, &f, name, sizeof(name));
	close(fd);
	if (tries == -1)
		return 0;
	return record_new(dst, name);
}

/*
 * COPY: each message into dst (a hard link, as Dovecot does, else a
 * copy), all new UIDs given under one lock of dst's uidlist; newuids[i]
 * gets the UID of uids[i] (0: it was expunged meanwhile), for
 * UIDPLUS's COPYUID.
 */
int
mailbox_copy(struct mailbox *src, const uint32_t *uids, size_t n,
    struct mailbox *dst, uint32_t *newuids)
{
	struct dotlock	 l;
	struct mbox_msg	*m;
	size_t		 i;

	if (lock_and_read(dst, &l) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		newuids[i] = 0;
		if ((m = mailbox_find(src, uids[i])) == NULL)
			continue;
		if ((newuids[i] = copy_one(src, m, dst)) == 0 &&
		    errno != ENOENT) {
			dotlock_release(&l);
			return -1;
		}
	}
	if (fsync_dir_at(dst->md, "cur") == -1) {
		dotlock_release(&l);
		return -1;
	}
	return uidlist_commit(&dst->ul, dst->md, &l);
}

/* MOVE: COPY, then EXPUNGE of what was copied. */
int
mailbox_move(struct mailbox *src, const uint32_t *uids, size_t n,
    struct mailbox *dst, uint32_t *newuids)
{
	uint32_t	*done;
	size_t		 i, k = 0;
	int		 r;

	if (mailbox_copy(src, uids, n, dst, newuids) == -1)
		return -1;
	if ((done = reallocarray(NULL, n + 1, sizeof(*done))) == NULL)
		return -1;
	for (i = 0; i < n; i++)
		if (newuids[i] != 0)
			done[k++] = uids[i];
	r = mailbox_expunge(src, done, k);
	free(done);
	return r;
}
