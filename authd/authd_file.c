/*
 * The file backend: the domains, users and aliases tables as plain text
 * files, held in memory as red-black trees keyed by the lowercased name.
 * A table is read again when its file changes (checked at most once a
 * second, from the event loop); a new version that cannot be read or
 * parsed leaves the old contents in place, so a half-edited file never
 * loses users.  The worker threads read the trees under a read lock; a
 * reload parses without it and takes the write lock only to swap.
 * The line rules (keys, splitting, quoting) are lib/table_file.c's, the
 * ones tsambactl writes and checks with, so the two cannot disagree:
 *
 *   domains:  example.org
 *   users:    address:{SCHEME}hash:uid:gid:gecos:home:shell:extra
 *             (Dovecot passwd-file; everything after the address may be
 *             empty or missing; extra may hold userdb_quota_rule=)
 *   aliases:  source: dest1, dest2       source "@domain" is a catch-all
 */

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/tree.h>

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "quota_rule.h"
#include "table_file.h"
#include "authd.h"

#define FILE_ERR_MAX	(PATH_MAX + 320)

struct fentry {
	RB_ENTRY(fentry)	 node;
	char			*key;
	struct file_user	 user;		/* users */
	char			*maildir;	/* users, from home */
	char			*hash;		/* users */
	struct mailaddr		*dests;		/* aliases */
	size_t			 ndests;
};
RB_HEAD(ftree, fentry);

enum fkind {
	FILE_DOMAINS,
	FILE_USERS,
	FILE_ALIASES,
	FILE_NKINDS
};

/* What identifies one version of a file; err != 0 when stat failed. */
struct fsig {
	int		 err;
	dev_t		 dev;
	ino_t		 ino;
	off_t		 size;
	struct timespec	 mtim;
};

struct ftable {
	const char	*name;
	char		 path[PATH_MAX];	/* "" = not configured */
	struct ftree	 tree;
	size_t		 count;
	struct fsig	 loaded;	/* the version in memory */
	struct fsig	 failed;	/* a version already warned about */
	int		 has_failed;
};

struct fparse {
	struct ftable	*t;
	struct ftree	 tree;
	size_t		 count;
	size_t		 lineno;
	size_t		 nerrors;
	int		 report;	/* log every error (start-up) */
	char		 first[FILE_ERR_MAX];
};

static int	fentry_cmp(struct fentry *, struct fentry *);
RB_PROTOTYPE_STATIC(ftree, fentry, node, fentry_cmp)

static struct ftable	 tables[FILE_NKINDS] = {
	[FILE_DOMAINS] = { .name = "domains" },
	[FILE_USERS] = { .name = "users" },
	[FILE_ALIASES] = { .name = "aliases" },
};
static char		 mailroot[PATH_MAX];
static struct timespec	 last_check;
static pthread_rwlock_t	 tables_lock = PTHREAD_RWLOCK_INITIALIZER;

void
file_rdlock(void)
{
	if (pthread_rwlock_rdlock(&tables_lock) != 0)
		fatalx("file tables: read lock failed");
}

void
file_unlock(void)
{
	pthread_rwlock_unlock(&tables_lock);
}

static int
fentry_cmp(struct fentry *a, struct fentry *b)
{
	return strcmp(a->key, b->key);
}

RB_GENERATE_STATIC(ftree, fentry, node, fentry_cmp)

static void
fentry_free(struct fentry *e)
{
	free(e->key);
	free(e->maildir);
	free(e->hash);
	free(e->dests);
	free(e);
}

static void
ftree_free(struct ftree *tree)
{
	struct fentry	*e, *next;

	RB_FOREACH_SAFE(e, ftree, tree, next) {
		RB_REMOVE(ftree, tree, e);
		fentry_free(e);
	}
}

static struct fentry *
ftree_find(struct ftree *tree, const char *key)
{
	struct fentry	 needle;

	needle.key = (char *)key;
	return RB_FIND(ftree, tree, &needle);
}

static void
fparse_error(struct fparse *p, const char *fmt, ...)
    __attribute__((__format__ (printf, 2, 3)));

static void
fparse_error(struct fparse *p, const char *fmt, ...)
{
	char	 msg[256];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (p->nerrors++ == 0)
		snprintf(p->first, sizeof(p->first), "%s:%zu: %s",
		    p->t->path, p->lineno, msg);
	if (p->report)
		log_warnx("%s:%zu: %s", p->t->path, p->lineno, msg);
}

/* An address as a table key; the parsed form is kept for destinations. */
static int
parse_address(const char *s, struct mailaddr *a, char *key, size_t keysz)
{
	if (addr_parse(s, a, ADDR_ALLOW_UTF8) == -1 || addr_is_null(a))
		return -1;
	return table_addr_key(a, key, keysz);
}

static struct fentry *
fentry_new(const char *key)
{
	struct fentry	*e;

	if ((e = calloc(1, sizeof(*e))) == NULL ||
	    (e->key = strdup(key)) == NULL)
		fatal("%s", __func__);
	return e;
}

static void
fparse_domain(struct fparse *p, char *line)
{
	char		 key[AUTHD_KEY_MAX];
	struct fentry	*e;

	if (table_domain_key(line, key, sizeof(key)) == -1) {
		fparse_error(p, "invalid domain \"%s\"", line);
		return;
	}
	if (ftree_find(&p->tree, key) != NULL)
		return;
	e = fentry_new(key);
	RB_INSERT(ftree, &p->tree, e);
	p->count++;
}

/*
 * The Maildir of a home inside the mail root, relative to it, with
 * single slashes and a trailing one; -1 if the home lies elsewhere or
 * climbs out with "..".
 */
static int
home_maildir(const char *home, char *out, size_t outsz)
{
	size_t		 rl, ol = 0, cl;
	const char	*s, *c;

	rl = strlen(mailroot);
	while (rl > 0 && mailroot[rl - 1] == '/')
		rl--;
	if (strncmp(home, mailroot, rl) != 0 || home[rl] != '/')
		return -1;
	for (s = home + rl; *s != '\0'; s = c) {
		while (*s == '/')
			s++;
		if (*s == '\0')
			break;
		for (c = s; *c != '\0' && *c != '/'; c++)
			;
		cl = c - s;
		if ((cl == 1 && s[0] == '.') ||
		    (cl == 2 && s[0] == '.' && s[1] == '.'))
			return -1;
		if (ol + cl + 2 > outsz)
			return -1;
		memcpy(out + ol, s, cl);
		ol += cl;
		out[ol++] = '/';
	}
	if (ol == 0)
		return -1;
	out[ol] = '\0';
	return 0;
}

static int
parse_id(const char *s, int *has, unsigned int *id)
{
	const char	*errstr;
	long long	 v;

	*has = 0;
	if (*s == '\0')
		return 0;
	/* 0 would make lmtpd write mail as root. */
	v = strtonum(s, 1, UINT_MAX - 1, &errstr);
	if (errstr != NULL)
		return -1;
	*id = (unsigned int)v;
	*has = 1;
	return 0;
}

static void
fparse_user(struct fparse *p, char *line)
{
	char		*field[TABLE_USER_FIELDS];
	char		 key[AUTHD_KEY_MAX], maildir[PATH_MAX];
	struct file_user u;
	struct fentry	*e;
	unsigned int	 id = 0;

	table_user_split(line, field);
	memset(&u, 0, sizeof(u));
	if (table_address_key(table_trim(field[0]), key, sizeof(key)) == -1) {
		fparse_error(p, "invalid address \"%s\"", field[0]);
		return;
	}
	if (field[2] != NULL) {
		if (parse_id(field[2], &u.has_uid, &id) == -1) {
			fparse_error(p, "invalid uid \"%s\"", field[2]);
			return;
		}
		u.uid = id;
	}
	if (field[3] != NULL) {
		if (parse_id(field[3], &u.has_gid, &id) == -1) {
			fparse_error(p, "invalid gid \"%s\"", field[3]);
			return;
		}
		u.gid = id;
	}
	if (field[7] != NULL && (u.has_quota = quota_rule_extra(field[7],
	    &u.quota)) == -1) {
		fparse_error(p, "invalid quota_rule in \"%s\"", field[7]);
		return;
	}
	*maildir = '\0';
	if (field[5] != NULL && *field[5] != '\0') {
		if (*field[5] != '/') {
			fparse_error(p, "home \"%s\" is not absolute",
			    field[5]);
			return;
		}
		if (home_maildir(field[5], maildir, sizeof(maildir)) == -1) {
			/* Not fatal for the table: only this user waits. */
			log_warnx("%s:%zu: home %s is not inside the mail "
			    "root %s; mail for %s is deferred", p->t->path,
			    p->lineno, field[5], mailroot, key);
			u.bad_home = 1;
		}
	}
	if (ftree_find(&p->tree, key) != NULL) {
		if (p->report)
			log_warnx("%s:%zu: duplicate user %s ignored",
			    p->t->path, p->lineno, key);
		return;
	}
	e = fentry_new(key);
	e->user = u;
	if (*maildir != '\0' && (e->maildir = strdup(maildir)) == NULL)
		fatal("%s", __func__);
	if ((e->hash = strdup(field[1] != NULL ? field[1] : "")) == NULL)
		fatal("%s", __func__);
	RB_INSERT(ftree, &p->tree, e);
	p->count++;
}

static int
fparse_dests(struct fparse *p, struct fentry *e, char *list)
{
	struct mailaddr	 a, *d;
	char		 key[AUTHD_KEY_MAX];
	char		*item;

	while ((item = table_alias_next(&list)) != NULL) {
		if (parse_address(item, &a, key, sizeof(key)) == -1) {
			fparse_error(p, "invalid destination \"%s\"", item);
			return -1;
		}
		d = reallocarray(e->dests, e->ndests + 1, sizeof(*d));
		if (d == NULL)
			fatal("%s", __func__);
		e->dests = d;
		e->dests[e->ndests++] = a;
	}
	return 0;
}

/* Several lines for one source add up, like rows of an SQL table. */
static void
fparse_alias(struct fparse *p, char *line)
{
	char		 key[AUTHD_KEY_MAX];
	struct fentry	*e;
	char		*list, *src;
	int		 isnew = 0;

	if ((list = table_alias_split(line)) == NULL) {
		fparse_error(p, "missing ':' after the alias");
		return;
	}
	src = table_trim(line);
	if (table_source_key(src, key, sizeof(key)) == -1) {
		fparse_error(p, "invalid alias \"%s\"", src);
		return;
	}
	if ((e = ftree_find(&p->tree, key)) == NULL) {
		e = fentry_new(key);
		isnew = 1;
	}
	if (fparse_dests(p, e, list) == -1) {
		if (isnew)
			fentry_free(e);
		return;
	}
	if (e->ndests == 0) {
		fparse_error(p, "alias %s has no destination", key);
		fentry_free(e);
		return;
	}
	if (isnew) {
		RB_INSERT(ftree, &p->tree, e);
		p->count++;
	}
}

static void
fparse_line(struct fparse *p, enum fkind kind, char *line)
{
	switch (kind) {
	case FILE_DOMAINS:
		fparse_domain(p, line);
		break;
	case FILE_USERS:
		fparse_user(p, line);
		break;
	case FILE_ALIASES:
		fparse_alias(p, line);
		break;
	default:
		fatalx("%s: bad table kind", __func__);
	}
}

static void
fsig_of(struct fsig *sig, const struct stat *st)
{
	memset(sig, 0, sizeof(*sig));
	sig->dev = st->st_dev;
	sig->ino = st->st_ino;
	sig->size = st->st_size;
	sig->mtim = st->st_mtim;
}

static int
fsig_equal(const struct fsig *a, const struct fsig *b)
{
	return a->err == b->err && a->dev == b->dev && a->ino == b->ino &&
	    a->size == b->size && a->mtim.tv_sec == b->mtim.tv_sec &&
	    a->mtim.tv_nsec == b->mtim.tv_nsec;
}

/*
 * Read the table into p->tree; *sig gets the version read.  0, or -1
 * with p->first describing the first problem.
 */
static int
ftable_read(struct ftable *t, enum fkind kind, struct fparse *p,
    struct fsig *sig)
{
	FILE		*fp;
	struct stat	 st;
	char		*line = NULL, *s;
	size_t		 linesz = 0;
	ssize_t		 len;

	memset(sig, 0, sizeof(*sig));
	if ((fp = fopen(t->path, "r")) == NULL ||
	    fstat(fileno(fp), &st) == -1) {
		sig->err = errno;
		snprintf(p->first, sizeof(p->first), "%s: %s", t->path,
		    strerror(errno));
		if (p->report)
			log_warnx("%s", p->first);
		if (fp != NULL)
			fclose(fp);
		return -1;
	}
	fsig_of(sig, &st);
	while ((len = getline(&line, &linesz, fp)) != -1) {
		p->lineno++;
		if (len > TABLE_LINE_MAX) {
			fparse_error(p, "line longer than %d bytes",
			    TABLE_LINE_MAX);
			continue;
		}
		if ((size_t)len != strlen(line)) {
			fparse_error(p, "NUL byte in line");
			continue;
		}
		s = table_trim(line);
		if (*s == '\0' || *s == '#')
			continue;
		if (table_has_control(s)) {
			fparse_error(p, "control character in line");
			continue;
		}
		fparse_line(p, kind, s);
	}
	if (ferror(fp)) {
		snprintf(p->first, sizeof(p->first), "%s: read error",
		    t->path);
		p->nerrors++;
	}
	free(line);
	fclose(fp);
	return p->nerrors == 0 ? 0 : -1;
}

/* Load the table; on failure the old contents stay. */
static int
ftable_load(struct ftable *t, enum fkind kind, int report)
{
	struct fparse	 p;
	struct fsig	 sig;

	memset(&p, 0, sizeof(p));
	p.t = t;
	p.report = report;
	RB_INIT(&p.tree);
	if (ftable_read(t, kind, &p, &sig) == -1) {
		ftree_free(&p.tree);
		t->failed = sig;
		t->has_failed = 1;
		if (!report)
			log_warnx("%s; %s table keeps its previous %zu "
			    "entries", p.first, t->name, t->count);
		return -1;
	}
	if (pthread_rwlock_wrlock(&tables_lock) != 0)
		fatalx("file tables: write lock failed");
	ftree_free(&t->tree);
	t->tree = p.tree;
	t->count = p.count;
	pthread_rwlock_unlock(&tables_lock);
	t->loaded = sig;
	t->has_failed = 0;
	log_info("%s table %s: %zu entries", t->name, t->path, t->count);
	return 0;
}

/* Reload when the file is not the version in memory nor a known bad one. */
static void
ftable_check(struct ftable *t, enum fkind kind, int force)
{
	struct stat	 st;
	struct fsig	 sig;

	if (*t->path == '\0')
		return;
	memset(&sig, 0, sizeof(sig));
	if (stat(t->path, &st) == -1)
		sig.err = errno;
	else
		fsig_of(&sig, &st);
	if (!force && (fsig_equal(&sig, &t->loaded) ||
	    (t->has_failed && fsig_equal(&sig, &t->failed))))
		return;
	(void)ftable_load(t, kind, 0);
}

static int
table_path(const struct conf_table *ct, const char *name, char *path,
    size_t pathsz)
{
	char	 cwd[PATH_MAX];

	*path = '\0';
	if (ct->backend == TABLE_NONE || ct->backend == TABLE_MYSQL)
		return 0;
	if (ct->backend != TABLE_FILE) {
		log_warnx("%s table: backend not supported", name);
		return -1;
	}
	/* Reloads happen after daemon(3) has moved us to "/". */
	if (ct->path[0] == '/') {
		if (strlcpy(path, ct->path, pathsz) >= pathsz)
			goto toolong;
		return 0;
	}
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		fatal("getcwd");
	if ((size_t)snprintf(path, pathsz, "%s/%s", cwd, ct->path) >= pathsz)
		goto toolong;
	return 0;
 toolong:
	log_warnx("%s table: path too long", name);
	return -1;
}

int
file_init(const struct conf *conf)
{
	const struct conf_table	*ct[FILE_NKINDS] = {
		[FILE_DOMAINS] = &conf->domains,
		[FILE_USERS] = &conf->users,
		[FILE_ALIASES] = &conf->aliases,
	};
	int			 i, rv = 0;

	if (strlcpy(mailroot, conf->mailroot, sizeof(mailroot)) >=
	    sizeof(mailroot))
		fatalx("mailroot too long");
	for (i = 0; i < FILE_NKINDS; i++) {
		RB_INIT(&tables[i].tree);
		tables[i].count = 0;
		tables[i].has_failed = 0;
		if (table_path(ct[i], tables[i].name, tables[i].path,
		    sizeof(tables[i].path)) == -1) {
			rv = -1;
			continue;
		}
		if (*tables[i].path == '\0') {
			if (ct[i]->backend == TABLE_MYSQL)
				continue;
			log_warnx("no %s table configured", tables[i].name);
			continue;
		}
		if (ftable_load(&tables[i], i, 1) == -1)
			rv = -1;
	}
	clock_gettime(CLOCK_MONOTONIC, &last_check);
	return rv;
}

void
file_refresh(int force)
{
	struct timespec	 now;
	long long	 ms;
	int		 i;


	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (now.tv_sec - last_check.tv_sec) * 1000LL +
	    (now.tv_nsec - last_check.tv_nsec) / 1000000;
	if (!force && ms < 1000)
		return;
	last_check = now;
	for (i = 0; i < FILE_NKINDS; i++)
		ftable_check(&tables[i], i, force);
}

int
file_domain_exists(const char *domain)
{
	return ftree_find(&tables[FILE_DOMAINS].tree, domain) != NULL;
}

int
file_user_find(const char *key, struct file_user *u)
{
	struct fentry	*e;

	if ((e = ftree_find(&tables[FILE_USERS].tree, key)) == NULL)
		return -1;
	*u = e->user;
	u->maildir = e->maildir;
	u->hash = e->hash;
	return 0;
}

int
file_alias_find(const char *key, struct file_alias *a)
{
	struct fentry	*e;

	if ((e = ftree_find(&tables[FILE_ALIASES].tree, key)) == NULL)
		return -1;
	a->dests = e->dests;
	a->ndests = e->ndests;
	return 0;
}

void
file_free(void)
{
	int	 i;

	for (i = 0; i < FILE_NKINDS; i++) {
		ftree_free(&tables[i].tree);
		tables[i].count = 0;
	}
}
