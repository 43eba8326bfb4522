/*
 * The stats files (stats.h): the metric table, the layout computed
 * from it, the writer's atomic updates and the reader's checked view.
 */

#include <sys/types.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "log.h"
#include "stats.h"

static const struct stats_metric metrics[ST_NMETRICS] = {
#define STATS_ROW(id, d, t, l, b, n, h)	[id] = { d, t, l, b, n, h },
	STATS_METRICS(STATS_ROW)
#undef STATS_ROW
};

static const char *const daemon_names[STATS_NDAEMONS] = {
	"smtpd", "queue", "lmtpd", "authd", "imapd"
};

struct label_set {
	const char		*key;
	size_t			 n;
	const char *const	*values;
};

static const char *const tls_versions[] = {
	"TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3", "other"
};
static const char *const services[] = { "smtp", "imap", "pop3", "other" };
static const char *const vias[] = { "lmtp", "smtp" };
static const char *const notices[] = { "failure", "delay" };
static const char *const protos[] = { "imap", "pop3" };
static const char *const results[] = {
	"delivered", "tempfail", "permfail"
};

static const char *const authresults[] = {
	"pass", "fail", "softfail", "neutral", "none", "temperror",
	"permerror", "policy", "other"
};
static const char *const check_actions[] = {
	"accept", "quarantine", "reject", "tempfail"
};
static const char *const milter_actions[] = {
	"accept", "reject", "tempfail", "discard", "quarantine", "replycode",
	"header", "body", "sender", "recipient", "failure", "other"
};

static const struct label_set labels[SL_NLABELS] = {
	[SL_NONE] = { NULL, 1, NULL },
	[SL_LISTENER] = { "listener", STATS_LISTENERS, NULL },
	[SL_TLS] = { "version", 5, tls_versions },
	[SL_SERVICE] = { "service", 4, services },
	[SL_VIA] = { "via", 2, vias },
	[SL_NOTICE] = { "type", 2, notices },
	[SL_RESULT] = { "result", 3, results },
	[SL_PROTO] = { "protocol", 2, protos },
	[SL_AUTHRESULT] = { "result", 9, authresults },
	[SL_CHECK_ACTION] = { "action", 4, check_actions },
	[SL_MILTER_ACTION] = { "action", 12, milter_actions },
};

/* Bounds in microseconds. */
static const uint64_t delivery_bounds[] = {
	1000000ULL, 5000000ULL, 10000000ULL, 30000000ULL, 60000000ULL,
	300000000ULL, 900000000ULL, 3600000000ULL, 14400000000ULL,
	86400000000ULL
};
static const uint64_t query_bounds[] = {
	500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 5000000
};

static const struct {
	size_t		 n;
	const uint64_t	*bounds;
} buckets[SB_NBUCKETS] = {
	[SB_NONE] = { 0, NULL },
	[SB_DELIVERY] = { sizeof(delivery_bounds) / sizeof(uint64_t),
	    delivery_bounds },
	[SB_QUERY] = { sizeof(query_bounds) / sizeof(uint64_t),
	    query_bounds },
};

/* The writer's state: one per process image, inherited by fork. */
static uint64_t			*w_values;
static struct stats_header	*w_hdr;
static size_t			 w_offset[ST_NMETRICS];
static int			 w_fd = -1;

const struct stats_metric *
stats_metric(enum stats_id id)
{
	return &metrics[id];
}

const char *
stats_daemon_name(enum stats_daemon d)
{
	return daemon_names[d];
}

const char *
stats_label_key(enum stats_labels l)
{
	return labels[l].key;
}

size_t
stats_label_count(enum stats_labels l)
{
	return labels[l].n;
}

const char *
stats_label_value(enum stats_labels l, size_t i)
{
	if (labels[l].values == NULL || i >= labels[l].n)
		return NULL;
	return labels[l].values[i];
}

unsigned int
stats_label_index(enum stats_labels l, const char *value)
{
	size_t	 i, len;

	if (labels[l].values == NULL || value == NULL)
		return labels[l].n - 1;
	len = strcspn(value, " ");
	for (i = 0; i < labels[l].n; i++)
		if (strlen(labels[l].values[i]) == len &&
		    strncasecmp(labels[l].values[i], value, len) == 0)
			return i;
	return labels[l].n - 1;
}

size_t
stats_bucket_count(enum stats_buckets b)
{
	return buckets[b].n;
}

uint64_t
stats_bucket_bound(enum stats_buckets b, size_t i)
{
	return i < buckets[b].n ? buckets[b].bounds[i] : UINT64_MAX;
}

unsigned int
stats_listener_slot(size_t index)
{
	return index < STATS_LISTENERS ? index : STATS_LISTENERS - 1;
}

/* Slots of one label value: a histogram has its buckets, +Inf and sum. */
static size_t
slots_per_label(const struct stats_metric *m)
{
	if (m->type == STATS_HISTOGRAM)
		return buckets[m->buckets].n + 2;
	return 1;
}

static uint64_t
fnv(uint64_t h, const void *p, size_t len)
{
	const unsigned char	*c = p;

	while (len-- > 0) {
		h ^= *c++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

size_t
stats_layout(enum stats_daemon d, size_t offset[ST_NMETRICS],
    uint64_t *hash)
{
	const struct stats_metric	*m;
	uint64_t			 h = 0xcbf29ce484222325ULL, v[4];
	size_t				 i, n = 0;

	for (i = 0; i < ST_NMETRICS; i++) {
		m = &metrics[i];
		if (m->daemon != d) {
			offset[i] = SIZE_MAX;
			continue;
		}
		offset[i] = n;
		n += labels[m->labels].n * slots_per_label(m);
		v[0] = m->type;
		v[1] = labels[m->labels].n;
		v[2] = slots_per_label(m);
		v[3] = offset[i];
		h = fnv(h, m->name, strlen(m->name) + 1);
		h = fnv(h, v, sizeof(v));
	}
	if (hash != NULL)
		*hash = h;
	return n;
}

static void
stats_header_fill(struct stats_header *h, enum stats_daemon d, size_t size,
    uint64_t layout, size_t nvalues, const char *const *names, size_t n)
{
	size_t	 i;

	memset(h, 0, sizeof(*h));
	h->version = STATS_VERSION;
	h->size = size;
	h->layout = layout;
	strlcpy(h->daemon, daemon_names[d], sizeof(h->daemon));
	h->pid = getpid();
	h->start_time = time(NULL);
	h->nvalues = nvalues;
	for (i = 0; i < n && i < STATS_LISTENERS; i++)
		strlcpy(h->listeners[i], names[i], STATS_LABEL_MAX);
	if (n > STATS_LISTENERS)
		strlcpy(h->listeners[STATS_LISTENERS - 1], "other",
		    STATS_LABEL_MAX);
	h->nlisteners = n < STATS_LISTENERS ? n : STATS_LISTENERS;
}

/* The file, created aside, filled, locked, then renamed into place. */
static void *
stats_create(const char *rundir, enum stats_daemon d, size_t size)
{
	char	 dir[PATH_MAX], tmp[PATH_MAX], path[PATH_MAX];
	void	*p;
	int	 fd;

	if (snprintf(dir, sizeof(dir), "%s/%s", rundir, STATS_DIR) >=
	    (int)sizeof(dir) ||
	    snprintf(path, sizeof(path), "%s/%s.stats", dir,
	    daemon_names[d]) >= (int)sizeof(path) ||
	    snprintf(tmp, sizeof(tmp), "%s/.%s.%ld", dir, daemon_names[d],
	    (long)getpid()) >= (int)sizeof(tmp)) {
		log_warnx("stats: %s: path too long", rundir);
		return NULL;
	}
	if (mkdir(dir, 0755) == -1 && errno != EEXIST) {
		log_warn("stats: mkdir %s", dir);
		return NULL;
	}
	(void)unlink(tmp);
	if ((fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC |
	    O_NOFOLLOW, 0644)) == -1) {
		log_warn("stats: %s", tmp);
		return NULL;
	}
	if (fchmod(fd, 0644) == -1 || ftruncate(fd, size) == -1) {
		log_warn("stats: %s", tmp);
		goto fail;
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		log_warn("stats: mmap %s", tmp);
		goto fail;
	}
	close(fd);
	/*
	 * The lock is held on a read-only descriptor: the children inherit
	 * it (and so keep the lock while they live), but a child cannot
	 * truncate the file under the others' mappings with it.
	 */
	if ((fd = open(tmp, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1 ||
	    flock(fd, LOCK_EX | LOCK_NB) == -1) {
		log_warn("stats: lock %s", tmp);
		munmap(p, size);
		goto fail;
	}
	/* The rename comes after the header (stats_open) is written. */
	w_fd = fd;
	return p;
 fail:
	if (fd != -1)
		close(fd);
	(void)unlink(tmp);
	return NULL;
}

static int
stats_publish(const char *rundir, enum stats_daemon d)
{
	char	 tmp[PATH_MAX], path[PATH_MAX];

	(void)snprintf(path, sizeof(path), "%s/%s/%s.stats", rundir,
	    STATS_DIR, daemon_names[d]);
	(void)snprintf(tmp, sizeof(tmp), "%s/%s/.%s.%ld", rundir, STATS_DIR,
	    daemon_names[d], (long)getpid());
	if (rename(tmp, path) == -1) {
		log_warn("stats: rename %s", path);
		(void)unlink(tmp);
		return -1;
	}
	return 0;
}

void
stats_open(const char *rundir, enum stats_daemon d,
    const char *const *names, size_t n)
{
	uint64_t	 layout;
	size_t		 nvalues, size;
	void		*p;

	nvalues = stats_layout(d, w_offset, &layout);
	size = sizeof(struct stats_header) + nvalues * sizeof(uint64_t);
	if ((p = stats_create(rundir, d, size)) == NULL) {
		log_warnx("stats: not published, counting in memory only");
		p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			fatal("stats: mmap");
	}
	w_hdr = p;
	w_values = (uint64_t *)(w_hdr + 1);
	stats_header_fill(w_hdr, d, size, layout, nvalues, names, n);
	/* The magic last: a reader never takes a half-written header. */
	__atomic_store_n(&w_hdr->magic, STATS_MAGIC, __ATOMIC_RELEASE);
	if (w_fd != -1 && stats_publish(rundir, d) == -1) {
		close(w_fd);
		w_fd = -1;
	}
}

/* Slot of a label value; a label out of range counts in the last. */
static uint64_t *
stats_slot(enum stats_id id, unsigned int label)
{
	const struct stats_metric	*m = &metrics[id];
	size_t				 off;

	if (w_values == NULL || w_offset[id] == SIZE_MAX)
		return NULL;
	if (label >= labels[m->labels].n)
		label = labels[m->labels].n - 1;
	off = w_offset[id] + label * slots_per_label(m);
	return &w_values[off];
}

void
stats_add(enum stats_id id, unsigned int label, int64_t delta)
{
	uint64_t	*v;

	if ((v = stats_slot(id, label)) != NULL)
		__atomic_fetch_add(v, (uint64_t)delta, __ATOMIC_RELAXED);
}

void
stats_set(enum stats_id id, unsigned int label, int64_t value)
{
	uint64_t	*v;

	if ((v = stats_slot(id, label)) != NULL)
		__atomic_store_n(v, (uint64_t)value, __ATOMIC_RELAXED);
}

void
stats_observe(enum stats_id id, unsigned int label, uint64_t usec)
{
	const struct stats_metric	*m = &metrics[id];
	uint64_t			*v;
	size_t				 i, nb = buckets[m->buckets].n;

	if (m->type != STATS_HISTOGRAM || (v = stats_slot(id, label)) == NULL)
		return;
	for (i = 0; i < nb; i++)
		if (usec <= buckets[m->buckets].bounds[i])
			break;
	/* Buckets are kept apart; the reader adds them up (le="..."). */
	__atomic_fetch_add(&v[i], 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&v[nb + 1], usec, __ATOMIC_RELAXED);
}

uint64_t
stats_usec_since(const struct timespec *t0)
{
	struct timespec	 now;
	int64_t		 us;

	clock_gettime(CLOCK_MONOTONIC, &now);
	us = (now.tv_sec - t0->tv_sec) * 1000000LL +
	    (now.tv_nsec - t0->tv_nsec) / 1000;
	return us < 0 ? 0 : (uint64_t)us;
}

void
stats_setpid(void)
{
	if (w_hdr != NULL)
		__atomic_store_n(&w_hdr->pid, (int64_t)getpid(),
		    __ATOMIC_RELAXED);
}

void
stats_reloaded(void)
{
	if (w_hdr == NULL)
		return;
	__atomic_store_n(&w_hdr->reload_time, (int64_t)time(NULL),
	    __ATOMIC_RELAXED);
	__atomic_fetch_add(&w_hdr->generation, 1, __ATOMIC_RELAXED);
}

/* A daemon lives while its file is locked and its parent's pid exists. */
static int
stats_alive(int fd, const struct stats_header *h)
{
	if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
		(void)flock(fd, LOCK_UN);
		return 0;
	}
	if (errno != EWOULDBLOCK)
		return 0;
	if (h->pid <= 0 || h->pid > INT_MAX ||
	    (kill((pid_t)h->pid, 0) == -1 && errno == ESRCH))
		return 0;
	return 1;
}

/* size bytes from the start of fd: 0, or -1 if the file is shorter. */
static int
stats_read_all(int fd, uint8_t *p, size_t size)
{
	size_t	 done = 0;
	ssize_t	 n;

	while (done < size) {
		if ((n = pread(fd, p + done, size - done, done)) == -1 &&
		    errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		done += n;
	}
	return 0;
}

int
stats_view_open(int dirfd, enum stats_daemon d, struct stats_view *v,
    char *err, size_t errsz)
{
	const struct stats_header	*h;
	struct stat			 st;
	uint64_t			 layout;
	size_t				 nvalues;
	char				 name[STATS_DAEMON_MAX + 8];
	void				*p;
	int				 fd;

	memset(v, 0, sizeof(*v));
	v->daemon = d;
	nvalues = stats_layout(d, v->offset, &layout);
	(void)snprintf(name, sizeof(name), "%s.stats", daemon_names[d]);
	if ((fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) ==
	    -1) {
		snprintf(err, errsz, "%s: %s", name, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size < (off_t)sizeof(*h) || st.st_size > STATS_FILE_MAX) {
		snprintf(err, errsz, "%s: not a stats file", name);
		close(fd);
		return -1;
	}
	/*
	 * A copy, not a mapping: the file is shared with less trusted
	 * processes (an engine), and one that truncates it under a mapping
	 * would kill the reader with SIGBUS.
	 */
	if ((p = malloc(st.st_size)) == NULL) {
		snprintf(err, errsz, "%s: %s", name, strerror(errno));
		close(fd);
		return -1;
	}
	if (stats_read_all(fd, p, st.st_size) == -1) {
		snprintf(err, errsz, "%s: changed while read", name);
		free(p);
		close(fd);
		return -1;
	}
	h = p;
	if (__atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) != STATS_MAGIC ||
	    h->version != STATS_VERSION || h->size != (uint64_t)st.st_size ||
	    h->layout != layout || h->nvalues != nvalues ||
	    sizeof(*h) + nvalues * sizeof(uint64_t) != (size_t)st.st_size ||
	    strncmp(h->daemon, daemon_names[d], sizeof(h->daemon)) != 0) {
		snprintf(err, errsz, "%s: another version or layout", name);
		free(p);
		close(fd);
		return -1;
	}
	v->hdr = h;
	v->values = (const volatile uint64_t *)(h + 1);
	v->size = st.st_size;
	v->up = stats_alive(fd, h);
	close(fd);
	return 0;
}

void
stats_view_close(struct stats_view *v)
{
	free((void *)(uintptr_t)v->hdr);
	v->hdr = NULL;
	v->values = NULL;
}

uint64_t
stats_view_get(const struct stats_view *v, enum stats_id id,
    unsigned int label, size_t k)
{
	const struct stats_metric	*m = &metrics[id];
	size_t				 per = slots_per_label(m);

	if (v->values == NULL || v->offset[id] == SIZE_MAX ||
	    label >= labels[m->labels].n || k >= per)
		return 0;
	return v->values[v->offset[id] + label * per + k];
}

const char *
stats_view_listener(const struct stats_view *v, size_t slot)
{
	static __thread char	 name[STATS_LABEL_MAX];
	size_t			 i;

	if (v->hdr == NULL || slot >= v->hdr->nlisteners ||
	    slot >= STATS_LISTENERS)
		return NULL;
	/*
	 * Copied out and terminated: the writer is another program.  A
	 * byte that is not printable ASCII becomes '?', so that a label
	 * value in the exposition is one line of valid UTF-8.
	 */
	memcpy(name, v->hdr->listeners[slot], sizeof(name));
	name[sizeof(name) - 1] = '\0';
	for (i = 0; name[i] != '\0'; i++)
		if ((unsigned char)name[i] < 0x20 ||
		    (unsigned char)name[i] > 0x7e)
			name[i] = '?';
	return name[0] != '\0' ? name : NULL;
}

int64_t
stats_view_sum(const struct stats_view *v, enum stats_id id)
{
	const struct stats_metric	*m = &metrics[id];
	size_t				 i;
	int64_t				 sum = 0;

	for (i = 0; i < labels[m->labels].n; i++)
		sum += (int64_t)stats_view_get(v, id, i, 0);
	return sum;
}
