/*
 * fuzz_index: libFuzzer target for the reader of tsamba.index
 * (imapd/index.c), which a mail process replays from a file any
 * process of the user can write.  The input is written as the index of
 * a scratch folder, with the CRC of each record it frames set right
 * (so that the payloads are explored, not only the damage path), and
 * opened; besides crashes it checks what the
 * reader promises: damage starts a fresh index, the messages are in
 * ascending UID order with modseqs at most HIGHESTMODSEQ, cached blobs
 * have their lengths, and a compaction written back reads the same.
 *
 * Build and run from the top of the tree:
 *   make regress/fuzz/fuzz_index
 *   ./regress/fuzz/fuzz_index -max_total_time=60 -max_len=4096
 */

#include <sys/types.h>

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "fileio.h"
#include "index.h"

#define FUZZ_UIDVALIDITY	5

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int	 dir = -1;
static char	 dirname_[32];

/* The scratch folder goes when the fuzzer stops. */
static void
cleanup(void)
{
	unlinkat(dir, INDEX_FILE, 0);
	rmdir(dirname_);
}

/* Each record framed by its length gets its right CRC. */
static void
fix_crcs(unsigned char *b, size_t len)
{
	size_t		 off = 0;
	uint32_t	 rlen, crc;

	while (len - off >= 9) {
		rlen = b[off] | b[off + 1] << 8 | b[off + 2] << 16 |
		    (uint32_t)b[off + 3] << 24;
		if (len - off - 9 < rlen)
			break;
		crc = crc32(0L, b + off + 4, rlen + 1);
		b[off + 5 + rlen] = crc;
		b[off + 6 + rlen] = crc >> 8;
		b[off + 7 + rlen] = crc >> 16;
		b[off + 8 + rlen] = crc >> 24;
		off += 9 + rlen;
	}
}

static void
check(const struct mindex *ix)
{
	size_t	 i;

	for (i = 0; i < ix->nmsg; i++) {
		if (i > 0 && ix->msg[i].uid <= ix->msg[i - 1].uid)
			abort();
		if (ix->msg[i].modseq > ix->highestmodseq)
			abort();
		if ((ix->msg[i].envelope == NULL) != (ix->msg[i].envlen == 0) ||
		    (ix->msg[i].bodystructure == NULL) !=
		    (ix->msg[i].bslen == 0))
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mindex	*a, *b;
	unsigned char	*buf;
	size_t		 i;
	int		 fd;

	if (dir == -1) {
		strlcpy(dirname_, "/tmp/fuzz_index.XXXXXX", sizeof(dirname_));
		if (mkdtemp(dirname_) == NULL ||
		    (dir = open(dirname_, O_RDONLY | O_DIRECTORY)) == -1)
			abort();
		atexit(cleanup);
	}
	if ((buf = malloc(size + 1)) == NULL)
		abort();
	memcpy(buf, data, size);
	fix_crcs(buf, size);
	if ((fd = openat(dir, INDEX_FILE, O_WRONLY | O_CREAT | O_TRUNC,
	    0600)) == -1 || write_all(fd, buf, size) == -1)
		abort();
	close(fd);
	free(buf);
	if (index_open(dir, FUZZ_UIDVALIDITY, &a) == -1)
		return 0;
	check(a);
	if (index_compact(a) == -1)
		abort();
	if (index_open(dir, FUZZ_UIDVALIDITY, &b) == -1 || b->rebuilt ||
	    b->nmsg != a->nmsg || b->highestmodseq != a->highestmodseq)
		abort();
	for (i = 0; i < a->nmsg; i++)
		if (b->msg[i].uid != a->msg[i].uid ||
		    b->msg[i].have != a->msg[i].have ||
		    b->msg[i].envlen != a->msg[i].envlen ||
		    (a->msg[i].envlen > 0 && memcmp(b->msg[i].envelope,
		    a->msg[i].envelope, a->msg[i].envlen) != 0))
			abort();
	index_close(a);
	index_close(b);
	return 0;
}
