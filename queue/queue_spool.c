/*
 * The spool on disk, seen from inside the queue chroot (the working
 * directory is the spool): incoming/ for messages being received,
 * queue/ for committed ones, corrupt/ for envelopes that cannot be read,
 * pool/ for spare envelope files.
 *
 * A message is acknowledged only once its file and envelope are fsynced,
 * both are renamed into queue/ and queue/ itself is fsynced.  Commits are
 * grouped: every commit read in one turn of the event loop waits for a
 * deferred event that does the work for all of them: the files of the
 * whole group are written out before the first fsync, and one directory
 * fsync follows, so concurrent sessions share the cost of the flushes.
 *
 * The envelope files of removed messages are kept in pool/ and reused
 * (emptied when taken): to create a file, ext4 searches for a free inode
 * past those deleted in the last minutes, and a busy queue deletes many,
 * which made each creation slower the longer the queue ran.  Message
 * files are not reused: an smtp engine got a writable descriptor of
 * each of them.
 */

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/tree.h>

#include <dirent.h>
#include <errno.h>
#include <event.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "msgid.h"
#include "queue.h"

#define CREATE_TRIES	16
#define RESERVED_MAX	10000	/* messages being received at once */
#define COMMIT_SLICE	64	/* commits written before their fsyncs */
#define ENV_POOL_MAX	1024	/* spare envelope files kept */

/* The files of one commit between its two steps. */
struct store {
	int	 msgfd;
	int	 envfd;
};

/* A message file handed out by MSG_CREATE and not yet committed. */
struct reserved {
	RB_ENTRY(reserved)	 entry;
	TAILQ_ENTRY(reserved)	 commit;
	char			 id[MSGID_LEN + 1];
	void			*owner;
	int			 committing;
	int			 stored;
	int			 prepend_failed;	/* commit must fail */
	struct store		 st;		/* during commit_run() */
	struct envelope		 env;
	uint64_t		 reqid;
	spool_commit_cb		 cb;
	void			*arg;
};

RB_HEAD(reserved_tree, reserved);
TAILQ_HEAD(reserved_list, reserved);

static int	reserved_cmp(struct reserved *, struct reserved *);
RB_PROTOTYPE(reserved_tree, reserved, entry, reserved_cmp);

static struct reserved_tree	 reservations = RB_INITIALIZER(&reservations);
static struct reserved_list	 commits = TAILQ_HEAD_INITIALIZER(commits);
static struct event		 commit_ev;
static int			 queuedir_fd = -1;
static uint32_t			 id_counter;
static size_t			 nreserved;
static unsigned int		 env_pool;	/* pool/0 .. pool/<n-1> */

static int
reserved_cmp(struct reserved *a, struct reserved *b)
{
	return strcmp(a->id, b->id);
}

RB_GENERATE(reserved_tree, reserved, entry, reserved_cmp);

static void	commit_run(int, short, void *);

void
spool_init(void)
{
	if ((queuedir_fd = open("queue", O_RDONLY | O_DIRECTORY)) == -1)
		fatal("open queue/");
	id_counter = arc4random();
	evtimer_set(&commit_ev, commit_run, NULL);
}

void
spool_msgpath(const char *dir, const char *id, char *buf, size_t bufsz)
{
	if ((size_t)snprintf(buf, bufsz, "%s/%s", dir, id) >= bufsz)
		fatalx("spool path too long");
}

/*
 * 16 hex digits: 32 bits of time, 12 bits of a counter and 20 random
 * bits, so ids sort roughly by age and do not repeat across restarts.
 */
static int
spool_newid(char *buf, size_t bufsz)
{
	uint64_t	 id;

	id = (uint64_t)(uint32_t)time(NULL) << 32;
	id |= (uint64_t)(id_counter++ & 0xfff) << 20;
	id |= arc4random() & 0xfffff;
	return snprintf(buf, bufsz, "%016" PRIx64, id) == MSGID_LEN ? 0 : -1;
}

/*
 * Open a new, empty envelope file at path, taken from the pool if it
 * has one; the fd, or -1 with errno.
 */
static int
env_open(const char *path)
{
	char	 spare[32];

	while (env_pool > 0) {
		env_pool--;
		snprintf(spare, sizeof(spare), "pool/%u", env_pool);
		if (renameat2(AT_FDCWD, spare, AT_FDCWD, path,
		    RENAME_NOREPLACE) == 0)
			return open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
		if (errno != ENOENT) {
			unlink(spare);
			break;
		}
	}
	return open(path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
}

/* An envelope file no longer needed: into the pool, or removed. */
static int
env_discard(const char *path)
{
	char	 spare[32];

	if (env_pool < ENV_POOL_MAX) {
		snprintf(spare, sizeof(spare), "pool/%u", env_pool);
		if (rename(path, spare) == 0) {
			env_pool++;
			return 0;
		}
	}
	return unlink(path);
}

/* A new message file in incoming/: its fd, or -1. */
int
spool_create(char *id, size_t idsz)
{
	char		 path[64], qpath[64];
	struct stat	 st;
	int		 fd, i;

	for (i = 0; i < CREATE_TRIES; i++) {
		if (spool_newid(id, idsz) == -1)
			return -1;
		spool_msgpath("queue", id, qpath, sizeof(qpath));
		if (lstat(qpath, &st) == 0)
			continue;
		spool_msgpath("incoming", id, path, sizeof(path));
		fd = open(path, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
		if (fd != -1)
			return fd;
		if (errno != EEXIST) {
			log_warn("create %s", path);
			return -1;
		}
	}
	log_warnx("no free message id after %d tries", CREATE_TRIES);
	return -1;
}

int
spool_reserve(void *owner, char *id, size_t idsz, int *fdp)
{
	struct reserved	*r;
	char		 path[64];
	int		 fd;

	if (nreserved >= RESERVED_MAX) {
		log_warnx("%d messages being received, refusing more",
		    RESERVED_MAX);
		return -1;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return -1;
	if ((fd = spool_create(r->id, sizeof(r->id))) == -1) {
		free(r);
		return -1;
	}
	if (RB_INSERT(reserved_tree, &reservations, r) != NULL) {
		spool_msgpath("incoming", r->id, path, sizeof(path));
		unlink(path);
		close(fd);
		free(r);
		return -1;
	}
	r->owner = owner;
	nreserved++;
	envelope_init(&r->env);
	strlcpy(id, r->id, idsz);
	*fdp = fd;
	return 0;
}

static void
unlink_both(const char *dir, const char *id)
{
	char	 path[64];

	spool_msgpath(dir, id, path, sizeof(path));
	if (unlink(path) == -1 && errno != ENOENT)
		log_warn("unlink %s", path);
	strlcat(path, ".env", sizeof(path));
	if (unlink(path) == -1 && errno != ENOENT)
		log_warn("unlink %s", path);
}

static void
reserved_free(struct reserved *r, int unlink_files)
{
	if (unlink_files) {
		unlink_both("incoming", r->id);
		unlink_both("queue", r->id);
	}
	if (r->committing)
		TAILQ_REMOVE(&commits, r, commit);
	RB_REMOVE(reserved_tree, &reservations, r);
	nreserved--;
	envelope_clear(&r->env);
	free(r);
}

static struct reserved *
reserved_find(void *owner, const char *id)
{
	struct reserved	 key, *r;

	if (strlcpy(key.id, id, sizeof(key.id)) >= sizeof(key.id))
		return NULL;
	r = RB_FIND(reserved_tree, &reservations, &key);
	if (r == NULL || r->owner != owner)
		return NULL;
	return r;
}

/* ROLLBACK: the engine gave up on this message. */
void
spool_release(void *owner, const char *id)
{
	struct reserved	*r;

	if ((r = reserved_find(owner, id)) == NULL) {
		log_debug("rollback of unknown message %s", id);
		return;
	}
	if (r->committing) {
		log_warnx("%s: rollback during commit ignored", id);
		return;
	}
	unlink_both("incoming", r->id);
	reserved_free(r, 0);
}

/*
 * PREPEND: the file becomes fields + file, written to a new name and
 * renamed over the old one, so that a crash leaves one or the other.
 * It costs a copy of the message; the verdicts it carries depend on
 * the whole body, which the engine has already written by then.
 */
void
spool_prepend(void *owner, const char *id, const char *fields)
{
	struct reserved	*r;
	char		 path[64], tmp[72], buf[65536];
	size_t		 len = strlen(fields);
	ssize_t		 n;
	int		 in = -1, out = -1, ok = 0;

	if ((r = reserved_find(owner, id)) == NULL || r->committing) {
		log_warnx("prepend to unknown message %s", id);
		return;
	}
	spool_msgpath("incoming", id, path, sizeof(path));
	(void)snprintf(tmp, sizeof(tmp), "%s.pre", path);
	if ((in = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    (out = open(tmp, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC,
	    0600)) == -1)
		goto done;
	if (write(out, fields, len) != (ssize_t)len)
		goto done;
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, n) != n)
			goto done;
	if (n == 0 && close(out) == 0) {
		out = -1;
		ok = rename(tmp, path) == 0;
	}
 done:
	if (!ok) {
		log_warn("%s: prepending header fields", path);
		r->prepend_failed = 1;
		(void)unlink(tmp);
	}
	if (in != -1)
		close(in);
	if (out != -1)
		close(out);
}

/* The client went away: whatever it did not get an answer for goes. */
void
spool_release_owner(void *owner)
{
	struct reserved	*r, *next;

	RB_FOREACH_SAFE(r, reserved_tree, &reservations, next)
		if (r->owner == owner)
			reserved_free(r, 1);
}

/*
 * Queue a commit.  The envelope's recipients move into the reservation;
 * the answer comes through cb from commit_run().
 */
void
spool_commit(void *owner, struct envelope *env, uint64_t reqid,
    spool_commit_cb cb, void *arg)
{
	struct reserved	*r;
	struct rcpt	*rc;
	struct timeval	 tv = { 0, 0 };

	if ((r = reserved_find(owner, env->id)) == NULL || r->committing) {
		log_warnx("commit of unknown message %s", env->id);
		envelope_clear(env);
		cb(arg, reqid, QUEUE_INVALID);
		return;
	}
	if (r->prepend_failed) {
		envelope_clear(env);
		cb(arg, reqid, QUEUE_TEMPFAIL);
		return;
	}
	r->env = *env;
	TAILQ_INIT(&r->env.rcpts);
	while ((rc = TAILQ_FIRST(&env->rcpts)) != NULL) {
		TAILQ_REMOVE(&env->rcpts, rc, entry);
		TAILQ_INSERT_TAIL(&r->env.rcpts, rc, entry);
	}
	env->nrcpts = 0;
	r->env.created = time(NULL);
	r->reqid = reqid;
	r->cb = cb;
	r->arg = arg;
	r->committing = 1;
	TAILQ_INSERT_TAIL(&commits, r, commit);
	if (!evtimer_pending(&commit_ev, NULL))
		evtimer_add(&commit_ev, &tv);
}

static void
store_close(struct store *st)
{
	if (st->msgfd != -1)
		close(st->msgfd);
	if (st->envfd != -1)
		close(st->envfd);
	st->msgfd = st->envfd = -1;
}

/*
 * First step: write the envelope into incoming/ and start the writeback
 * of both files without waiting.  When a group is written this way
 * before any fsync, the first fsync's journal commit carries the
 * allocations of all of them and the other fsyncs find little left to
 * do: one disk flush for the group instead of one per file.
 */
static int
store_start(struct envelope *env, struct store *st)
{
	char	 msg[64], envp[64];

	st->msgfd = st->envfd = -1;
	spool_msgpath("incoming", env->id, msg, sizeof(msg));
	snprintf(envp, sizeof(envp), "incoming/%s.env", env->id);
	if ((st->msgfd = open(msg, O_RDONLY | O_CLOEXEC)) == -1) {
		log_warn("%s: open", msg);
		return -1;
	}
	if ((st->envfd = env_open(envp)) == -1) {
		log_warn("%s: open", envp);
		store_close(st);
		return -1;
	}
	if (envelope_write(st->envfd, env) == -1) {
		log_warn("%s: write", envp);
		store_close(st);
		return -1;
	}
	/* Only a hint: the fsyncs below are what count. */
	(void)sync_file_range(st->msgfd, 0, 0, SYNC_FILE_RANGE_WRITE);
	(void)sync_file_range(st->envfd, 0, 0, SYNC_FILE_RANGE_WRITE);
	return 0;
}

/*
 * Second step: fsync both files, then rename them into queue/, the
 * message first: an envelope in queue/ always has its body.  Everything
 * short of the directory fsync; -1 (logged) on failure.
 */
static int
store_finish(struct envelope *env, struct store *st)
{
	char	 msg[64], envp[64], qmsg[64], qenv[64];
	int	 rv = -1;

	spool_msgpath("incoming", env->id, msg, sizeof(msg));
	spool_msgpath("queue", env->id, qmsg, sizeof(qmsg));
	snprintf(envp, sizeof(envp), "incoming/%s.env", env->id);
	snprintf(qenv, sizeof(qenv), "queue/%s.env", env->id);

	if (fsync(st->msgfd) == -1)
		log_warn("%s: fsync", msg);
	else if (fsync(st->envfd) == -1)
		log_warn("%s: fsync", envp);
	else if (close(st->envfd) == -1) {
		st->envfd = -1;
		log_warn("%s: close", envp);
	} else {
		st->envfd = -1;
		rv = 0;
	}
	store_close(st);
	if (rv == -1)
		return -1;
	if (rename(msg, qmsg) == -1) {
		log_warn("rename %s", msg);
		return -1;
	}
	if (rename(envp, qenv) == -1) {
		log_warn("rename %s", envp);
		return -1;
	}
	return 0;
}

static int
store_one(struct envelope *env)
{
	struct store	 st;

	if (store_start(env, &st) == -1)
		return -1;
	return store_finish(env, &st);
}

static int
sync_queuedir(void)
{
	if (fsync(queuedir_fd) == -1) {
		log_warn("fsync queue/");
		return -1;
	}
	return 0;
}

/*
 * Store every queued commit, fsync queue/ once for all of them, then
 * answer.  No commit can arrive meanwhile (nothing is read here), and an
 * answer that drops its client takes that client's other commits off
 * the list through spool_release_owner().
 */
static void
commit_run(int fd, short ev, void *arg)
{
	struct reserved	*r, *first, *end;
	spool_commit_cb	 cb;
	void		*cbarg;
	uint64_t	 reqid;
	int		 nok = 0, n = 0, i, status, ok;

	/* In slices, to keep the open files bounded. */
	for (first = TAILQ_FIRST(&commits); first != NULL; first = end) {
		for (r = first, i = 0; r != NULL && i < COMMIT_SLICE;
		    r = TAILQ_NEXT(r, commit), i++)
			r->stored = store_start(&r->env, &r->st) == 0;
		end = r;
		for (r = first; r != end; r = TAILQ_NEXT(r, commit)) {
			if (r->stored)
				r->stored = store_finish(&r->env, &r->st) == 0;
			nok += r->stored;
			n++;
		}
	}
	status = QUEUE_OK;
	if (nok > 0 && sync_queuedir() == -1)
		status = QUEUE_TEMPFAIL;
	log_debug("group commit: %d of %d stored, %s", nok, n,
	    status == QUEUE_OK ? "ok" : "failed");

	while ((r = TAILQ_FIRST(&commits)) != NULL) {
		TAILQ_REMOVE(&commits, r, commit);
		r->committing = 0;
		ok = r->stored && status == QUEUE_OK;
		cb = r->cb;
		cbarg = r->arg;
		reqid = r->reqid;
		if (ok) {
			log_info("%s: queued from=<%s> nrcpt=%zu client=%s",
			    r->id, r->env.sender, r->env.nrcpts,
			    r->env.client);
			scheduler_add(&r->env);
		}
		reserved_free(r, !ok);
		cb(cbarg, reqid, ok ? QUEUE_OK : QUEUE_TEMPFAIL);
	}
}

/* The same commit, synchronously, for messages the queue makes itself. */
int
spool_store_now(struct envelope *env)
{
	env->created = time(NULL);
	if (store_one(env) == -1 || sync_queuedir() == -1) {
		unlink_both("incoming", env->id);
		unlink_both("queue", env->id);
		return -1;
	}
	return 0;
}

/* Rewrite the envelope of a queued message: tmp, fsync, rename, fsync. */
int
spool_update(const struct envelope *env)
{
	char	 tmp[64], path[64];
	int	 fd;

	snprintf(path, sizeof(path), "queue/%s.env", env->id);
	snprintf(tmp, sizeof(tmp), "queue/%s.env.tmp", env->id);
	if ((fd = env_open(tmp)) == -1) {
		log_warn("%s: open", tmp);
		return -1;
	}
	if (envelope_write(fd, env) == -1 || fsync(fd) == -1 ||
	    close(fd) == -1) {
		log_warn("%s: write", tmp);
		unlink(tmp);
		return -1;
	}
	if (rename(tmp, path) == -1) {
		log_warn("rename %s", tmp);
		unlink(tmp);
		return -1;
	}
	return sync_queuedir();
}

/* Envelope first: a crash in between leaves a body, never an orphan env. */
void
spool_remove(const char *id)
{
	char	 path[64];

	snprintf(path, sizeof(path), "queue/%s.env", id);
	if (env_discard(path) == -1)
		log_warn("unlink %s", path);
	spool_msgpath("queue", id, path, sizeof(path));
	if (unlink(path) == -1)
		log_warn("unlink %s", path);
}

static void
move_corrupt(const char *id, const char *why)
{
	char	 from[64], to[64];

	log_warnx("%s: corrupt envelope moved to corrupt/: %s", id, why);
	snprintf(from, sizeof(from), "queue/%s.env", id);
	snprintf(to, sizeof(to), "corrupt/%s.env", id);
	if (rename(from, to) == -1)
		log_warn("rename %s", from);
	spool_msgpath("queue", id, from, sizeof(from));
	spool_msgpath("corrupt", id, to, sizeof(to));
	if (rename(from, to) == -1 && errno != ENOENT)
		log_warn("rename %s", from);
}

/* Empty a directory of the spool; how many files went. */
static int
clean_dir(const char *dir)
{
	DIR		*d;
	struct dirent	*de;
	char		 path[PATH_MAX];
	int		 n = 0;

	if ((d = opendir(dir)) == NULL)
		fatal("opendir %s/", dir);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (unlink(path) == -1)
			log_warn("unlink %s", path);
		else
			n++;
	}
	closedir(d);
	return n;
}

static void
load_one(const char *id)
{
	struct envelope	 env;
	struct stat	 st;
	char		 path[64], err[256];

	snprintf(path, sizeof(path), "queue/%s.env", id);
	if (envelope_load(path, &env, err, sizeof(err)) == -1) {
		move_corrupt(id, err);
		return;
	}
	if (strcmp(env.id, id) != 0) {
		envelope_clear(&env);
		move_corrupt(id, "id does not match the file name");
		return;
	}
	spool_msgpath("queue", id, path, sizeof(path));
	if (stat(path, &st) == -1 || !S_ISREG(st.st_mode)) {
		envelope_clear(&env);
		move_corrupt(id, "message file missing");
		return;
	}
	scheduler_add(&env);
}

/* Start-up: forget incoming/ and pool/, load every envelope in queue/. */
void
spool_load(void)
{
	DIR		*d;
	struct dirent	*de;
	struct stat	 st;
	char		 path[PATH_MAX], id[MSGID_LEN + 1];
	size_t		 len;
	int		 n;

	if ((n = clean_dir("incoming")) > 0)
		log_info("removed %d stale files from incoming/", n);
	/* Spares: their numbers start again from 0. */
	clean_dir("pool");
	env_pool = 0;
	if ((d = opendir("queue")) == NULL)
		fatal("opendir queue/");
	while ((de = readdir(d)) != NULL) {
		len = strlen(de->d_name);
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "queue/%s", de->d_name);
		if (len == MSGID_LEN + 8 &&
		    msgid_valid_len(de->d_name, MSGID_LEN) &&
		    strcmp(de->d_name + MSGID_LEN, ".env.tmp") == 0) {
			unlink(path);
			continue;
		}
		if (len == MSGID_LEN + 4 &&
		    msgid_valid_len(de->d_name, MSGID_LEN) &&
		    strcmp(de->d_name + MSGID_LEN, ".env") == 0) {
			memcpy(id, de->d_name, MSGID_LEN);
			id[MSGID_LEN] = '\0';
			load_one(id);
			continue;
		}
		if (msgid_valid_len(de->d_name, len)) {
			/* A body whose envelope was removed or never made. */
			snprintf(path, sizeof(path), "queue/%s.env",
			    de->d_name);
			if (lstat(path, &st) == -1 && errno == ENOENT) {
				snprintf(path, sizeof(path), "queue/%s",
				    de->d_name);
				log_info("%s: removing message without "
				    "envelope", de->d_name);
				unlink(path);
			}
			continue;
		}
		log_warnx("queue/%s: unexpected file left alone", de->d_name);
	}
	closedir(d);
	log_info("%zu messages in the queue", scheduler_count());
}
