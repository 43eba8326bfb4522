/*
 * The file backend of tsambactl: edits the text tables tsamba-authd
 * reads (table_file.h).  A table opened for writing is locked with
 * flock(2) on "<table>.lock" beside it against other tsambactl runs, read
 * whole, changed in memory line by line, and at commit written to a new
 * file in the same directory (same mode and owner), fsynced and renamed
 * over the old one, then the directory is fsynced: authd sees either the
 * old table or the new one, never half of it.  Comments, blank lines and
 * lines tsambactl does not touch are kept byte for byte.
 */

#include <sys/types.h>
#include <sys/file.h>
#include <sys/queue.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "table_file.h"
#include "ctl.h"
#include "ctl_backend.h"

struct fline {
	TAILQ_ENTRY(fline)	 entry;
	char			*text;		/* without the newline */
	int			 deleted;
};
TAILQ_HEAD(flines, fline);

struct ftab {
	char		 path[PATH_MAX];
	int		 lockfd;
	int		 exists;
	struct stat	 st;
	struct flines	 lines;
	int		 dirty;
};

static enum table_kind
kind_of(struct table *t)
{
	switch (t->id) {
	case TAB_DOMAINS:
		return TABLE_KIND_DOMAINS;
	case TAB_USERS:
		return TABLE_KIND_USERS;
	default:
		return TABLE_KIND_ALIASES;
	}
}

static struct fline *
fline_new(const char *text)
{
	struct fline	*l;

	if ((l = calloc(1, sizeof(*l))) == NULL ||
	    (l->text = strdup(text)) == NULL) {
		free(l);
		ctl_warn("out of memory");
		return NULL;
	}
	return l;
}

static void
fline_set(struct fline *l, char *text)
{
	free(l->text);
	l->text = text;
}

static int
file_lock(struct table *t, struct ftab *f)
{
	char	 lock[PATH_MAX];

	if ((size_t)snprintf(lock, sizeof(lock), "%s.lock", f->path) >=
	    sizeof(lock)) {
		ctl_warnx("%s table: path too long", t->name);
		return -1;
	}
	if ((f->lockfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC |
	    O_NOFOLLOW, 0600)) == -1) {
		ctl_warn("%s", lock);
		return -1;
	}
	if (flock(f->lockfd, LOCK_EX) == -1) {
		ctl_warn("flock %s", lock);
		return -1;
	}
	return 0;
}

static int
file_read(struct table *t, struct ftab *f, int write)
{
	FILE		*fp;
	struct fline	*l;
	char		*line = NULL;
	size_t		 linesz = 0;
	ssize_t		 len;
	int		 rv = 0;

	if ((fp = fopen(f->path, "re")) == NULL) {
		/* A table not written yet is empty; add creates it. */
		if (errno == ENOENT && write)
			return 0;
		ctl_warn("%s table %s", t->name, f->path);
		return -1;
	}
	if (fstat(fileno(fp), &f->st) == -1) {
		ctl_warn("%s", f->path);
		fclose(fp);
		return -1;
	}
	f->exists = 1;
	while ((len = getline(&line, &linesz, fp)) != -1) {
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		if ((l = fline_new(line)) == NULL) {
			rv = -1;
			break;
		}
		/* A NUL inside: kept as far as it goes, never matched. */
		TAILQ_INSERT_TAIL(&f->lines, l, entry);
	}
	if (ferror(fp)) {
		ctl_warnx("%s: read error", f->path);
		rv = -1;
	}
	free(line);
	fclose(fp);
	return rv;
}

static int
file_open(struct table *t, int write)
{
	struct ftab	*f;
	char		 cwd[PATH_MAX];

	if ((f = calloc(1, sizeof(*f))) == NULL) {
		ctl_warn("calloc");
		return -1;
	}
	f->lockfd = -1;
	TAILQ_INIT(&f->lines);
	t->priv = f;
	if (t->ct->path[0] == '/' || getcwd(cwd, sizeof(cwd)) == NULL)
		*cwd = '\0';
	if ((size_t)snprintf(f->path, sizeof(f->path), "%s%s%s", cwd,
	    *cwd ? "/" : "", t->ct->path) >= sizeof(f->path)) {
		ctl_warnx("%s table: path too long", t->name);
		goto fail;
	}
	if ((write && file_lock(t, f) == -1) || file_read(t, f, write) == -1)
		goto fail;
	return 0;
 fail:
	t->open = 1;
	t->ops->close(t);
	t->open = 0;
	return -1;
}

/*
 * The rows of one line, if it is a valid entry: key normalized, value
 * as written.  Lines authd would refuse are never matched nor changed.
 */
static int
line_rows(struct table *t, const char *text, const char *want, row_cb cb,
    void *arg, int *stop)
{
	char	 buf[TABLE_LINE_MAX + 1], key[TABLE_KEY_MAX], err[256];
	char	*f[TABLE_USER_FIELDS], *list, *d;
	char	*s;

	if (table_line_ignored(text) ||
	    table_line_check(kind_of(t), table_trim(strcpy(buf, text)),
	    NULL, err, sizeof(err)) == -1)
		return 0;
	s = table_trim(strcpy(buf, text));
	switch (t->id) {
	case TAB_DOMAINS:
		if (table_domain_key(s, key, sizeof(key)) == -1)
			return 0;
		if (want == NULL || strcmp(want, key) == 0)
			*stop = cb(arg, key, NULL);
		return 1;
	case TAB_USERS:
		table_user_split(s, f);
		if (table_address_key(table_trim(f[0]), key, sizeof(key)) ==
		    -1)
			return 0;
		if (want == NULL || strcmp(want, key) == 0)
			*stop = cb(arg, key, f[1] ? f[1] : "");
		return 1;
	default:
		list = table_alias_split(s);
		if (table_source_key(table_trim(s), key, sizeof(key)) == -1)
			return 0;
		if (want != NULL && strcmp(want, key) != 0)
			return 1;
		while (!*stop && (d = table_alias_next(&list)) != NULL)
			*stop = cb(arg, key, d);
		return 1;
	}
}

static int
usable(const char *text)
{
	return strlen(text) <= TABLE_LINE_MAX;
}

static int
file_rows(struct table *t, const char *key, row_cb cb, void *arg)
{
	struct ftab	*f = t->priv;
	struct fline	*l;
	int		 stop = 0;

	TAILQ_FOREACH(l, &f->lines, entry) {
		if (l->deleted || !usable(l->text))
			continue;
		line_rows(t, l->text, key, cb, arg, &stop);
		if (stop)
			break;
	}
	return 0;
}

static int
file_add(struct table *t, const char *key, const char *value)
{
	struct ftab	*f = t->priv;
	struct fline	*l;
	char		*text;
	int		 n;

	switch (t->id) {
	case TAB_DOMAINS:
		n = asprintf(&text, "%s", key);
		break;
	case TAB_USERS:
		/* Empty uid, gid and home: the vmail user, the default. */
		n = asprintf(&text, "%s:%s::::::", key, value);
		break;
	default:
		n = asprintf(&text, "%s: %s", key, value);
		break;
	}
	if (n == -1) {
		ctl_warn("asprintf");
		return -1;
	}
	if (strlen(text) > TABLE_LINE_MAX) {
		ctl_warnx("%s table: line too long", t->name);
		free(text);
		return -1;
	}
	if ((l = fline_new("")) == NULL) {
		free(text);
		return -1;
	}
	fline_set(l, text);
	TAILQ_INSERT_TAIL(&f->lines, l, entry);
	f->dirty = 1;
	return 0;
}

static int
mark_found(void *arg, const char *key, const char *value)
{
	*(int *)arg = 1;
	return 1;
}

/* Is this line an entry of key? */
static int
line_is(struct table *t, const char *text, const char *key)
{
	int	 stop = 0, found = 0;

	if (!usable(text))
		return 0;
	line_rows(t, text, key, mark_found, &found, &stop);
	return found;
}

/* users: "address:hash:rest" with the hash field replaced. */
static char *
user_line_rehash(const char *text, const char *hash)
{
	const char	*c1, *c2;
	char		*out;

	if ((c1 = strchr(text, ':')) == NULL)
		c2 = NULL;
	else
		c2 = strchr(c1 + 1, ':');
	if (asprintf(&out, "%.*s:%s%s", c1 ? (int)(c1 - text) :
	    (int)strlen(text), text, hash, c2 ? c2 : "") == -1)
		return NULL;
	return out;
}

static int
file_update(struct table *t, const char *key, const char *value)
{
	struct ftab	*f = t->priv;
	struct fline	*l;
	char		*text;
	int		 n = 0;

	TAILQ_FOREACH(l, &f->lines, entry) {
		if (l->deleted || !line_is(t, l->text, key))
			continue;
		if ((text = user_line_rehash(l->text, value)) == NULL) {
			ctl_warn("asprintf");
			return -1;
		}
		fline_set(l, text);
		n++;
		f->dirty = 1;
	}
	return n;
}

/*
 * An aliases line without the destinations equal to dest; NULL in *out
 * when none is left.  -1 on error, else the number removed.
 */
static int
alias_line_drop(const char *text, const char *dest, char **out)
{
	char	 buf[TABLE_LINE_MAX + 1], key[TABLE_KEY_MAX];
	char	*list, *d, *res = NULL, *tmp;
	int	 removed = 0, kept = 0;

	*out = NULL;
	strlcpy(buf, text, sizeof(buf));
	if ((list = table_alias_split(buf)) == NULL)
		return 0;
	if (asprintf(&res, "%s:", table_trim(buf)) == -1)
		return -1;
	while ((d = table_alias_next(&list)) != NULL) {
		if (table_address_key(d, key, sizeof(key)) == 0 &&
		    strcmp(key, dest) == 0) {
			removed++;
			continue;
		}
		if (asprintf(&tmp, "%s%s %s", res, kept ? "," : "", d) == -1) {
			free(res);
			return -1;
		}
		free(res);
		res = tmp;
		kept++;
	}
	if (kept)
		*out = res;
	else
		free(res);
	return removed;
}

static int
file_del(struct table *t, const char *key, const char *value)
{
	struct ftab	*f = t->priv;
	struct fline	*l;
	char		*text;
	int		 n = 0, r;

	TAILQ_FOREACH(l, &f->lines, entry) {
		if (l->deleted || !line_is(t, l->text, key))
			continue;
		if (value == NULL) {
			l->deleted = 1;
			n++;
			continue;
		}
		if ((r = alias_line_drop(l->text, value, &text)) == -1) {
			ctl_warn("asprintf");
			return -1;
		}
		if (r == 0)
			continue;
		n += r;
		if (text == NULL)
			l->deleted = 1;
		else
			fline_set(l, text);
	}
	if (n > 0)
		f->dirty = 1;
	return n;
}

/* The new table beside the old one, then renamed over it. */
static int
file_commit(struct table *t)
{
	struct ftab	*f = t->priv;
	struct fline	*l;
	char		 tmp[PATH_MAX], dir[PATH_MAX];
	mode_t		 mode;
	int		 fd;

	if (!f->dirty)
		return 0;
	strlcpy(dir, f->path, sizeof(dir));
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX",
	    dirname(dir), basename(f->path)) >= sizeof(tmp)) {
		ctl_warnx("%s table: path too long", t->name);
		return -1;
	}
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1) {
		ctl_warn("%s table: cannot create %s", t->name, tmp);
		return -1;
	}
	/* A new users table holds hashes: readable by the owner only. */
	mode = f->exists ? f->st.st_mode & 07777 :
	    (t->id == TAB_USERS ? 0640 : 0644);
	if (fchmod(fd, mode) == -1 ||
	    (f->exists && geteuid() == 0 &&
	    fchown(fd, f->st.st_uid, f->st.st_gid) == -1))
		goto fail;
	TAILQ_FOREACH(l, &f->lines, entry) {
		if (l->deleted)
			continue;
		if (write_all(fd, l->text, strlen(l->text)) == -1 ||
		    write_all(fd, "\n", 1) == -1)
			goto fail;
	}
	if (fsync(fd) == -1)
		goto fail;
	if (close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, f->path) == -1)
		goto fail;
	f->dirty = 0;
	strlcpy(dir, f->path, sizeof(dir));
	if (fsync_dir(dirname(dir)) == -1)
		ctl_warn("%s table: fsync of its directory", t->name);
	return 0;
 fail:
	ctl_warn("%s table: cannot write %s", t->name, f->path);
	if (fd != -1)
		close(fd);
	unlink(tmp);
	return -1;
}

static void
file_rollback(struct table *t)
{
	struct ftab	*f = t->priv;

	/* Nothing reached the disk: forgetting the changes is enough. */
	f->dirty = 0;
}

static void
file_close(struct table *t)
{
	struct ftab	*f = t->priv;
	struct fline	*l;

	if (f == NULL)
		return;
	while ((l = TAILQ_FIRST(&f->lines)) != NULL) {
		TAILQ_REMOVE(&f->lines, l, entry);
		free(l->text);
		free(l);
	}
	if (f->lockfd != -1)
		close(f->lockfd);
	free(f);
	t->priv = NULL;
}

/* Every line as authd would read it; one line per problem. */
static int
file_check(struct table *t, const struct conf *conf)
{
	struct ftab	*f = t->priv;
	struct fline	*l;
	char		 buf[TABLE_LINE_MAX + 1], err[PATH_MAX + 256];
	size_t		 lineno = 0, entries = 0;
	int		 rv = 0, r;

	TAILQ_FOREACH(l, &f->lines, entry) {
		lineno++;
		if (!usable(l->text)) {
			printf("FAIL %s table %s:%zu: line longer than %d "
			    "bytes\n", t->name, f->path, lineno,
			    TABLE_LINE_MAX);
			rv = -1;
			continue;
		}
		if (table_line_ignored(l->text))
			continue;
		strlcpy(buf, l->text, sizeof(buf));
		r = table_line_check(kind_of(t), table_trim(buf),
		    conf->mailroot, err, sizeof(err));
		if (r == -1) {
			printf("FAIL %s table %s:%zu: %s\n", t->name, f->path,
			    lineno, err);
			rv = -1;
		} else if (r == 1)
			printf("WARN %s table %s:%zu: %s\n", t->name, f->path,
			    lineno, err);
		entries++;
	}
	if (rv == 0)
		printf("ok   %s table %s: %zu entries\n", t->name, f->path,
		    entries);
	return rv;
}

const struct table_ops	file_ops = {
	.open = file_open,
	.rows = file_rows,
	.add = file_add,
	.update = file_update,
	.del = file_del,
	.commit = file_commit,
	.rollback = file_rollback,
	.close = file_close,
	.check = file_check,
};
