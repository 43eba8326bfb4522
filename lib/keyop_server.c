/*
 * The key process: the only process of a daemon that holds its TLS
 * private keys after start-up.  It runs unprivileged in the empty
 * chroot, is neither dumpable nor traceable by its own uid, reads keys
 * only from descriptors the parent opens for it, and answers exactly
 * three questions from the network-facing process: RSA private encrypt,
 * RSA private decrypt and ECDSA sign, for keys it knows, with bounded
 * inputs.  Anything else on either channel is a bug or an attack: the
 * process stops (fail-stop) and the parent with it.
 */

/* RSA_private_encrypt and ECDSA_sign: the operations libtls asks for. */
#define OPENSSL_SUPPRESS_DEPRECATED

#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/queue.h>
#include <sys/stat.h>

#include <errno.h>
#include <event.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "daemon.h"
#include "fileio.h"
#include "imsg.h"
#include "keyop.h"
#include "log.h"
#include "privdrop.h"
#include "proto.h"

/* Keys kept per pki: the current one and the one before a reload. */
#define KEYS_PER_PKI	2

struct keyop_key {
	TAILQ_ENTRY(keyop_key)	 entry;
	char			 pki[64];
	uint8_t			 id[KEYOP_ID_LEN];
	RSA			*rsa;
	EC_KEY			*ec;
};

static TAILQ_HEAD(, keyop_key) keys = TAILQ_HEAD_INITIALIZER(keys);
static struct imsgev	 parent_iev, client_iev;
static int		 parent_hello, client_hello;

static void	keyop_sig(int, short, void *);
static void	keyop_parent(struct imsgev *, struct imsg *, void *);
static void	keyop_client(struct imsgev *, struct imsg *, void *);
static void	keyop_load(struct imsg *);
static struct keyop_key *keyop_read_key(int, const char *);
static void	keyop_answer(struct imsg *);

void
keyop_server_main(int parent_fd, int client_fd, const char *user,
    const char *root, const char *procname)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP };
	struct event	 ev_sigs[3];

	log_procname(procname);
	/* OpenSSL reads its configuration before the chroot. */
	OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG, NULL);
	priv_drop(user, root, procname);
	/* Its own uid must not read the keys out of this process. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		fatal("prctl PR_SET_DUMPABLE");

	event_init();
	daemon_signals(ev_sigs, sigs, 3, keyop_sig);
	if (fcntl(parent_fd, F_SETFL, O_NONBLOCK) == -1 ||
	    fcntl(client_fd, F_SETFL, O_NONBLOCK) == -1)
		fatal("fcntl");
	imsgev_init(&parent_iev, parent_fd, keyop_parent, NULL);
	imsgev_init(&client_iev, client_fd, keyop_client, NULL);
	if (imsg_send_hello(&parent_iev.ibuf, procname) == -1 ||
	    imsg_send_hello(&client_iev.ibuf, procname) == -1)
		fatalx("hello");
	imsgev_update(&parent_iev);
	imsgev_update(&client_iev);
	event_dispatch();
	fatalx("event loop ended");
}

static void
keyop_sig(int sig, short ev, void *arg)
{
	/* The parent reloads on SIGHUP and sends the keys. */
	if (sig == SIGHUP)
		return;
	exit(0);
}

static void
keyop_parent(struct imsgev *iev, struct imsg *imsg, void *arg)
{
	if (imsg == NULL)
		fatalx("parent went away");
	if (!parent_hello) {
		if (imsg_check_hello(imsg, "key process") == -1)
			fatalx("bad hello from the parent");
		parent_hello = 1;
		return;
	}
	if (imsg->hdr.type != IMSG_KEY_LOAD)
		fatalx("unexpected imsg %u from the parent", imsg->hdr.type);
	keyop_load(imsg);
}

static void
keyop_key_free(struct keyop_key *k)
{
	TAILQ_REMOVE(&keys, k, entry);
	/* Both free their secrets with BN_clear_free(). */
	RSA_free(k->rsa);
	EC_KEY_free(k->ec);
	free(k);
}

/* A new key for a pki; the previous one stays for handshakes under way. */
static void
keyop_load(struct imsg *imsg)
{
	struct keyop_key	*k, *o, *next;
	struct ibuf		*b;
	char			 name[64];
	int			 n = 0;

	if (imsg_get_str(imsg, name, sizeof(name)) == -1 ||
	    imsg_get_end(imsg) == -1 || imsg->fd == -1)
		fatalx("malformed KEY_LOAD");
	k = keyop_read_key(imsg->fd, name);
	close(imsg->fd);
	if (k != NULL) {
		TAILQ_FOREACH_SAFE(o, &keys, entry, next) {
			if (memcmp(o->id, k->id, sizeof(k->id)) == 0)
				keyop_key_free(o);
		}
		TAILQ_INSERT_HEAD(&keys, k, entry);
		TAILQ_FOREACH_SAFE(o, &keys, entry, next) {
			if (strcmp(o->pki, name) == 0 && ++n > KEYS_PER_PKI)
				keyop_key_free(o);
		}
		log_debug("pki %s: private key loaded", name);
	}
	if ((b = imsg_create(IMSG_KEY_LOADED, 0, -1)) == NULL)
		fatal("imsg_create");
	ibuf_add_str(b, name);
	ibuf_add_u8(b, k == NULL);
	if (b->error || imsgev_send(&parent_iev, b) == -1)
		fatalx("cannot queue KEY_LOADED");
}

/* Never ask for a pass phrase: there is no one to type it. */
static int
keyop_no_password(char *buf, int size, int rwflag, void *u)
{
	return 0;
}

static struct keyop_key *
keyop_read_key(int fd, const char *name)
{
	struct keyop_key	*k;
	EVP_PKEY		*pkey = NULL;
	BIO			*bio;
	char			*pem;
	size_t			 len;

	if (fileio_read_fd(fd, KEYOP_KEYFILE_MAX, &pem, &len) == -1) {
		log_warn("pki %s: key", name);
		return NULL;
	}
	if ((bio = BIO_new_mem_buf(pem, len)) != NULL) {
		pkey = PEM_read_bio_PrivateKey(bio, NULL, keyop_no_password,
		    NULL);
		BIO_free(bio);
	}
	explicit_bzero(pem, len);
	free(pem);
	if (pkey == NULL) {
		log_warnx("pki %s: no private key in the key file", name);
		return NULL;
	}
	if ((k = calloc(1, sizeof(*k))) == NULL)
		fatal("calloc");
	strlcpy(k->pki, name, sizeof(k->pki));
	switch (EVP_PKEY_get_base_id(pkey)) {
	case EVP_PKEY_RSA:
		if ((k->rsa = EVP_PKEY_get1_RSA(pkey)) == NULL ||
		    keyop_id_rsa(k->rsa, k->id) == -1)
			goto bad;
		break;
	case EVP_PKEY_EC:
		if ((k->ec = EVP_PKEY_get1_EC_KEY(pkey)) == NULL ||
		    keyop_id_ec(k->ec, k->id) == -1)
			goto bad;
		break;
	default:
		log_warnx("pki %s: only RSA and ECDSA keys are supported",
		    name);
		goto bad;
	}
	EVP_PKEY_free(pkey);
	return k;
 bad:
	RSA_free(k->rsa);
	EC_KEY_free(k->ec);
	free(k);
	EVP_PKEY_free(pkey);
	return NULL;
}

static void
keyop_client(struct imsgev *iev, struct imsg *imsg, void *arg)
{
	if (imsg == NULL)
		fatalx("key client went away");
	if (imsg->fd != -1)
		fatalx("key client sent a descriptor");
	if (!client_hello) {
		if (imsg_check_hello(imsg, "key process") == -1)
			fatalx("bad hello from the key client");
		client_hello = 1;
		return;
	}
	switch (imsg->hdr.type) {
	case IMSG_KEY_RSA_PRIV_ENC:
	case IMSG_KEY_RSA_PRIV_DEC:
	case IMSG_KEY_ECDSA_SIGN:
		keyop_answer(imsg);
		break;
	default:
		fatalx("unexpected imsg %u from the key client",
		    imsg->hdr.type);
	}
}

static struct keyop_key *
keyop_find(const void *id)
{
	struct keyop_key	*k;

	TAILQ_FOREACH(k, &keys, entry)
		if (memcmp(k->id, id, KEYOP_ID_LEN) == 0)
			return k;
	return NULL;
}

/* Padding modes TLS uses; PSS is padded by the client (NO_PADDING). */
static int
keyop_padding_ok(uint32_t type, uint32_t padding)
{
	if (padding == RSA_PKCS1_PADDING || padding == RSA_NO_PADDING)
		return 1;
	return type == IMSG_KEY_RSA_PRIV_DEC &&
	    padding == RSA_PKCS1_OAEP_PADDING;
}

/* Returns the output length, or -1 (a refusal, not a protocol error). */
static int
keyop_do(uint32_t type, struct keyop_key *k, uint32_t padding,
    const unsigned char *in, size_t inlen, unsigned char *out, size_t outsz)
{
	unsigned int	 siglen;

	switch (type) {
	case IMSG_KEY_RSA_PRIV_ENC:
	case IMSG_KEY_RSA_PRIV_DEC:
		if (k->rsa == NULL || !keyop_padding_ok(type, padding) ||
		    inlen > (size_t)RSA_size(k->rsa) ||
		    (size_t)RSA_size(k->rsa) > outsz)
			return -1;
		if (type == IMSG_KEY_RSA_PRIV_ENC)
			return RSA_private_encrypt(inlen, in, out, k->rsa,
			    padding);
		return RSA_private_decrypt(inlen, in, out, k->rsa, padding);
	case IMSG_KEY_ECDSA_SIGN:
		if (k->ec == NULL || padding != 0 ||
		    (size_t)ECDSA_size(k->ec) > outsz ||
		    ECDSA_sign(0, in, inlen, out, &siglen, k->ec) != 1)
			return -1;
		return siglen;
	}
	return -1;
}

static void
keyop_answer(struct imsg *imsg)
{
	struct keyop_key	*k;
	struct ibuf		*b;
	unsigned char		 out[KEYOP_INPUT_MAX];
	const void		*id, *in;
	size_t			 idlen, inlen;
	uint64_t		 reqid;
	uint32_t		 padding;
	int			 n = -1;

	if (imsg_get_u64(imsg, &reqid) == -1 ||
	    imsg_get_blob(imsg, &id, &idlen) == -1 ||
	    imsg_get_u32(imsg, &padding) == -1 ||
	    imsg_get_blob(imsg, &in, &inlen) == -1 ||
	    imsg_get_end(imsg) == -1 || idlen != KEYOP_ID_LEN ||
	    inlen > KEYOP_INPUT_MAX)
		fatalx("malformed key request (imsg %u)", imsg->hdr.type);
	if ((k = keyop_find(id)) == NULL)
		log_warnx("key request for a key not loaded");
	else if ((n = keyop_do(imsg->hdr.type, k, padding, in, inlen, out,
	    sizeof(out))) < 0)
		log_warnx("pki %s: key operation (imsg %u) failed", k->pki,
		    imsg->hdr.type);
	if ((b = imsg_create(IMSG_KEY_RESULT, 0, -1)) == NULL)
		fatal("imsg_create");
	ibuf_add_u64(b, reqid);
	ibuf_add_u8(b, n < 0);
	ibuf_add_blob(b, out, n < 0 ? 0 : n);
	explicit_bzero(out, sizeof(out));
	if (b->error || imsgev_send(&client_iev, b) == -1)
		fatalx("cannot queue KEY_RESULT");
}
