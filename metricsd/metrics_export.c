/*
 * The exposition: for each daemon, tsamba_up and its times from the
 * header of its stats file, then every metric of the table (stats.h)
 * with its HELP and TYPE lines, its labels and values.  A daemon that
 * does not run shows tsamba_up 0 and no figures: the last ones of a
 * dead process would look current.
 */

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "stats.h"
#include "metricsd.h"

struct text {
	char	*p;
	size_t	 len, cap;
	int	 error;
};

static void __attribute__((__format__ (printf, 2, 3)))
text_printf(struct text *t, const char *fmt, ...)
{
	va_list	 ap;
	size_t	 ncap;
	char	*np;
	int	 n;

	if (t->error)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			t->error = 1;
			return;
		}
		if ((size_t)n < t->cap - t->len) {
			t->len += n;
			return;
		}
		ncap = t->cap * 2 + n + 1;
		if (ncap > METRICS_BODY_MAX ||
		    (np = realloc(t->p, ncap)) == NULL) {
			t->error = 1;
			return;
		}
		t->p = np;
		t->cap = ncap;
	}
}

/* A label value: backslash, quote and newline escaped (format 0.0.4). */
static void
text_label(struct text *t, const char *key, const char *value)
{
	const char	*c;

	text_printf(t, "%s=\"", key);
	for (c = value; *c != '\0'; c++) {
		if (*c == '\\' || *c == '"')
			text_printf(t, "\\%c", *c);
		else if (*c == '\n')
			text_printf(t, "\\n");
		else
			text_printf(t, "%c", *c);
	}
	text_printf(t, "\"");
}

static const char *
type_name(enum stats_type type)
{
	switch (type) {
	case STATS_COUNTER:
		return "counter";
	case STATS_HISTOGRAM:
		return "histogram";
	default:
		return "gauge";
	}
}

/* The value of a label, or NULL when that slot is not in use. */
static const char *
label_value(const struct stats_view *v, enum stats_labels l, size_t i)
{
	if (l == SL_LISTENER)
		return stats_view_listener(v, i);
	return stats_label_value(l, i);
}

static void
sample_name(struct text *t, const char *name, const char *suffix,
    const char *key, const char *value, const char *le)
{
	text_printf(t, "%s%s", name, suffix);
	if (key == NULL && le == NULL)
		return;
	text_printf(t, "{");
	if (key != NULL)
		text_label(t, key, value);
	if (le != NULL)
		text_printf(t, "%sle=\"%s\"", key != NULL ? "," : "", le);
	text_printf(t, "}");
}

static void
render_histogram(struct text *t, const struct stats_view *v,
    enum stats_id id, unsigned int label, const char *key, const char *value)
{
	const struct stats_metric	*m = stats_metric(id);
	size_t				 nb = stats_bucket_count(m->buckets), i;
	uint64_t			 cum = 0, sum;
	char				 le[32];

	for (i = 0; i <= nb; i++) {
		cum += stats_view_get(v, id, label, i);
		if (i < nb)
			snprintf(le, sizeof(le), "%g",
			    stats_bucket_bound(m->buckets, i) / 1e6);
		else
			strlcpy(le, "+Inf", sizeof(le));
		sample_name(t, m->name, "_bucket", key, value, le);
		text_printf(t, " %llu\n", (unsigned long long)cum);
	}
	sum = stats_view_get(v, id, label, nb + 1);
	sample_name(t, m->name, "_sum", key, value, NULL);
	text_printf(t, " %.6f\n", sum / 1e6);
	sample_name(t, m->name, "_count", key, value, NULL);
	text_printf(t, " %llu\n", (unsigned long long)cum);
}

static void
render_metric(struct text *t, const struct stats_view *v, enum stats_id id,
    time_t now)
{
	const struct stats_metric	*m = stats_metric(id);
	const char			*key = stats_label_key(m->labels);
	const char			*value;
	size_t				 i, n = stats_label_count(m->labels);
	uint64_t			 x;

	text_printf(t, "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help,
	    m->name, type_name(m->type));
	for (i = 0; i < n; i++) {
		value = NULL;
		if (key != NULL && (value = label_value(v, m->labels, i)) ==
		    NULL)
			continue;
		if (m->type == STATS_HISTOGRAM) {
			render_histogram(t, v, id, i, key, value);
			continue;
		}
		sample_name(t, m->name, "", key, value, NULL);
		x = stats_view_get(v, id, i, 0);
		switch (m->type) {
		case STATS_COUNTER:
			text_printf(t, " %llu\n", (unsigned long long)x);
			break;
		case STATS_AGE:
			text_printf(t, " %lld\n", x == 0 || (time_t)x > now ?
			    0LL : (long long)(now - (time_t)x));
			break;
		default:
			text_printf(t, " %lld\n", (long long)(int64_t)x);
			break;
		}
	}
}

static void
render_daemons(struct text *t, struct stats_view *views)
{
	static const char *const names[] = {
		"tsamba_up",
		"tsamba_start_time_seconds",
		"tsamba_last_reload_time_seconds",
	};
	static const char *const helps[] = {
		"1 if the daemon runs (a live process holds its stats file).",
		"Unix time the daemon started.",
		"Unix time of the last SIGHUP, 0 if none.",
	};
	size_t		 k;
	int		 d;

	for (k = 0; k < 3; k++) {
		text_printf(t, "# HELP %s %s\n# TYPE %s gauge\n", names[k],
		    helps[k], names[k]);
		for (d = 0; d < STATS_NDAEMONS; d++) {
			if (k > 0 && !views[d].up)
				continue;
			text_printf(t, "%s{daemon=\"%s\"} ", names[k],
			    stats_daemon_name(d));
			if (k == 0)
				text_printf(t, "%d\n", views[d].up);
			else
				text_printf(t, "%lld\n", (long long)(k == 1 ?
				    views[d].hdr->start_time :
				    views[d].hdr->reload_time));
		}
	}
}

char *
metrics_render(int statsdir, size_t *len)
{
	struct stats_view	 views[STATS_NDAEMONS];
	struct text		 t = { NULL, 0, 0, 0 };
	char			 err[256];
	time_t			 now = time(NULL);
	int			 d;
	size_t			 i;

	if ((t.p = malloc(16384)) == NULL)
		return NULL;
	t.cap = 16384;
	for (d = 0; d < STATS_NDAEMONS; d++)
		if (stats_view_open(statsdir, d, &views[d], err,
		    sizeof(err)) == -1)
			log_debug("%s", err);	/* not running: up 0 */
	render_daemons(&t, views);
	for (i = 0; i < ST_NMETRICS; i++)
		if (views[stats_metric(i)->daemon].up)
			render_metric(&t, &views[stats_metric(i)->daemon], i,
			    now);
	for (d = 0; d < STATS_NDAEMONS; d++)
		stats_view_close(&views[d]);
	if (t.error) {
		log_warnx("metrics: the text would exceed %d bytes",
		    METRICS_BODY_MAX);
		free(t.p);
		return NULL;
	}
	*len = t.len;
	return t.p;
}
