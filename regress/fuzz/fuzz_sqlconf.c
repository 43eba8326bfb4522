/*
 * libFuzzer target for the MariaDB connection file parser: each input
 * becomes the file and goes through sqlconf_parse().
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE \
 *       -Ilib -o fuzz_sqlconf regress/fuzz/fuzz_sqlconf.c lib/sqlconf.c
 *   mkdir -p /tmp/corpus_sqlconf
 *   ./fuzz_sqlconf -max_total_time=20 /tmp/corpus_sqlconf
 */

#include <sys/types.h>

#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sqlconf.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static char	path[PATH_MAX];

/* One file, rewritten for every input; removed when the fuzzer exits. */
static void
cleanup(void)
{
	char	dir[PATH_MAX];

	unlink(path);
	snprintf(dir, sizeof(dir), "%s", path);
	*strrchr(dir, '/') = '\0';
	rmdir(dir);
}

static int
setup(void)
{
	char	dir[] = "/tmp/fuzz_sqlconf.XXXXXX";

	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/mysql.conf", dir);
	atexit(cleanup);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sqlconf	 sc;
	size_t		 q;
	int		 fd;

	if (path[0] == '\0' && setup() == -1)
		abort();
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1)
		abort();
	if (write(fd, data, size) != (ssize_t)size)
		abort();
	close(fd);
	if (sqlconf_parse(path, &sc) == 0) {
		/* Whatever was accepted is terminated and in range. */
		for (q = 0; q < SQL_NQUERIES; q++)
			if (memchr(sc.query[q], '\0',
			    sizeof(sc.query[q])) == NULL)
				abort();
		if (sc.port == 0 || sc.port > 65535 || sc.pool == 0)
			abort();
	}
	return 0;
}
