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

#include "channel.h"
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
static struct channel	 parent_ch, client_ch;

static void	keyop_sig(int, short, void *);
static void	keyop_parent(struct channel *, struct imsg *,
		    union imsg_msg *, void *);
static void	keyop_client(struct channel *, struct imsg *,
		    union imsg_msg *, void *);
static void	keyop_down(struct channel *, void *);
static void	keyop_load(struct imsg *, struct msg_key_load *);
static struct keyop_key *keyop_read_key(int, const char *);
static void	keyop_answer(uint32_t, struct msg_key_rsa_priv_enc *);

static const struct channel_type parent_types[] = {
	{ IMSG_KEY_LOAD, 0 },
	{ 0, 0 }
};
static const struct channel_type client_types[] = {
	{ IMSG_KEY_RSA_PRIV_ENC, 0 },
	{ IMSG_KEY_RSA_PRIV_DEC, 0 },
	{ IMSG_KEY_ECDSA_SIGN, 0 },
	{ 0, 0 }
};
static const struct channel_cbs parent_cbs = {
	.dispatch = keyop_parent,
	.down = keyop_down,
};
static const struct channel_cbs client_cbs = {
	.dispatch = keyop_client,
	.down = keyop_down,
};

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
	channel_init(&parent_ch, "parent", procname, parent_types,
	    &parent_cbs, NULL);
	channel_init(&client_ch, "key client", procname, client_types,
	    &client_cbs, NULL);
	channel_attach(&parent_ch, parent_fd);
	channel_attach(&client_ch, client_fd);
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
keyop_parent(struct channel *ch, struct imsg *imsg, union imsg_msg *m,
    void *arg)
{
	keyop_load(imsg, &m->key_load);
}

/* Either peer gone, or one that broke the protocol: fail-stop. */
static void
keyop_down(struct channel *ch, void *arg)
{
	fatalx("%s went away", ch->name);
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
keyop_load(struct imsg *imsg, struct msg_key_load *m)
{
	struct keyop_key	*k, *o, *next;
	struct msg_key_loaded	 a = { .pki = m->pki };
	const char		*name = m->pki;
	int			 n = 0;

	if (imsg->fd == -1)
		fatalx("KEY_LOAD without a key file");
	k = keyop_read_key(imsg->fd, name);
	close(imsg->fd);
	imsg->fd = -1;
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
	a.refused = k == NULL;
	if (channel_send(&parent_ch, msg_key_loaded_pack(&a, -1)) == -1)
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

/* The three questions have the same fields: one struct for them. */
static void
keyop_client(struct channel *ch, struct imsg *imsg, union imsg_msg *m,
    void *arg)
{
	struct msg_key_rsa_priv_enc	 q;

	switch (imsg->hdr.type) {
	case IMSG_KEY_RSA_PRIV_ENC:
		q = m->key_rsa_priv_enc;
		break;
	case IMSG_KEY_RSA_PRIV_DEC:
		q.id = m->key_rsa_priv_dec.id;
		q.keyid = m->key_rsa_priv_dec.keyid;
		q.keyid_len = m->key_rsa_priv_dec.keyid_len;
		q.param = m->key_rsa_priv_dec.param;
		q.input = m->key_rsa_priv_dec.input;
		q.input_len = m->key_rsa_priv_dec.input_len;
		break;
	default:
		q.id = m->key_ecdsa_sign.id;
		q.keyid = m->key_ecdsa_sign.keyid;
		q.keyid_len = m->key_ecdsa_sign.keyid_len;
		q.param = m->key_ecdsa_sign.param;
		q.input = m->key_ecdsa_sign.input;
		q.input_len = m->key_ecdsa_sign.input_len;
		break;
	}
	keyop_answer(imsg->hdr.type, &q);
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
keyop_answer(uint32_t type, struct msg_key_rsa_priv_enc *q)
{
	struct keyop_key	*k;
	struct msg_key_result	 a = { .id = q->id };
	unsigned char		 out[KEYOP_INPUT_MAX];
	int			 n = -1;

	if (q->keyid_len != KEYOP_ID_LEN)
		fatalx("malformed key request (%s)", imsg_type_name(type));
	if ((k = keyop_find(q->keyid)) == NULL)
		log_warnx("key request for a key not loaded");
	else if ((n = keyop_do(type, k, q->param, q->input, q->input_len,
	    out, sizeof(out))) < 0)
		log_warnx("pki %s: key operation (%s) failed", k->pki,
		    imsg_type_name(type));
	a.refused = n < 0;
	a.output = out;
	a.output_len = n < 0 ? 0 : n;
	if (channel_send(&client_ch, msg_key_result_pack(&a, -1)) == -1)
		fatalx("cannot queue KEY_RESULT");
	explicit_bzero(out, sizeof(out));
}
