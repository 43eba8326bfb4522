/*
 * Special-use attributes given with CREATE (RFC 6154 CREATE-SPECIAL-USE)
 * to a folder whose name does not already carry them.  A folder named
 * Sent, Drafts, Trash, Junk or Archive has its attribute from the name
 * (folder.c); any other keeps it in "tsamba-special-use" in the mail
 * home, one line per attribute, "<attribute> SP <mailbox name>", the
 * name in the stored form (modified UTF-7, '.' between levels).
 * Dovecot takes the same from its config, which a user cannot change,
 * so a small per-user file it ignores is the place for it.  DELETE and
 * RENAME keep the file in step; it is rewritten under a dot-lock like
 * the subscriptions file.
 */

#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dotlock.h"
#include "fileio.h"
#include "folder.h"

#define SPECIAL_USE_FILE	"tsamba-special-use"
#define SPECIAL_USE_MAX		(64 * 1024)

/* The file's contents (none: empty), NUL ended; -1 on error. */
static int
su_read(int root, char **buf, size_t *len)
{
	int	 fd, r;

	if ((fd = openat(root, SPECIAL_USE_FILE, O_RDONLY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1) {
		if (errno != ENOENT)
			return -1;
		if ((*buf = strdup("")) == NULL)
			return -1;
		*len = 0;
		return 0;
	}
	r = fileio_read_fd(fd, SPECIAL_USE_MAX, buf, len);
	close(fd);
	return r;
}

/*
 * The next line of p: its attribute bit (0 if unknown) and its name,
 * NUL ended in place.  NULL at the end.
 */
static char *
su_line(char *p, int *bit, char **name)
{
	char	*nl, *sp;

	while (*p == '\n')
		p++;
	if (*p == '\0')
		return NULL;
	if ((nl = strchr(p, '\n')) != NULL)
		*nl++ = '\0';
	else
		nl = p + strlen(p);
	*bit = 0;
	*name = p + strlen(p);
	if ((sp = strchr(p, ' ')) != NULL) {
		*sp = '\0';
		*bit = folder_special_attr(p);
		*name = sp + 1;
	}
	return nl;
}

/* Or the attributes the file gives into the folders of fl. */
void
special_use_apply(int root, struct folder_list *fl)
{
	char	*buf, *p, *name;
	size_t	 len, i;
	int	 bit;

	if (su_read(root, &buf, &len) == -1)
		return;
	for (p = buf; (p = su_line(p, &bit, &name)) != NULL; )
		for (i = 0; i < fl->n; i++)
			if (fl->f[i].exists && strcmp(fl->f[i].name, name) == 0)
				fl->f[i].special |= bit;
	free(buf);
}

/* The attributes the file gives one name (LSUB asks name by name). */
int
special_use_of(int root, const char *name)
{
	char	*buf, *p, *n;
	size_t	 len;
	int	 bit, bits = 0;

	if (su_read(root, &buf, &len) == -1)
		return 0;
	for (p = buf; (p = su_line(p, &bit, &n)) != NULL; )
		if (strcmp(n, name) == 0)
			bits |= bit;
	free(buf);
	return bits;
}

/*
 * Into out: name, or its new place when RENAME moves it (from to to);
 * 1 when DELETE drops it (to NULL), -1 when it would not fit.
 */
static int
su_moved(const char *name, const char *from, const char *to, char *out,
    size_t outsz)
{
	size_t	 n = strlen(from);

	/* DELETE takes the one folder, RENAME those below it too. */
	if (to == NULL && strcmp(name, from) == 0)
		return 1;
	if (to == NULL || strncmp(name, from, n) != 0 ||
	    (name[n] != '\0' && name[n] != MAILBOX_SEP))
		return strlcpy(out, name, outsz) < outsz ? 0 : -1;
	if ((size_t)snprintf(out, outsz, "%s%s", to, name + n) >= outsz)
		return -1;
	return 0;
}

/*
 * Rewrite the file: lines of from (and below it) move to to, or go
 * with to NULL; add (bits, name) when name is not NULL.
 */
static int
su_update(int root, const char *from, const char *to, const char *name,
    int bits)
{
	struct dotlock	 l;
	FILE		*f;
	char		*buf, *out = NULL, *p, *n, moved[MAILBOX_NAME_MAX];
	size_t		 len, outlen = 0;
	int		 bit, r, b;

	if (dotlock_take(root, SPECIAL_USE_FILE, DOTLOCK_STALE,
	    DOTLOCK_WAIT, &l) == -1)
		return -1;
	if (su_read(root, &buf, &len) == -1) {
		dotlock_release(&l);
		return -1;
	}
	if ((f = open_memstream(&out, &outlen)) == NULL) {
		free(buf);
		dotlock_release(&l);
		return -1;
	}
	for (p = buf; (p = su_line(p, &bit, &n)) != NULL; ) {
		if (bit == 0 || (from != NULL &&
		    su_moved(n, from, to, moved, sizeof(moved)) != 0))
			continue;	/* unknown, dropped or too long */
		fprintf(f, "%s %s\n", folder_special_name(bit),
		    from != NULL ? moved : n);
	}
	for (b = 1; name != NULL && b <= MBOX_SPECIAL_ALL; b <<= 1)
		if (bits & b)
			fprintf(f, "%s %s\n", folder_special_name(b), name);
	free(buf);
	if (fclose(f) != 0) {
		free(out);
		dotlock_release(&l);
		return -1;
	}
	r = dotlock_replace(&l, out, outlen);
	free(out);
	return r;
}

/* CREATE ... (USE (...)): the attributes name does not have already. */
int
special_use_set(int root, const char *name, int bits)
{
	bits &= ~folder_special_use(name);
	if (bits == 0)
		return 0;
	return su_update(root, NULL, NULL, name, bits);
}

/* RENAME (to) and DELETE (to NULL) of a folder and those below it. */
int
special_use_move(int root, const char *from, const char *to)
{
	if (faccessat(root, SPECIAL_USE_FILE, F_OK, 0) == -1)
		return errno == ENOENT ? 0 : -1;
	return su_update(root, from, to, NULL, 0);
}
