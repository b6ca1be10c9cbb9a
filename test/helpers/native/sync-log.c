/*
 * Preloaded into a test redis-server: after each fsync/fdatasync that succeeds, appends
 * "<size> <path>" to $SYNC_LOG, the file's size when the call began. Everything up to that size
 * is on disk; whatever was written after it would be gone after a power cut. A test cuts the power
 * by killing the server and truncating its files to their last such size.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static void record(int fd, off_t size) {
  const char *log = getenv("SYNC_LOG");
  if (!log) return;
  char link[64], path[4096], line[4200];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, path, sizeof path - 1);
  if (n <= 0) return;
  path[n] = 0;
  int len = snprintf(line, sizeof line, "%lld %s\n", (long long)size, path);
  int out = open(log, O_WRONLY | O_APPEND | O_CREAT, 0644);
  if (out < 0) return;
  if (write(out, line, len) < 0) { /* nothing to do: the test sees no record */ }
  close(out);
}

static int synced(int fd, int (*real)(int)) {
  struct stat st;
  /* Taken before the call: data written while it runs may not be covered by it. */
  off_t size = fstat(fd, &st) == 0 ? st.st_size : -1;
  int rc = real(fd);
  if (rc == 0 && size >= 0) record(fd, size);
  return rc;
}

int fdatasync(int fd) {
  static int (*real)(int);
  if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
  return synced(fd, real);
}

int fsync(int fd) {
  static int (*real)(int);
  if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
  return synced(fd, real);
}
