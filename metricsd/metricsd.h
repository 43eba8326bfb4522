/*
 * tsamba-metricsd: serves the stats files of the suite (lib/stats.h) as
 * Prometheus text over HTTP, unprivileged and chrooted into the stats
 * directory.
 */

#ifndef TSAMBA_METRICSD_H
#define TSAMBA_METRICSD_H

#include <stddef.h>

#define METRICS_SESSIONS_MAX	64	/* scrapes served at once */
#define METRICS_TIMEOUT_MS	10000	/* to send a request, to read it */
#define METRICS_BODY_MAX	(4 * 1024 * 1024)

/* metrics_export.c: the exposition text (format 0.0.4), malloc'd. */
char	*metrics_render(int statsdir, size_t *len);

/* metrics_http.c */
void	 http_init(int statsdir);
void	 http_accept(int fd);

#endif
