/*
 * pki checks: load the certificate chain and the private key of a pki
 * statement with OpenSSL and check that they belong together, so that a
 * missing file, a garbage PEM or a swapped pair is an error at check
 * time and at start, with the file and line of the statement, and never
 * a TLS listener that advertises STARTTLS and then fails.
 */

#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "conf.h"
#include "fileio.h"
#include "keyop.h"
#include "log.h"
#include "pki.h"

static void
pki_err(const struct conf_pki *pki, char *err, size_t errsz,
    const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	n = snprintf(err, errsz, "%s:%d: pki %s: ", pki->file, pki->line,
	    pki->name);
	if (n < 0 || (size_t)n >= errsz)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(err + n, errsz - n, fmt, ap);
	va_end(ap);
}

static int
pki_read(const char *path, size_t max, char **buf, size_t *len)
{
	int	 fd, rv, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	rv = fileio_read_fd(fd, max, buf, len);
	saved = errno;
	close(fd);
	errno = saved;
	return rv;
}

/* Every certificate of the chain must parse; returns the first. */
static X509 *
pki_load_chain(const char *pem, size_t len, int *ncerts)
{
	X509	*first = NULL, *x;
	BIO	*bio;

	*ncerts = 0;
	if ((bio = BIO_new_mem_buf(pem, len)) == NULL)
		return NULL;
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (first == NULL)
			first = x;
		else
			X509_free(x);
		(*ncerts)++;
	}
	/* The loop ends at "no start line" after the last certificate. */
	if (ERR_GET_REASON(ERR_peek_last_error()) != PEM_R_NO_START_LINE) {
		X509_free(first);
		first = NULL;
	}
	ERR_clear_error();
	BIO_free(bio);
	return first;
}

static int
pki_no_password(char *buf, int size, int rwflag, void *u)
{
	return 0;
}

static EVP_PKEY *
pki_load_key(const char *pem, size_t len)
{
	EVP_PKEY	*pkey;
	BIO		*bio;

	if ((bio = BIO_new_mem_buf(pem, len)) == NULL)
		return NULL;
	pkey = PEM_read_bio_PrivateKey(bio, NULL, pki_no_password, NULL);
	BIO_free(bio);
	ERR_clear_error();
	return pkey;
}

int
pki_check(const struct conf_pki *pki, char *err, size_t errsz)
{
	X509		*cert = NULL;
	EVP_PKEY	*key = NULL;
	char		*cpem = NULL, *kpem = NULL;
	size_t		 clen, klen = 0;
	int		 ncerts, rv = -1;

	if (pki_read(pki->cert, PKI_CHAIN_MAX, &cpem, &clen) == -1) {
		pki_err(pki, err, errsz, "certificate %s: %s", pki->cert,
		    strerror(errno));
		goto done;
	}
	if ((cert = pki_load_chain(cpem, clen, &ncerts)) == NULL) {
		pki_err(pki, err, errsz, "certificate %s: %s", pki->cert,
		    ncerts == 0 ? "no PEM certificate in the file" :
		    "a certificate of the chain does not parse");
		goto done;
	}
	if (pki_read(pki->key, KEYOP_KEYFILE_MAX, &kpem, &klen) == -1) {
		pki_err(pki, err, errsz, "key %s: %s", pki->key,
		    strerror(errno));
		goto done;
	}
	if ((key = pki_load_key(kpem, klen)) == NULL) {
		pki_err(pki, err, errsz, "key %s: no PEM private key in the "
		    "file (or it needs a pass phrase)", pki->key);
		goto done;
	}
	if (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA &&
	    EVP_PKEY_get_base_id(key) != EVP_PKEY_EC) {
		pki_err(pki, err, errsz, "key %s: only RSA and ECDSA keys "
		    "are supported", pki->key);
		goto done;
	}
	if (X509_check_private_key(cert, key) != 1) {
		ERR_clear_error();
		pki_err(pki, err, errsz, "key %s does not match certificate "
		    "%s", pki->key, pki->cert);
		goto done;
	}
	rv = 0;
 done:
	X509_free(cert);
	EVP_PKEY_free(key);
	free(cpem);
	if (kpem != NULL) {
		explicit_bzero(kpem, klen);
		free(kpem);
	}
	return rv;
}

int
pki_check_all(const struct conf *conf)
{
	struct conf_pki	*pki;
	char		 err[PATH_MAX * 2 + 256];
	int		 rv = 0;

	TAILQ_FOREACH(pki, &conf->pkis, entry) {
		if (pki_check(pki, err, sizeof(err)) == -1) {
			log_warnx("%s", err);
			rv = -1;
		}
	}
	return rv;
}

int
pki_check_apart(const struct conf_pki *pki)
{
	char	 err[PATH_MAX * 2 + 256];
	pid_t	 pid;
	int	 status;

	switch (pid = fork()) {
	case -1:
		log_warn("fork");
		return -1;
	case 0:
		if (pki_check(pki, err, sizeof(err)) == -1) {
			log_warnx("%s", err);
			_exit(1);
		}
		_exit(0);
	}
	while (waitpid(pid, &status, 0) == -1) {
		if (errno != EINTR) {
			log_warn("waitpid");
			return -1;
		}
	}
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}
