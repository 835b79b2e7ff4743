/* Refuse an address-space limit (ulimit -v) too small to run in, before any
 * library starts. OpenBLAS 0.3.21 mallocs a 128 MiB buffer in its constructor
 * (and one per thread in the first sgemms) and retries forever when the limit
 * refuses it, so ditgen would hang before main or in its first matrix product.
 * Functions in .preinit_array run before the constructors of the shared
 * libraries, with the libraries already mapped: the check asks for a headroom
 * above what is mapped then, for the default thread count (one per core). The
 * numbers are empirical (docs/robustness.md): the shipped model needs 350 MiB
 * more than the libraries with 2 threads, and each thread about 200 MiB more
 * (OpenBLAS buffer, malloc arena, stack). */
#define _DEFAULT_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#define DG_AS_BASE_MIB 128
#define DG_AS_PER_THREAD_MIB 200

/* Bytes mapped now (VmSize, the first field of /proc/self/statm), or 0. */
static unsigned long long mapped_bytes(void) {
    char buf[64] = {0};
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return 0;
    return strtoull(buf, NULL, 10) * (unsigned long long)sysconf(_SC_PAGESIZE);
}

static void check_address_space(int argc, char **argv, char **envp) {
    (void)argc, (void)argv, (void)envp;
    struct rlimit rl;
    if (getrlimit(RLIMIT_AS, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return;
    unsigned long long limit_mib = rl.rlim_cur >> 20, mapped_mib = mapped_bytes() >> 20;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1) cores = 1;
    unsigned long long headroom_mib = DG_AS_BASE_MIB + DG_AS_PER_THREAD_MIB * (unsigned long long)cores;
    unsigned long long need_mib = mapped_mib + headroom_mib;
    if (limit_mib >= need_mib) return;
    char msg[400];
    int len = snprintf(msg, sizeof msg,
                       "ditgen: the address-space limit (ulimit -v) of %llu MiB is too small: ditgen needs at least "
                       "%llu MiB here (%llu MiB of libraries + %llu MiB to run on %ld cores; OpenBLAS would hang "
                       "retrying its buffer allocation). Raise it with ulimit -v %llu or more.\n",
                       limit_mib, need_mib, mapped_mib, headroom_mib, cores, need_mib << 10);
    if (len > 0) (void)!write(2, msg, (size_t)len < sizeof msg ? (size_t)len : sizeof msg - 1);
    _exit(1);
}

__attribute__((section(".preinit_array"), used)) static void (*const dg_address_space_check)(int, char **, char **) =
    check_address_space;
