/*
 * tsambactl health: is the running installation well?  Each check
 * gives one result (OK, WARN or FAIL, a name such as "daemon authd" or
 * "dns mx example.org", and a detail an admin can act on); ctl_health.c
 * runs the families of checks below in order and prints the results,
 * as lines or as JSON, with an exit status for Nagios and cron.
 *
 *   ctl_health_conv.c     an SMTP/LMTP conversation, plain or TLS
 *   ctl_health_daemon.c   each daemon answers on its socket
 *   ctl_health_tls.c      each listener greets and shakes hands (libtls)
 *   ctl_health_imap.c     tsamba-imapd: its control socket, its listeners
 *   ctl_health_store.c    the tables, free space on spool and mail root
 *   ctl_health_queue.c    size, age and deferrals of the queue
 *   ctl_health_dns.c      the lookups (libunbound)
 *   ctl_health_domain.c   per hosted domain: host, MX, SPF, DKIM, DMARC
 *   ctl_health_dkim.c     the DKIM record against the configured key
 *   ctl_health_spf.c      the small SPF evaluation the domain check needs
 */

#ifndef TSAMBA_CTL_HEALTH_H
#define TSAMBA_CTL_HEALTH_H

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

#include "conf.h"

/* "dns dkim SELECTOR._domainkey.DOMAIN" */
#define HEALTH_NAME_MAX		300
#define HEALTH_DETAIL_MAX	512
#define HEALTH_DOMAINS_MAX	1000	/* domains whose DNS is checked */
#define HEALTH_TIMEOUT_SEC	10	/* one network exchange */

enum health_status {
	HEALTH_OK,
	HEALTH_WARN,
	HEALTH_FAIL,
};

struct health_check {
	TAILQ_ENTRY(health_check) entry;
	enum health_status	 status;
	char			 name[HEALTH_NAME_MAX];
	char			 detail[HEALTH_DETAIL_MAX];
};
TAILQ_HEAD(health_list, health_check);

struct health {
	struct conf		*conf;
	struct health_list	 checks;
	int			 smtp_greeted;	/* a listener: 220 */
	char			**domains;	/* hosted, lowercased */
	size_t			 ndomains;
	int			 domains_known;	/* table was read */
};

/* One result; the detail is cut to fit and made printable. */
void	health_add(struct health *, enum health_status, const char *name,
	    const char *fmt, ...)
	    __attribute__((__format__ (printf, 4, 5)));

void	health_daemons(struct health *);
/* A daemon's control socket answers the imsg hello. */
void	health_hello(struct health *, const char *name,
	    const char *sockname, const char *peer);
void	health_listeners(struct health *);
/* After health_listeners: smtpd answers if a listener greeted. */
void	health_smtpd(struct health *);
/* tsamba-imapd, when tsamba.conf has imap or pop3 listeners. */
void	health_imapd(struct health *);
void	health_tables(struct health *);
void	health_space(struct health *);
void	health_queue(struct health *);
void	health_domains(struct health *);
/* ctl_health_dkim.c: the keys of one domain against its records. */
void	health_dkim(struct health *, const char *domain);

/* Warnings of ctl_warn() go to buf until called with NULL. */
void	health_capture(char *buf, size_t bufsz);

/* ctl_health_conv.c: talking to an SMTP or LMTP server. */
#define HCONV_LINE_MAX		1024

struct tls;
struct tls_config;

struct hconv {
	int		 fd;
	struct tls	*tls;		/* after STARTTLS or for smtps */
	int64_t		 deadline;	/* monotonic ms */
	char		 buf[HCONV_LINE_MAX];
	size_t		 len;
	char		 err[256];	/* why the last call failed */
};

int	hconv_tcp(struct hconv *, const struct sockaddr *, socklen_t);
int	hconv_unix(struct hconv *, const char *path);
/* One line without its CRLF into line: 0, or -1 on error, EOF. */
int	hconv_line(struct hconv *, char *line, size_t linesz);
/* A line and its CRLF: 0 or -1. */
int	hconv_send(struct hconv *, const char *line);
/*
 * A whole reply: its code, or -1.  text gets the first line; *found is
 * set when a line (an EHLO keyword line) starts with keyword.
 */
int	hconv_reply(struct hconv *, char *text, size_t textsz,
	    const char *keyword, int *found);
/* The TLS handshake as a client on the connection: 0 or -1. */
int	hconv_starttls(struct hconv *, struct tls_config *,
	    const char *servername);
/* QUIT and its reply, so that the server ends the session itself. */
void	hconv_quit(struct hconv *);
void	hconv_close(struct hconv *);

/* ctl_health_tls.c: a client that judges the certificate itself. */
struct tls_config *health_tls_client(void);
/* The certificate of the finished handshake: name, expiry. */
void	health_cert_judge(struct health *, struct hconv *, const char *name);
/* "127.0.0.1:25", "[::1]:587" of a listener, for names and details. */
void	health_listen_name(const struct conf_listen *, char *, size_t);
/* Where to connect to reach it: a wildcard becomes the loopback. */
void	health_listen_target(const struct conf_listen *,
	    struct sockaddr_storage *);

/* ctl_health_dns.c: synchronous lookups, each bounded in time. */
enum hdns_result {
	HDNS_DATA,		/* records found */
	HDNS_NONE,		/* NXDOMAIN or no record of the type */
	HDNS_ERROR,		/* SERVFAIL, timeout: nothing known */
};

#define HDNS_RR_MAX		16	/* records kept per answer */
#define HDNS_NAME_MAX		256
#define HDNS_TXT_MAX		4096	/* a TXT record, joined */

struct hdns_addr {
	int		 family;	/* AF_INET or AF_INET6 */
	uint8_t		 a[16];
};

struct hdns_mx {
	int		 pref;
	char		 host[HDNS_NAME_MAX];	/* "" for a null MX */
};

/* Set up the resolver of tsamba.conf; -1 with why in err. */
int	hdns_init(const struct conf *, char *err, size_t errsz);
void	hdns_done(void);
/* A and AAAA records of name appended to out (at most max). */
enum hdns_result hdns_addrs(const char *name, struct hdns_addr *out,
	    size_t max, size_t *n, char *err, size_t errsz);
enum hdns_result hdns_mx(const char *name, struct hdns_mx *out, size_t max,
	    size_t *n, char *err, size_t errsz);
/* PTR names of an address, lowercased, without the final dot. */
enum hdns_result hdns_ptr(const struct hdns_addr *,
	    char out[][HDNS_NAME_MAX], size_t max, size_t *n, char *err,
	    size_t errsz);
/* TXT records of name; *out is an array of max malloc'd strings. */
enum hdns_result hdns_txt(const char *name, char **out, size_t max,
	    size_t *n, char *err, size_t errsz);
void	hdns_txt_free(char **, size_t);
/* "192.0.2.1" or "2001:db8::1". */
void	hdns_addr_str(const struct hdns_addr *, char *, size_t);

/* ctl_health_spf.c */
enum spf_result {
	SPF_NONE,
	SPF_NEUTRAL,
	SPF_PASS,
	SPF_FAIL,
	SPF_SOFTFAIL,
	SPF_TEMPERROR,
	SPF_PERMERROR,
};

/*
 * The SPF result of the domain's record for a client address; why says
 * what decided it ("-all", "ip4:192.0.2.1", "no record", ...).
 */
enum spf_result	 spf_check(const char *domain, const struct hdns_addr *,
		    char *why, size_t whysz);
const char	*health_spf_result_name(enum spf_result);

#endif
