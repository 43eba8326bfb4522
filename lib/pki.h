/*
 * The checks of a pki statement that every program runs before it
 * trusts one: the certificate chain parses, the private key parses, and
 * the key belongs to the first certificate.  tsambactl check, each
 * daemon's -n, start-up and every SIGHUP reload use the same checks.
 */

#ifndef TSAMBA_PKI_H
#define TSAMBA_PKI_H

#include <stddef.h>

struct conf;
struct conf_pki;

#define PKI_CHAIN_MAX	(4 * 1024 * 1024)	/* a certificate chain */

/*
 * 0 if usable, else -1 and err holds "file:line: pki NAME: why" (the
 * line of the pki statement).
 */
int	pki_check(const struct conf_pki *, char *err, size_t errsz);
/* Every pki of conf; each failure logged (log_warnx): 0 or -1. */
int	pki_check_all(const struct conf *);
/*
 * pki_check() in a child process, failure logged, so that no byte of a
 * private key ever enters the memory of the caller (a parent that forks
 * network processes later): 0 or -1.
 */
int	pki_check_apart(const struct conf_pki *);

#endif
