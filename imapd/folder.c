/*
 * Folders of a Maildir++ root: INBOX is the root itself, "a.b" is the
 * directory ".a.b" with a maildirfolder file, the separator is '.'.
 * A level that exists only as a parent (".a.b" without ".a") is
 * listed as not existing (\NonExistent or \Noselect for the caller).
 *
 * Special use (RFC 6154) follows the names Dovecot's default config
 * (15-mailboxes.conf) gives: Drafts, Junk, Trash, Sent and "Sent
 * Messages"; Archive is added for \Archive.  Others come from the file
 * special_use.c keeps.
 *
 * CREATE also writes the new folder's dovecot-uidlist, as Dovecot does,
 * so that its UIDVALIDITY is fixed at creation.  DELETE first renames
 * the directory to a hidden name, so that no reader sees it half
 * removed.  RENAME moves the folder and every folder below it; a
 * RENAME of INBOX moves its messages to the new folder.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "fileio.h"
#include "maildir.h"
#include "folder.h"
#include "uidlist.h"

static const struct {
	const char	*name;
	int		 use;
} special_names[] = {
	{ "Drafts", MBOX_SPECIAL_DRAFTS },
	{ "Junk", MBOX_SPECIAL_JUNK },
	{ "Trash", MBOX_SPECIAL_TRASH },
	{ "Sent", MBOX_SPECIAL_SENT },
	{ "Sent Messages", MBOX_SPECIAL_SENT },
	{ "Archive", MBOX_SPECIAL_ARCHIVE },
};

int
folder_special_use(const char *name)
{
	size_t	 i;

	for (i = 0; i < sizeof(special_names) / sizeof(special_names[0]); i++)
		if (strcmp(special_names[i].name, name) == 0)
			return special_names[i].use;
	return 0;
}

static const struct {
	int		 bit;
	const char	*attr;
} special_attrs[] = {
	{ MBOX_SPECIAL_SENT, "\\Sent" },
	{ MBOX_SPECIAL_DRAFTS, "\\Drafts" },
	{ MBOX_SPECIAL_TRASH, "\\Trash" },
	{ MBOX_SPECIAL_JUNK, "\\Junk" },
	{ MBOX_SPECIAL_ARCHIVE, "\\Archive" },
};

/* Attributes are atoms, compared without case (RFC 6154 2). */
int
folder_special_attr(const char *attr)
{
	size_t	 i;

	for (i = 0; i < sizeof(special_attrs) / sizeof(special_attrs[0]); i++)
		if (strcasecmp(special_attrs[i].attr, attr) == 0)
			return special_attrs[i].bit;
	return 0;
}

const char *
folder_special_name(int bit)
{
	size_t	 i;

	for (i = 0; i < sizeof(special_attrs) / sizeof(special_attrs[0]); i++)
		if (special_attrs[i].bit == bit)
			return special_attrs[i].attr;
	return NULL;
}

static struct folder *
list_add(struct folder_list *fl, const char *name, int exists)
{
	struct folder	*f;

	if ((f = reallocarray(fl->f, fl->n + 1, sizeof(*f))) == NULL)
		return NULL;
	fl->f = f;
	f = &fl->f[fl->n++];
	memset(f, 0, sizeof(*f));
	strlcpy(f->name, name, sizeof(f->name));
	f->exists = exists;
	f->special = folder_special_use(name);
	return f;
}

/* INBOX first, then by name: the order LIST answers in. */
int
folder_name_cmp(const char *a, const char *b)
{
	if (strcmp(a, "INBOX") == 0)
		return strcmp(b, "INBOX") == 0 ? 0 : -1;
	if (strcmp(b, "INBOX") == 0)
		return 1;
	return strcmp(a, b);
}

static int
folder_cmp(const void *a, const void *b)
{
	const struct folder	*fa = a, *fb = b;

	return folder_name_cmp(fa->name, fb->name);
}

static struct folder *
list_find(struct folder_list *fl, const char *name)
{
	size_t	 i;

	for (i = 0; i < fl->n; i++)
		if (strcmp(fl->f[i].name, name) == 0)
			return &fl->f[i];
	return NULL;
}

/* Parents of every folder exist in the list, children are marked. */
static int
add_parents(struct folder_list *fl)
{
	char		 p[MAILBOX_NAME_MAX], *dot;
	struct folder	*f;
	size_t		 i, n = fl->n;

	for (i = 0; i < n; i++) {
		strlcpy(p, fl->f[i].name, sizeof(p));
		while ((dot = strrchr(p, MAILBOX_SEP)) != NULL) {
			*dot = '\0';
			if ((f = list_find(fl, p)) == NULL &&
			    (f = list_add(fl, p, 0)) == NULL)
				return -1;
			f->children = 1;
		}
	}
	return 0;
}

/* Every folder below root, INBOX first, sorted. */
int
folder_list(int root, struct folder_list *fl)
{
	DIR		*d;
	struct dirent	*de;
	struct stat	 st;
	char		 name[MAILBOX_NAME_MAX];

	memset(fl, 0, sizeof(*fl));
	if (list_add(fl, "INBOX", 1) == NULL)
		return -1;
	if ((d = opendir_at(root, ".")) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] != '.' || strcmp(de->d_name, ".") == 0 ||
		    maildir_folder_name(de->d_name, MAILBOX_SEP, name,
		    sizeof(name)) == -1)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) == -1 || !S_ISDIR(st.st_mode))
			continue;
		if (list_add(fl, name, 1) == NULL) {
			closedir(d);
			folder_list_free(fl);
			return -1;
		}
	}
	closedir(d);
	if (add_parents(fl) == -1) {
		folder_list_free(fl);
		return -1;
	}
	qsort(fl->f, fl->n, sizeof(*fl->f), folder_cmp);
	special_use_apply(root, fl);
	return 0;
}

void
folder_list_free(struct folder_list *fl)
{
	free(fl->f);
	memset(fl, 0, sizeof(*fl));
}

/* The uidlist of a folder just made: UIDVALIDITY from now on. */
static int
write_uidlist(int root, const char *dir)
{
	struct uidlist	 ul;
	struct dotlock	 l;
	int		 md, r = -1;

	if ((md = maildir_open(root, dir)) == -1)
		return -1;
	uidlist_init(&ul);
	if (uidlist_lock(md, &l) == 0) {
		if (uidlist_read(&ul, md) != -1 &&
		    uidlist_setup(&ul, root) == 0)
			r = uidlist_commit(&ul, md, &l);
		else
			dotlock_release(&l);
	}
	uidlist_clear(&ul);
	close(md);
	return r;
}

/* CREATE: -1 with EEXIST when there, EINVAL for a bad name. */
int
folder_create(int root, const char *name)
{
	char	 dir[MAILBOX_NAME_MAX];
	int	 r;

	if (maildir_folder_dir(name, dir, sizeof(dir)) == -1 ||
	    dir[0] == '\0') {
		errno = dir[0] == '\0' ? EEXIST : EINVAL;
		return -1;
	}
	if ((r = maildir_folder_create(root, dir)) == -1)
		return -1;
	if (r == MAILDIR_EXISTED) {
		errno = EEXIST;
		return -1;
	}
	return write_uidlist(root, dir);
}

/* DELETE: the folder only; folders below it stay (RFC 3501 6.3.4). */
int
folder_delete(int root, const char *name)
{
	char	 dir[MAILBOX_NAME_MAX], hidden[64];

	if (strcasecmp(name, "INBOX") == 0) {
		errno = EPERM;
		return -1;
	}
	if (maildir_folder_dir(name, dir, sizeof(dir)) == -1) {
		errno = EINVAL;
		return -1;
	}
	/* "..x" is no folder name: nobody lists it while it goes. */
	snprintf(hidden, sizeof(hidden), "..tsamba-delete.%ld",
	    (long)getpid());
	if (renameat(root, dir, root, hidden) == -1)
		return -1;
	return maildir_remove(root, hidden);
}

/*
 * RENAME INBOX (RFC 3501 6.3.5): its messages move to a new folder,
 * INBOX stays, empty; folders below INBOX do not move.
 */
static int
rename_inbox(int root, const char *to)
{
	struct mailbox	*in, *dst;
	uint32_t	*uids, *newuids;
	size_t		 i;
	int		 r = -1;

	if (folder_create(root, to) == -1)
		return -1;
	if (mailbox_open(root, "INBOX", 0, &in) == -1)
		return -1;
	if (mailbox_open(root, to, 0, &dst) == -1) {
		mailbox_close(in);
		return -1;
	}
	if (mailbox_sync(in, NULL) == 0 && mailbox_sync(dst, NULL) == 0 &&
	    (uids = reallocarray(NULL, in->nmsg + 1, sizeof(*uids))) != NULL) {
		if ((newuids = reallocarray(NULL, in->nmsg + 1,
		    sizeof(*newuids))) != NULL) {
			for (i = 0; i < in->nmsg; i++)
				uids[i] = in->msg[i].uid;
			r = mailbox_move(in, uids, in->nmsg, dst, newuids);
			free(newuids);
		}
		free(uids);
	}
	mailbox_close(in);
	mailbox_close(dst);
	return r;
}

/*
 * RENAME a folder and those below it (".a" and ".a.*" to ".b", ".b.*");
 * INBOX as rename_inbox() says.  Nothing can become INBOX (EPERM).
 */
int
folder_rename(int root, const char *from, const char *to)
{
	char		 fdir[MAILBOX_NAME_MAX], tdir[MAILBOX_NAME_MAX];
	char		 dst[MAILBOX_NAME_MAX * 2];
	DIR		*d;
	struct dirent	*de;
	size_t		 flen;
	int		 rv = 0, moved = 0;

	if (strcasecmp(to, "INBOX") == 0) {
		errno = EPERM;
		return -1;
	}
	if (strcasecmp(from, "INBOX") == 0)
		return rename_inbox(root, to);
	if (maildir_folder_dir(from, fdir, sizeof(fdir)) == -1 ||
	    maildir_folder_dir(to, tdir, sizeof(tdir)) == -1) {
		errno = EINVAL;
		return -1;
	}
	flen = strlen(fdir);
	/* Into itself ("a" to "a.b") would loop. */
	if (strncmp(tdir, fdir, flen) == 0 && tdir[flen] == '.') {
		errno = EINVAL;
		return -1;
	}
	if (faccessat(root, tdir, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
		errno = EEXIST;
		return -1;
	}
	if (renameat(root, fdir, root, tdir) == 0)
		moved = 1;
	else if (errno != ENOENT)
		return -1;
	if ((d = opendir_at(root, ".")) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, fdir, flen) != 0 ||
		    de->d_name[flen] != '.')
			continue;
		snprintf(dst, sizeof(dst), "%s%s", tdir, de->d_name + flen);
		if (strlen(dst) > NAME_MAX ||
		    renameat(dirfd(d), de->d_name, dirfd(d), dst) == -1)
			rv = -1;
		else
			moved = 1;
	}
	closedir(d);
	if (rv == 0 && !moved) {
		errno = ENOENT;
		return -1;
	}
	return rv;
}
