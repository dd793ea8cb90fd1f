/* gen_io.c - checked output streams and atomic files / directories for trit-gen. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gen_int.h"

static int io_fail(gen_out *o, const char *what, trit_err *err)
{
    int const e = errno;
    trit_err_set(err, TRIT_E_IO, o->off, NULL, "%s failed: %s", what, strerror(e));
    trit_err_file(err, o->path);
    return TRIT_E_IO;
}

int gen__out_create(gen_out *o, const char *path, trit_err *err)
{
    memset(o, 0, sizeof *o);
    snprintf(o->path, sizeof o->path, "%s", path);
    int const fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return io_fail(o, "create", err);
    o->f = fdopen(fd, "wb");
    if (!o->f) {
        int const rc = io_fail(o, "fdopen", err);
        close(fd);
        return rc;
    }
    return TRIT_OK;
}

void gen__out_counter(gen_out *o)
{
    memset(o, 0, sizeof *o);
    snprintf(o->path, sizeof o->path, "(counter)");
}

int gen__out_write(gen_out *o, const void *p, size_t n, trit_err *err)
{
    if (o->f && n && fwrite(p, 1, n, o->f) != n) return io_fail(o, "write", err);
    o->off += n;
    return TRIT_OK;
}

int gen__out_zeros(gen_out *o, uint64_t n, trit_err *err)
{
    static const uint8_t zeros[256];
    while (n) {
        size_t const k = n < sizeof zeros ? (size_t)n : sizeof zeros;
        int const rc = gen__out_write(o, zeros, k, err);
        if (rc) return rc;
        n -= k;
    }
    return TRIT_OK;
}

int gen__out_str(gen_out *o, const char *s, trit_err *err)
{
    return gen__out_write(o, s, strlen(s), err);
}

int gen__out_printf(gen_out *o, trit_err *err, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int const n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof buf)
        return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, NULL, "formatted line too long");
    return gen__out_write(o, buf, (size_t)n, err);
}

int gen__out_json_str(gen_out *o, const char *s, size_t n, trit_err *err)
{
    char buf[600];
    size_t k = 0;
    int rc;
    buf[k++] = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char const c = (unsigned char)s[i];
        if (k + 8 > sizeof buf) {
            if ((rc = gen__out_write(o, buf, k, err))) return rc;
            k = 0;
        }
        if (c == '"' || c == '\\') {
            buf[k++] = '\\';
            buf[k++] = (char)c;
        } else if (c < 0x20) {
            k += (size_t)snprintf(buf + k, sizeof buf - k, "\\u%04x", c);
        } else {
            buf[k++] = (char)c;
        }
    }
    buf[k++] = '"';
    return gen__out_write(o, buf, k, err);
}

int gen__out_u32le(gen_out *o, uint32_t v, trit_err *err)
{
    uint8_t b[4];
    for (int i = 0; i < 4; i++) b[i] = (uint8_t)(v >> (8 * i));
    return gen__out_write(o, b, 4, err);
}

int gen__out_u64le(gen_out *o, uint64_t v, trit_err *err)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)(v >> (8 * i));
    return gen__out_write(o, b, 8, err);
}

int gen__out_close(gen_out *o, trit_err *err)
{
    if (!o->f) return TRIT_OK;
    int rc = TRIT_OK;
    if (fflush(o->f) != 0) rc = io_fail(o, "flush", err);
    else if (fsync(fileno(o->f)) != 0) rc = io_fail(o, "fsync", err);
    if (fclose(o->f) != 0 && rc == TRIT_OK) rc = io_fail(o, "close", err);
    o->f = NULL;
    return rc;
}

void gen__out_discard(gen_out *o)
{
    if (o->f) fclose(o->f);
    o->f = NULL;
}

int gen__join(char *buf, size_t cap, const char *dir, const char *name, trit_err *err)
{
    int const n = snprintf(buf, cap, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= cap)
        return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, NULL, "path too long: %s/%s", dir, name);
    return TRIT_OK;
}

/* ------------------------------------------------------------------------------------------ */

static int path_err(const char *path, const char *what, trit_err *err)
{
    int const e = errno;
    trit_err_set(err, TRIT_E_IO, TRIT_NO_OFFSET, NULL, "%s failed: %s", what, strerror(e));
    trit_err_file(err, path);
    return TRIT_E_IO;
}

/* Directory part of path ("." when there is none) into dir. */
static void parent_dir(const char *path, char *dir, size_t cap)
{
    const char *slash = strrchr(path, '/');
    if (!slash) snprintf(dir, cap, ".");
    else if (slash == path) snprintf(dir, cap, "/");
    else snprintf(dir, cap, "%.*s", (int)(slash - path), path);
}

static int fsync_dir(const char *dir, trit_err *err)
{
    int const fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return path_err(dir, "open directory", err);
    int rc = TRIT_OK;
    if (fsync(fd) != 0) rc = path_err(dir, "fsync directory", err);
    close(fd);
    return rc;
}

int gen__check_target(const char *path, int is_dir, int overwrite, trit_err *err)
{
    struct stat st;
    if (!path || !*path)
        return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, NULL, "no output path given");
    if (strlen(path) + 16 >= GEN_PATH_MAX)
        return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, NULL, "output path too long");
    if (stat(path, &st) != 0) {
        if (errno == ENOENT) return TRIT_OK;
        return path_err(path, "stat", err);
    }
    if (!overwrite) {
        trit_err_set(err, TRIT_E_EXISTS, TRIT_NO_OFFSET, NULL,
                     "output already exists (use --force to replace it)");
        trit_err_file(err, path);
        return TRIT_E_EXISTS;
    }
    if (is_dir != (S_ISDIR(st.st_mode) != 0)) {
        trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, NULL,
                     "output exists and is not a %s; not replacing it", is_dir ? "directory" : "file");
        trit_err_file(err, path);
        return TRIT_E_USAGE;
    }
    return TRIT_OK;
}

int gen__tmpfile_open(const char *final_path, gen_out *o, char *tmp, size_t cap, trit_err *err)
{
    memset(o, 0, sizeof *o);
    int const n = snprintf(tmp, cap, "%s.tmp-XXXXXX", final_path);
    if (n < 0 || (size_t)n >= cap)
        return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, NULL, "output path too long");
    int const fd = mkstemp(tmp);
    if (fd < 0) return path_err(final_path, "create temporary file", err);
    /* mkstemp makes it 0600; the output should look like any other file. */
    if (fchmod(fd, 0644) != 0) {
        int const rc = path_err(tmp, "chmod", err);
        close(fd);
        unlink(tmp);
        return rc;
    }
    snprintf(o->path, sizeof o->path, "%s", final_path);
    o->f = fdopen(fd, "wb");
    if (!o->f) {
        int const rc = path_err(tmp, "fdopen", err);
        close(fd);
        unlink(tmp);
        return rc;
    }
    return TRIT_OK;
}

int gen__commit_file(gen_out *o, const char *tmp, const char *final_path, trit_err *err)
{
    char dir[GEN_PATH_MAX];
    int rc = gen__out_close(o, err);
    if (rc == TRIT_OK && rename(tmp, final_path) != 0) rc = path_err(final_path, "rename", err);
    if (rc != TRIT_OK) {
        unlink(tmp);
        return rc;
    }
    parent_dir(final_path, dir, sizeof dir);
    return fsync_dir(dir, err);
}

int gen__tmpdir_create(const char *final_path, char *tmp, size_t cap, trit_err *err)
{
    int const n = snprintf(tmp, cap, "%s.tmp-XXXXXX", final_path);
    if (n < 0 || (size_t)n >= cap)
        return trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, NULL, "output path too long");
    if (!mkdtemp(tmp)) return path_err(final_path, "create temporary directory", err);
    /* mkdtemp makes it 0700; the output should look like any other directory. */
    if (chmod(tmp, 0755) != 0) {
        int const rc = path_err(tmp, "chmod", err);
        rmdir(tmp);
        return rc;
    }
    return TRIT_OK;
}

/* Names trit-gen writes into an output directory; only these are removed on --force. */
static int is_our_file(const char *name)
{
    size_t const n = strlen(name);
    unsigned a, b;
    char tail[32];
    if (!strcmp(name, "config.json") || !strcmp(name, "tokenizer.json") ||
        !strcmp(name, "model.safetensors") || !strcmp(name, "model.safetensors.index.json"))
        return 1;
    return n == 32 && sscanf(name, "model-%5u-of-%5u%31s", &a, &b, tail) == 3 &&
           !strcmp(tail, ".safetensors");
}

/* Empty an earlier trit-gen output directory, refusing if it holds anything else. */
static int clear_old_output(const char *path, trit_err *err)
{
    DIR *d = opendir(path);
    if (!d) return path_err(path, "open directory", err);
    struct dirent *e;
    int rc = TRIT_OK;
    while (rc == TRIT_OK && (e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (!is_our_file(e->d_name)) {
            trit_err_set(err, TRIT_E_USAGE, TRIT_NO_OFFSET, NULL,
                         "directory holds '%s', which trit-gen does not write; not replacing it",
                         e->d_name);
            trit_err_file(err, path);
            rc = TRIT_E_USAGE;
        }
    }
    closedir(d);
    if (rc) return rc;
    d = opendir(path);
    if (!d) return path_err(path, "open directory", err);
    while (rc == TRIT_OK && (e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char p[GEN_PATH_MAX];
        rc = gen__join(p, sizeof p, path, e->d_name, err);
        if (!rc && unlink(p) != 0) rc = path_err(p, "remove", err);
    }
    closedir(d);
    if (rc == TRIT_OK && rmdir(path) != 0) rc = path_err(path, "remove directory", err);
    return rc;
}

int gen__commit_dir(const char *tmp, const char *final_path, int overwrite, trit_err *err)
{
    char dir[GEN_PATH_MAX];
    struct stat st;
    int rc = fsync_dir(tmp, err);
    if (rc) return rc;
    if (stat(final_path, &st) == 0) {
        if (!overwrite || !S_ISDIR(st.st_mode)) {
            trit_err_set(err, TRIT_E_EXISTS, TRIT_NO_OFFSET, NULL, "output appeared while writing");
            trit_err_file(err, final_path);
            return TRIT_E_EXISTS;
        }
        if ((rc = clear_old_output(final_path, err))) return rc;
    }
    if (rename(tmp, final_path) != 0) return path_err(final_path, "rename", err);
    parent_dir(final_path, dir, sizeof dir);
    return fsync_dir(dir, err);
}

void gen__remove_tmpdir(const char *tmp)
{
    DIR *d = opendir(tmp);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char p[GEN_PATH_MAX];
            if (gen__join(p, sizeof p, tmp, e->d_name, NULL) == TRIT_OK) unlink(p);
        }
        closedir(d);
    }
    rmdir(tmp);
}
