/*
 * tsambactl health [-j] [domain ...]: run every check of ctl_health.h
 * and report.  Lines by default, "STATUS name: detail", one per check;
 * -j prints one JSON object instead (the checks, each with name,
 * status and detail, and a summary).  The exit status is 0 when all is
 * OK, 1 when something is WARN and nothing FAIL, 2 when something
 * FAILs: what Nagios plugins and cron wrappers expect.  Domains given
 * on the command line limit the DNS checks to them.
 */

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "ctl.h"
#include "ctl_health.h"

static const char	*status_word[] = {
	[HEALTH_OK] = "OK",
	[HEALTH_WARN] = "WARN",
	[HEALTH_FAIL] = "FAIL",
};

static const char	*status_json[] = {
	[HEALTH_OK] = "ok",
	[HEALTH_WARN] = "warn",
	[HEALTH_FAIL] = "fail",
};

/* Control bytes and non-ASCII (DNS text, peer replies) shown as '?'. */
static void
printable(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			*s = '?';
}

void
health_add(struct health *h, enum health_status status, const char *name,
    const char *fmt, ...)
{
	struct health_check	*c;
	va_list			 ap;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		ctl_errx("out of memory");
	c->status = status;
	strlcpy(c->name, name, sizeof(c->name));
	va_start(ap, fmt);
	(void)vsnprintf(c->detail, sizeof(c->detail), fmt, ap);
	va_end(ap);
	printable(c->name);
	printable(c->detail);
	TAILQ_INSERT_TAIL(&h->checks, c, entry);
}

void
health_capture(char *buf, size_t bufsz)
{
	if (buf != NULL && bufsz > 0)
		buf[0] = '\0';
	ctl->capture = buf;
	ctl->capturesz = bufsz;
}

static void
json_string(const char *s)
{
	putchar('"');
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			putchar('\\');
		putchar(*s);
	}
	putchar('"');
}

static void
report_lines(struct health *h)
{
	struct health_check	*c;

	TAILQ_FOREACH(c, &h->checks, entry)
		printf("%-4s %s: %s\n", status_word[c->status], c->name,
		    c->detail);
}

static void
report_json(struct health *h, const size_t count[3], enum health_status worst)
{
	struct health_check	*c;
	const char		*sep = "";

	printf("{\"checks\": [");
	TAILQ_FOREACH(c, &h->checks, entry) {
		printf("%s\n  {\"name\": ", sep);
		json_string(c->name);
		printf(", \"status\": \"%s\", \"detail\": ",
		    status_json[c->status]);
		json_string(c->detail);
		putchar('}');
		sep = ",";
	}
	printf("\n],\n\"summary\": {\"status\": \"%s\", \"ok\": %zu, "
	    "\"warn\": %zu, \"fail\": %zu}}\n", status_json[worst],
	    count[HEALTH_OK], count[HEALTH_WARN], count[HEALTH_FAIL]);
}

static void __attribute__((__noreturn__))
health_usage(void)
{
	fprintf(stderr, "usage: tsambactl health [-j] [domain ...]\n");
	exit(2);
}

/* Domains of the command line replace those of the domains table. */
static void
health_argv_domains(struct health *h, int argc, char *argv[])
{
	char	 key[CTL_KEY_MAX];
	int	 i;

	if ((h->domains = calloc(argc, sizeof(*h->domains))) == NULL)
		ctl_errx("out of memory");
	for (i = 0; i < argc; i++) {
		if (name_domain(argv[i], key, sizeof(key)) == -1)
			exit(2);
		if ((h->domains[h->ndomains++] = strdup(key)) == NULL)
			ctl_errx("out of memory");
	}
	h->domains_known = 1;
}

static void
health_checks(struct health *h)
{
	health_daemons(h);
	health_listeners(h);
	health_smtpd(h);
	health_imapd(h);
	health_tables(h);
	health_space(h);
	health_queue(h);
	health_domains(h);
}

int
cmd_health(int argc, char *argv[])
{
	struct health		 h;
	struct health_check	*c;
	enum health_status	 worst = HEALTH_OK;
	size_t			 i, count[3] = { 0, 0, 0 };
	int			 ch, json = 0;

	while ((ch = getopt(argc, argv, "j")) != -1) {
		switch (ch) {
		case 'j':
			json = 1;
			break;
		default:
			health_usage();
		}
	}
	argc -= optind;
	argv += optind;

	memset(&h, 0, sizeof(h));
	TAILQ_INIT(&h.checks);
	if (argc > 0)
		health_argv_domains(&h, argc, argv);
	/* A config that does not parse is a FAIL like any other (exit 2). */
	if (conf_parse(ctl->conffile, &ctl->conf) == -1)
		health_add(&h, HEALTH_FAIL, "config", "%s does not parse "
		    "(tsambactl check)", ctl->conffile);
	else {
		ctl->conf_loaded = 1;
		h.conf = &ctl->conf;
		health_add(&h, HEALTH_OK, "config", "%s", ctl->conffile);
		health_checks(&h);
	}

	TAILQ_FOREACH(c, &h.checks, entry) {
		count[c->status]++;
		if (c->status > worst)
			worst = c->status;
	}
	if (json)
		report_json(&h, count, worst);
	else
		report_lines(&h);
	while ((c = TAILQ_FIRST(&h.checks)) != NULL) {
		TAILQ_REMOVE(&h.checks, c, entry);
		free(c);
	}
	for (i = 0; i < h.ndomains; i++)
		free(h.domains[i]);
	free(h.domains);
	if (fflush(stdout) == EOF)
		ctl_errx("cannot write the report");
	/*
	 * The status itself is the answer (0, 1 or 2), not the 0/1 that
	 * main() makes of other commands' results.
	 */
	exit(worst == HEALTH_OK ? 0 : worst == HEALTH_WARN ? 1 : 2);
}
