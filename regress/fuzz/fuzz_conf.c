/*
 * libFuzzer target for the tsamba.conf parser: each input becomes a
 * config file and goes through conf_parse(), includes and all.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE \
 *       -Ilib $(pkg-config --cflags libbsd-overlay) \
 *       -o fuzz_conf regress/fuzz/fuzz_conf.c lib/parse.c lib/conf.c
 *   mkdir -p /tmp/corpus_conf
 *   ./fuzz_conf -max_total_time=20 -dict=regress/fuzz/fuzz_conf.dict \
 *       /tmp/corpus_conf etc
 *
 * (new inputs go to the first directory; etc/ only seeds it.)
 */

#include <sys/types.h>

#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"

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
	char	dir[] = "/tmp/fuzz_conf.XXXXXX";

	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/tsamba.conf", dir);
	atexit(cleanup);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf	 conf;
	int		 fd;

	if (path[0] == '\0' && setup() == -1)
		abort();
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1)
		abort();
	if (write(fd, data, size) != (ssize_t)size)
		abort();
	close(fd);
	if (conf_parse(path, &conf) == 0)
		conf_clear(&conf);
	return 0;
}
