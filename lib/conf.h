/*
 * tsamba.conf: the one configuration file of the suite.  conf_parse()
 * (parse.y) reads it into a struct conf; every daemon takes the parts it
 * needs.  The grammar, one statement per line, '#' comments, "\" joins
 * lines:
 *
 *   name = "value"                      macro; $name expands it
 *   include "file"
 *   hostname "mail.example.org"
 *   postmaster "alice@example.org"      RFC 5321 4.5.1 mailbox
 *   rundir "/run/tsamba"                sockets
 *   spool "/var/spool/tsamba"
 *   mailroot "/var/vmail"
 *   chroot "/var/lib/tsamba/empty"      empty dir for the network engines
 *   user smtpd|lmtpd|mta|queue|auth|imap-login|metrics|vmail "name"
 *   pki NAME cert "file" key "file"
 *   tls ciphers "list"                  TLS 1.2 suites, OpenSSL syntax or
 *                                       a libtls name ("secure", "compat")
 *   table domains|users|aliases file|mysql "path"
 *           mysql: path of the connection file (sqlconf.h)
 *   statedir "/var/lib/tsamba"          bans and other state
 *   ban max-failures N | window TIME | duration TIME | never "NET/LEN"
 *   ban prefix ipv4 LEN ipv6 LEN       failures counted per network
 *   listen on ADDR [port N] [tls|tls-require|smtps] [pki NAME] [auth]
 *           [hide-client] [ciphers "list"] [spf] [dkim] [dmarc] [dnsbl]
 *           [greylist] [milter NAME]... [milter-auth] [iprev]
 *           [on-tempfail accept|tempfail]
 *           [dmarc-reject reject|quarantine|none]
 *           [iprev-fail log|tempfail|reject] [dnsbl-at connect|rcpt]
 *           (these four override the "check" statements of that name)
 *           ADDR is an IPv4/IPv6 address, "any" or "localhost"
 *   milter NAME on "inet:IP:PORT"|"inet6:IP:PORT"|"unix:/path"
 *           [timeout TIME] [on-failure tempfail|accept]
 *   lmtp listen on socket ["path"] [allow "user"]...
 *                                       default rundir/lmtp.sock; the
 *                                       users that may deliver besides
 *                                       root and the queue
 *   lmtp listen on ADDR port N
 *   imap listen on ADDR [port N] [tls|tls-require|imaps] [pki NAME]
 *           [plaintext] [ciphers "list"]      default port 143, 993
 *   pop3 listen on ADDR [port N] [tls|tls-require|pop3s] [pki NAME]
 *           [plaintext] [ciphers "list"]      default port 110, 995
 *           plaintext: LOGIN, USER/PASS and AUTH before TLS
 *   metrics listen on ADDR [port N]     Prometheus, default port 9154
 *   limit message-size SIZE             K, M, G suffixes
 *   limit recipients N
 *   limit sessions N
 *   limit sessions-per-ip N
 *   limit line-length N                 command lines
 *   limit imap-sessions N | imap-sessions-per-ip N |
 *         imap-sessions-per-user N      IMAP and POP3 together
 *   timeout idle TIME | session TIME    s, m, h, d suffixes
 *   timeout lookup TIME                 authd's answer to smtpd, lmtpd
 *   timeout imap-idle TIME | imap-login TIME
 *   mta resolver "IP[@PORT]"            default: /etc/resolv.conf
 *   mta port N                          remote SMTP port, default 25
 *   mta max-connections N | max-connections-per-domain N
 *   mta tls verify domain "example.com" require a valid certificate
 *   relay host "name" [port N] [smtps|starttls] [auth "secret file"]
 *           secret file: one line "user:password"
 *   dkim domain "d" selector "s" key "file" [rsa|ed25519]
 *   check resolver "IP[@PORT]"          default: the mta resolver
 *   check psl "file"                    default: Debian's publicsuffix
 *   check on-tempfail accept|tempfail   default accept
 *   check dmarc-reject reject|quarantine|none   default reject
 *   check received-spf yes|no           default no
 *   check dnsbl|dnswl "zone[=127.0.0.2,...]"  up to 8 of each
 *   check greylist-delay|greylist-retry|greylist-expire TIME
 *                                       5m, 4h, 36d
 *   check iprev-fail log|tempfail|reject   default log
 *   check dnsbl-at connect|rcpt         default connect
 *   queue lifetime TIME | retry-min TIME | retry-max TIME |
 *         delay-warn TIME | lmtp-sessions N | lmtp "socket path"
 *
 * Errors are printed as "file:line: message"; conf_parse then fails.
 */

#ifndef TSAMBA_CONF_H
#define TSAMBA_CONF_H

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#define CONF_NAME_MAX	64
#define CONF_HOST_MAX	256
#define CONF_ADDR_MAX	257	/* ADDR_MAX (proto.h) and its NUL */
#define CONF_ALLOW_MAX	16	/* users in "lmtp listen on socket allow" */

#define LISTEN_TLS		0x01	/* STARTTLS offered */
#define LISTEN_TLS_REQUIRE	0x02	/* STARTTLS before MAIL */
#define LISTEN_SMTPS		0x04	/* implicit TLS (RFC 8314) */
#define LISTEN_AUTH		0x08	/* SASL AUTH offered */
#define LISTEN_HIDE_CLIENT	0x10	/* no client ip in Received: */
#define LISTEN_PLAINTEXT	0x20	/* IMAP/POP3 login without TLS */
/* smtps, imaps, pop3s: the one flag of implicit TLS. */
#define LISTEN_IMPLICIT		LISTEN_SMTPS
#define LISTEN_SPF		0x40	/* inbound checks (smtp_check.c) */
#define LISTEN_DKIM		0x80
#define LISTEN_DMARC		0x100	/* needs SPF and DKIM: implies them */
#define LISTEN_CHECKS		(LISTEN_SPF | LISTEN_DKIM | LISTEN_DMARC)
#define LISTEN_DNSBL		0x200	/* check dnsbl/dnswl before greeting */
#define LISTEN_GREYLIST		0x400	/* greylist at RCPT */

#define CONF_DNSBL_MAX		8	/* zones of each kind */
#define CONF_DNSBL_CODES	8	/* answers that count, per zone */

/* "check dnsbl|dnswl "zone[=A,A...]"": no codes, any 127.x answer. */
struct conf_dnsbl {
	char			 zone[CONF_HOST_MAX];
	struct in_addr		 codes[CONF_DNSBL_CODES];
	size_t			 ncodes;
};

/* "check on-tempfail": a check that could not be done. */
#define CHECK_TEMPFAIL_ACCEPT	0
#define CHECK_TEMPFAIL_DEFER	1	/* 451 4.7.0 */
/* "check dmarc-reject": what a DMARC p=reject failure gets. */
#define CHECK_DMARC_NONE	0	/* logged and in the header only */
#define CHECK_DMARC_QUARANTINE	1	/* as p=quarantine */
#define CHECK_DMARC_REJECT	2	/* 550 5.7.1 */
#define LISTEN_MILTER_AUTH	0x800	/* milters for AUTH sessions too */
#define LISTEN_IPREV		0x1000	/* FCrDNS of the client (RFC 8601) */
/* "check iprev-fail": what a client without matching FCrDNS gets. */
#define CHECK_IPREV_LOG		0	/* logged and in the header only */
#define CHECK_IPREV_TEMPFAIL	1	/* 450 4.7.25 at MAIL FROM */
#define CHECK_IPREV_REJECT	2	/* 550 5.7.25 at MAIL FROM */
/* "check dnsbl-at": where a listed client is refused. */
#define CHECK_DNSBL_CONNECT	0	/* 554 instead of the greeting */
#define CHECK_DNSBL_RCPT	1	/* 554 to each RCPT TO */
/* A listener's own check setting, else the "check" statement's. */
#define CONF_CHECK(cl, conf, f)	((cl)->f != -1 ? (cl)->f : (conf)->f)

#define CONF_LISTEN_MILTERS	8	/* milters of one listener */

/* What a message gets when a milter is down, times out or misbehaves. */
#define MILTER_FAIL_TEMPFAIL	0	/* 451 4.7.1 */
#define MILTER_FAIL_ACCEPT	1	/* go on without that milter */

struct conf_milter {
	TAILQ_ENTRY(conf_milter) entry;
	char			 name[CONF_NAME_MAX];
	char			 target[PATH_MAX];	/* as written */
	struct sockaddr_storage	 ss;	/* AF_INET, AF_INET6 or AF_UNIX */
	socklen_t		 sslen;
	unsigned int		 timeout;	/* s, 10 */
	int			 on_failure;	/* MILTER_FAIL_* */
};
TAILQ_HEAD(conf_milter_list, conf_milter);

struct conf_pki {
	TAILQ_ENTRY(conf_pki)	 entry;
	char			 name[CONF_NAME_MAX];
	char			 cert[PATH_MAX];
	char			 key[PATH_MAX];
	char			 file[PATH_MAX];	/* of the statement */
	int			 line;
};

/*
 * TLS 1.2 suites by default, for every listener and the mta: forward
 * secrecy and AEAD only (no static RSA, no CBC, no CCM8).  TLS 1.3
 * suites are all of that kind and not affected.
 */
#define TLS_CIPHERS_DEFAULT \
	"ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20"
#define CONF_CIPHERS_MAX	512

struct conf_listen {
	TAILQ_ENTRY(conf_listen) entry;
	struct sockaddr_storage	 ss;		/* address and port */
	socklen_t		 sslen;
	char			 addr[CONF_HOST_MAX];	/* as written */
	uint16_t		 port;
	int			 flags;		/* LISTEN_* */
	char			 pki[CONF_NAME_MAX];	/* "" = none */
	char			 ciphers[CONF_CIPHERS_MAX];	/* or "" */
	/* The milters in the order they see each message. */
	struct conf_milter	*milters[CONF_LISTEN_MILTERS];
	size_t			 nmilters;
	/* Check settings of this listener, -1: CONF_CHECK() takes conf's. */
	int			 check_tempfail;
	int			 check_dmarc_reject;
	int			 check_iprev;
	int			 check_dnsbl_at;
};

TAILQ_HEAD(conf_pki_list, conf_pki);
TAILQ_HEAD(conf_listen_list, conf_listen);

enum table_backend {
	TABLE_NONE = 0,
	TABLE_FILE,
	TABLE_MYSQL,
};

struct conf_net {
	TAILQ_ENTRY(conf_net)	 entry;
	struct sockaddr_storage	 ss;	/* network address */
	int			 prefixlen;
	char			 text[CONF_HOST_MAX];	/* as written */
};
TAILQ_HEAD(conf_net_list, conf_net);

struct conf_domain {
	TAILQ_ENTRY(conf_domain) entry;
	char			 name[CONF_HOST_MAX];	/* lowercased */
};
TAILQ_HEAD(conf_domain_list, conf_domain);

#define RELAY_STARTTLS		1
#define RELAY_SMTPS		2

struct conf_relay {
	char			 host[CONF_HOST_MAX];	/* "" = no relay */
	uint16_t		 port;		/* 25, 465 for smtps */
	int			 tls;		/* RELAY_*, STARTTLS */
	char			 secret[PATH_MAX];	/* "" = no AUTH */
};

#define DKIM_RSA		1
#define DKIM_ED25519		2

struct conf_dkim {
	TAILQ_ENTRY(conf_dkim)	 entry;
	char			 domain[CONF_HOST_MAX];	/* lowercased */
	char			 selector[CONF_NAME_MAX];
	char			 key[PATH_MAX];
	int			 algorithm;	/* DKIM_* */
};
TAILQ_HEAD(conf_dkim_list, conf_dkim);

struct conf_table {
	enum table_backend	 backend;
	char			 path[PATH_MAX];
};

struct conf {
	/* Defaults in the comments. */
	char			 hostname[CONF_HOST_MAX];	/* host name */
	/* postmaster: postmaster@hostname */
	char			 postmaster[CONF_ADDR_MAX];
	char			 rundir[PATH_MAX];	/* /run/tsamba */
	char			 spool[PATH_MAX];	/* /var/spool/tsamba */
	char			 mailroot[PATH_MAX];	/* /var/vmail */
	char			 chroot[PATH_MAX];	/* /var/lib/tsamba/empty */
	/* One user per process role; tsamba.conf(5) says who is who. */
	char			 user_smtpd[CONF_NAME_MAX];	/* _tsamba */
	/* user_lmtpd: _tsambalmtp */
	char			 user_lmtpd[CONF_NAME_MAX];
	char			 user_mta[CONF_NAME_MAX];	/* _tsambamta */
	char			 user_queue[CONF_NAME_MAX];	/* _tsambaq */
	/* user_imap: _tsambaimap, the IMAP/POP3 login (tsamba-imapd) */
	char			 user_imap[CONF_NAME_MAX];
	/* user_auth: _tsambaauth */
	char			 user_auth[CONF_NAME_MAX];
	char			 user_vmail[CONF_NAME_MAX];	/* vmail */
	/* user_metrics: _tsambamet, tsamba-metricsd */
	char			 user_metrics[CONF_NAME_MAX];

	struct conf_pki_list	 pkis;
	/* tls_ciphers: TLS_CIPHERS_DEFAULT */
	char			 tls_ciphers[CONF_CIPHERS_MAX];
	struct conf_listen_list	 listens;	/* SMTP */
	struct conf_listen_list	 lmtp_listens;	/* LMTP over TCP */
	struct conf_listen_list	 metrics_listens;	/* tsamba-metricsd */
	struct conf_listen_list	 imap_listens;	/* tsamba-imapd */
	struct conf_listen_list	 pop3_listens;
	char			 lmtp_socket[PATH_MAX];	/* rundir/lmtp.sock */
	/* Users besides root and the queue that may use lmtp_socket. */
	char			 lmtp_allow[CONF_ALLOW_MAX][CONF_NAME_MAX];
	size_t			 nlmtp_allow;

	struct conf_table	 domains;
	struct conf_table	 users;
	struct conf_table	 aliases;

	char			 statedir[PATH_MAX];	/* /var/lib/tsamba */
	unsigned int		 ban_max_failures;	/* 5 */
	unsigned int		 ban_window;		/* s, 600 */
	unsigned int		 ban_duration;		/* s, 3600 */
	struct conf_net_list	 ban_never;		/* empty */
	unsigned int		 ban_prefix4;		/* 32: per address */
	unsigned int		 ban_prefix6;		/* 64: per /64 */

	char			 mta_resolver[CONF_HOST_MAX]; /* "" */
	uint16_t		 mta_port;		/* 25 */
	unsigned int		 mta_max_conns;		/* 100 */
	unsigned int		 mta_max_conns_domain;	/* 10 */
	struct conf_domain_list	 mta_tls_verify;	/* domains */
	struct conf_relay	 relay;
	struct conf_dkim_list	 dkims;
	struct conf_milter_list	 milters;

	/* The inbound checks, on listeners with spf, dkim or dmarc. */
	char			 check_resolver[CONF_HOST_MAX];	/* "" */
	char			 check_psl[PATH_MAX];	/* PSL_PATH_DEFAULT */
	int			 check_tempfail;	/* CHECK_TEMPFAIL_* */
	int			 check_dmarc_reject;	/* CHECK_DMARC_REJECT */
	int			 check_received_spf;	/* 0 */
	struct conf_dnsbl	 dnsbl[CONF_DNSBL_MAX];
	size_t			 ndnsbl;
	struct conf_dnsbl	 dnswl[CONF_DNSBL_MAX];
	size_t			 ndnswl;
	unsigned int		 grey_delay;	/* s, 300 */
	unsigned int		 grey_retry;	/* s, 4 h */
	unsigned int		 grey_expire;	/* s, 36 d */
	int			 check_iprev;		/* CHECK_IPREV_LOG */
	int			 check_dnsbl_at;	/* CHECK_DNSBL_* */

	size_t			 max_message_size;	/* 35 MiB */
	unsigned int		 max_rcpts;		/* 100 */
	unsigned int		 max_sessions;		/* 500 */
	unsigned int		 max_sessions_per_ip;	/* 20 */
	size_t			 max_line;		/* 1000 */
	unsigned int		 timeout_idle;		/* s, 300 */
	unsigned int		 timeout_session;	/* s, 1800 */
	unsigned int		 timeout_lookup;	/* s, 30: authd's answer */
	unsigned int		 lmtp_max_writers;	/* 64, all owners */
	unsigned int		 lmtp_writer_idle;	/* s, 60 */

	unsigned int		 imap_max_sessions;	/* 1000, with POP3 */
	unsigned int		 imap_max_per_ip;	/* 20 */
	unsigned int		 imap_max_per_user;	/* 10 */
	unsigned int		 imap_timeout_idle;	/* s, 1800 */
	unsigned int		 imap_timeout_login;	/* s, 60 */

	unsigned int		 queue_lifetime;	/* s, 4 days */
	unsigned int		 queue_retry_min;	/* s, 60 */
	unsigned int		 queue_retry_max;	/* s, 3600 */
	unsigned int		 queue_delay_warn;	/* s, 4 hours */
	unsigned int		 queue_lmtp_sessions;	/* 8 */
	char			 queue_lmtp[PATH_MAX];	/* = lmtp_socket */

	/* limit mailbox-size: bytes, 0 unlimited, CONF_QUOTA_UNSET */
	size_t			 mailbox_quota;
};
#define CONF_QUOTA_UNSET	SIZE_MAX

/* Defaults, then the file; -1 after printing file:line errors to stderr. */
int		 conf_parse(const char *path, struct conf *);
void		 conf_clear(struct conf *);
struct conf_pki	*conf_pki_find(struct conf *, const char *);
struct conf_milter *conf_milter_find(struct conf *, const char *);
/* 1 if the address (sockaddr) lies in one of the networks. */
int		 conf_net_match(const struct conf_net_list *,
		    const struct sockaddr *);
/* "ADDRESS" or "ADDRESS/PREFIX" (IPv4 or IPv6) into n: 0, or -1. */
int		 conf_net_parse(struct conf_net *n, const char *text);
/* Paths of the sockets in rundir. */
void		 conf_sockpath(const struct conf *, const char *name,
		    char *buf, size_t bufsz);

#define TSAMBA_CONF	"/etc/tsamba/tsamba.conf"

#endif
