/*
 * tsambactl: command line, dispatch and the error conventions.  Every
 * failure is one line on stderr, "tsambactl: <command>: <why>", and a
 * non-zero exit.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "conf.h"
#include "ctl.h"

static struct ctl	 ctl_store;
struct ctl		*ctl = &ctl_store;

static const struct {
	const char	*name;
	int		(*fn)(int, char **);
} commands[] = {
	{ "user", cmd_user },
	{ "domain", cmd_domain },
	{ "alias", cmd_alias },
	{ "pw", cmd_pw },
	{ "check", cmd_check },
	{ "check-message", cmd_check_message },
	{ "ban", cmd_ban },
	{ "dkim", cmd_dkim },
	{ "queue", cmd_queue },
	{ "health", cmd_health },
	{ "status", cmd_status },
	{ "who", cmd_who },
	{ "kick", cmd_kick },
};

void
ctl_usage(void)
{
	fprintf(stderr,
	    "usage: tsambactl [-f file] command [argument ...]\n"
	    "  user list [domain]\n"
	    "  user add address [-p password | -p -]\n"
	    "  user passwd address [-p password | -p -]\n"
	    "  user del address [--purge]\n"
	    "  domain list | add domain | del domain\n"
	    "  alias list [domain] | add source dest ... |"
	    " del source [dest]\n"
	    "  pw [-s scheme] [-p password]\n"
	    "  check\n"
	    "  check-message file --ip address --helo name --from sender\n"
	    "  ban list | add [-f] ip [duration] | del ip\n"
	    "  dkim keygen domain selector [-t rsa | -t ed25519] [-f]\n"
	    "  dkim show domain | test domain file\n"
	    "  queue list | show id | flush [id | domain] | hold id |"
	    " release id\n"
	    "  queue del [--silent] id\n"
	    "  health [-j] [domain ...]\n"
	    "  status [-j]\n"
	    "  who [-j] | kick user@domain\n");
	exit(2);
}

static void
vwarnc(int code, const char *fmt, va_list ap)
{
	size_t	 n;

	if (ctl->capture != NULL) {
		/* The first message says what went wrong; keep it. */
		if (ctl->capture[0] != '\0')
			return;
		(void)vsnprintf(ctl->capture, ctl->capturesz, fmt, ap);
		n = strlen(ctl->capture);
		if (code != 0 && n < ctl->capturesz)
			(void)snprintf(ctl->capture + n, ctl->capturesz - n,
			    ": %s", strerror(code));
		return;
	}
	fprintf(stderr, "tsambactl: ");
	if (ctl->what != NULL)
		fprintf(stderr, "%s: ", ctl->what);
	vfprintf(stderr, fmt, ap);
	if (code != 0)
		fprintf(stderr, ": %s", strerror(code));
	fputc('\n', stderr);
}

void
ctl_warnx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vwarnc(0, fmt, ap);
	va_end(ap);
}

void
ctl_warn(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	vwarnc(saved, fmt, ap);
	va_end(ap);
}

void
ctl_errx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vwarnc(0, fmt, ap);
	va_end(ap);
	exit(1);
}

struct conf *
ctl_conf(void)
{
	if (!ctl->conf_loaded) {
		/* conf_parse prints "file:line: message" for each error. */
		if (conf_parse(ctl->conffile, &ctl->conf) == -1)
			ctl_errx("cannot use %s", ctl->conffile);
		ctl->conf_loaded = 1;
	}
	return &ctl->conf;
}

int
ctl_subcmd(int argc, char *argv[], const struct ctl_subcmd *subs)
{
	if (argc < 2)
		ctl_usage();
	for (; subs->name != NULL; subs++) {
		if (strcmp(argv[1], subs->name) == 0) {
			ctl->what = subs->what;
			return subs->fn(argc - 1, argv + 1);
		}
	}
	ctl_usage();
}

int
main(int argc, char *argv[])
{
	size_t	 i;
	int	 ch;

	/* lib/ code logs through log.h: make that stderr. */
	log_init(1, "tsambactl");
	ctl->conffile = TSAMBA_CONF;
	while ((ch = getopt(argc, argv, "+f:h")) != -1) {
		switch (ch) {
		case 'f':
			ctl->conffile = optarg;
			break;
		default:
			ctl_usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		ctl_usage();
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[0], commands[i].name) == 0) {
			ctl->what = commands[i].name;
			/* The command parses its own options from argv[0]. */
			optind = 0;
			return commands[i].fn(argc, argv) == 0 ? 0 : 1;
		}
	}
	fprintf(stderr, "tsambactl: unknown command %s\n", argv[0]);
	ctl_usage();
}
