/*
 * tsambactl ban: list, add and delete the bans of tsamba-authd over its
 * control socket (authd.control.sock in the run directory, root only):
 * the imsg hello, one request, then the answers up to CTL_DONE, each
 * wait bounded by a timeout.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "imsg.h"
#include "ipaddr.h"
#include "proto.h"
#include "timefmt.h"
#include "ctl.h"

#define BAN_REQID	1

static void
print_entry(const char *ip, uint64_t end, uint32_t failures)
{
	char		 when[TIME_ISO8601_SIZE];

	time_iso8601(end > INT64_MAX ? INT64_MAX : (time_t)end, when,
	    sizeof(when));
	printf("%s\t%s\t%u\n", ip, when, failures);
}

static const struct channel_type ban_types[] = {
	{ IMSG_CTL_BAN_ENTRY, CHANNEL_PART },
	{ IMSG_CTL_DONE, CHANNEL_ANSWER },
	{ 0, 0 }
};

/* An answer to our request: entries are printed, CTL_DONE ends it. */
static int
ban_answer(struct imsg *imsg, union imsg_msg *m, void *arg)
{
	if (imsg->hdr.type == IMSG_CTL_BAN_ENTRY) {
		print_entry(m->ctl_ban_entry.ip, m->ctl_ban_entry.end,
		    m->ctl_ban_entry.failures);
		return 0;
	}
	if (m->ctl_done.failed) {
		ctl_warnx("%s", *m->ctl_done.message ? m->ctl_done.message :
		    "refused");
		return -1;
	}
	if (*m->ctl_done.message != '\0')
		printf("%s\n", m->ctl_done.message);
	return 0;
}

/* The request of type for net (LIST: none). */
static struct ibuf *
ban_request(uint32_t type, const char *net, uint64_t secs)
{
	switch (type) {
	case IMSG_CTL_BAN_LIST:
		return msg_ctl_ban_list_pack(&(struct msg_ctl_ban_list){
		    .id = BAN_REQID }, -1);
	case IMSG_CTL_BAN_ADD:
		return msg_ctl_ban_add_pack(&(struct msg_ctl_ban_add){
		    .id = BAN_REQID, .net = net, .seconds = secs }, -1);
	default:
		return msg_ctl_ban_del_pack(&(struct msg_ctl_ban_del){
		    .id = BAN_REQID, .net = net }, -1);
	}
}

/* "90", "90s", "30m", "12h", "7d": seconds; -1 if malformed. */
static long long
duration(const char *s)
{
	char		*end;
	long long	 v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || v <= 0 || v > 10LL * 365 * 86400)
		return -1;
	switch (*end) {
	case '\0':
	case 's':
		break;
	case 'm':
		v *= 60;
		break;
	case 'h':
		v *= 3600;
		break;
	case 'd':
		v *= 86400;
		break;
	default:
		return -1;
	}
	if (*end != '\0' && end[1] != '\0')
		return -1;
	return v;
}

/*
 * The widest networks a ban takes without -f: an IPv4 /16 (65,536
 * addresses, a large provider's pool) and an IPv6 /32 (a whole
 * provider's allocation).  A shorter prefix is more often a typo
 * ("/4" for "/24") than intent, and it locks out a share of the world.
 */
#define BAN_PREFIX4_MIN	16
#define BAN_PREFIX6_MIN	32

/* -1 (printed) if net is wider than the limit of its family. */
static int
ban_width_ok(const char *net)
{
	const char	*slash;
	int		 prefix, min, v6;

	if ((slash = strchr(net, '/')) == NULL)
		return 0;
	prefix = atoi(slash + 1);	/* ip_valid() checked the digits */
	v6 = memchr(net, ':', slash - net) != NULL;
	min = v6 ? BAN_PREFIX6_MIN : BAN_PREFIX4_MIN;
	if (prefix >= min)
		return 0;
	ctl_warnx("%s is wider than an IPv%d /%d: refused without -f",
	    net, v6 ? 6 : 4, min);
	return -1;
}

int
cmd_ban(int argc, char *argv[])
{
	struct ctl_imsg	 ci;
	long long	 secs = 0;
	uint32_t	 type;
	int		 rv = -1, force = 0;

	if (argc < 2)
		ctl_usage();
	if (strcmp(argv[1], "list") == 0 && argc == 2) {
		ctl->what = "ban list";
		type = IMSG_CTL_BAN_LIST;
	} else if (strcmp(argv[1], "add") == 0) {
		ctl->what = "ban add";
		type = IMSG_CTL_BAN_ADD;
		if (argc > 2 && strcmp(argv[2], "-f") == 0) {
			force = 1;
			argc--;
			argv++;
		}
		if (argc != 3 && argc != 4)
			ctl_usage();
		if (!ip_valid(argv[2], 1))
			ctl_errx("invalid address or network \"%s\"",
			    argv[2]);
		if (!force && ban_width_ok(argv[2]) == -1)
			return -1;
		if (argc == 4 && (secs = duration(argv[3])) == -1)
			ctl_errx("invalid duration \"%s\" (e.g. 3600, 30m, "
			    "12h, 7d)", argv[3]);
	} else if (strcmp(argv[1], "del") == 0 && argc == 3) {
		ctl->what = "ban del";
		type = IMSG_CTL_BAN_DEL;
		if (!ip_valid(argv[2], 1))
			ctl_errx("invalid address \"%s\"", argv[2]);
	} else
		ctl_usage();
	if (ctl_imsg_open(&ci, ctl_conf(), "authd.control.sock",
	    "tsamba-authd", ban_types) == -1)
		return -1;
	rv = ctl_imsg_request(&ci, ban_request(type, argv[2], secs),
	    BAN_REQID, ban_answer, NULL);
	ctl_imsg_close(&ci);
	return rv;
}
