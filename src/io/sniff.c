#include "io/sniff.h"

#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/utf8.h"
#include "io/json.h"

#define SNIFF_BYTES 65536
/* JSON files up to this size are parsed to tell their role; larger ones are "a JSON file". */
#define SNIFF_JSON_CAP (64ull << 20)

static int starts(const uint8_t *b, size_t n, const char *magic, size_t len)
{
    return n >= len && !memcmp(b, magic, len);
}

/* The first local header's file name: torch.save writes "<top>/data.pkl" or similar first,
 * numpy's savez "<name>.npy". */
static file_kind zip_kind(const uint8_t *b, size_t n)
{
    if (n < 30 || memcmp(b, "PK\x03\x04", 4)) return KIND_ZIP;
    const size_t len = (size_t)b[26] | (size_t)b[27] << 8;
    if (30 + len > n || len == 0) return KIND_ZIP;
    const char *name = (const char *)b + 30;
    if (len > 4 && !memcmp(name + len - 4, ".npy", 4)) return KIND_NPZ;
    for (size_t i = 0; i + 8 <= len; i++)
        if (!memcmp(name + i, "data.pkl", 8) || !memcmp(name + i, "/version", 8)) return KIND_TORCH_ZIP;
    const char *slash = memchr(name, '/', len);
    return slash ? KIND_TORCH_ZIP : KIND_ZIP;
}

file_kind sniff_bytes(const uint8_t *b, size_t n, uint64_t file_size)
{
    if (file_size == 0) return KIND_EMPTY;
    if (starts(b, n, "\x89PNG\r\n\x1a\n", 8)) return KIND_PNG;
    if (starts(b, n, "\xff\xd8\xff", 3)) return KIND_JPEG;
    if (starts(b, n, "\x93NUMPY", 6)) return KIND_NPY;
    if (starts(b, n, "PK\x03\x04", 4) || starts(b, n, "PK\x05\x06", 4)) return zip_kind(b, n);
    if (starts(b, n, "\x1f\x8b", 2)) return KIND_GZIP;
    if (n >= 12 && !memcmp(b, "RIFF", 4) && !memcmp(b + 8, "WAVE", 4)) return KIND_WAV;
    if (n >= 2 && b[0] == 0x80 && b[1] >= 2 && b[1] <= 5) return KIND_PICKLE;
    if (n >= 9) {
        uint64_t h = 0;
        for (int i = 7; i >= 0; i--) h = (h << 8) | b[i];
        if (b[8] == '{' && h >= 2 && h <= file_size - 8) return KIND_SAFETENSORS;
    }
    /* Text: valid UTF-8 (a sequence cut by the sniff window aside) and no NUL. */
    size_t check = n;
    if (n < file_size) /* a multi-byte sequence may straddle the window's end */
        while (check > 0 && n - check < 3 && (b[check - 1] & 0xC0) == 0x80) check--;
    if (check > 0 && n < file_size && b[check - 1] >= 0xC0) check--;
    if (memchr(b, 0, n) || utf8_check(b, check) != check) return KIND_UNKNOWN;
    size_t i = 0;
    if (n >= 3 && !memcmp(b, "\xef\xbb\xbf", 3)) i = 3;
    while (i < n && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r')) i++;
    return i < n && (b[i] == '{' || b[i] == '[') ? KIND_JSON : KIND_TEXT;
}

file_kind sniff_path(const char *path)
{
    struct stat st;
    if (stat(path, &st)) return KIND_MISSING;
    if (S_ISDIR(st.st_mode)) return KIND_FOLDER;
    if (!S_ISREG(st.st_mode)) return KIND_SPECIAL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return KIND_UNKNOWN;
    static _Thread_local uint8_t buf[SNIFF_BYTES];
    size_t n = 0;
    while (n < sizeof buf) {
        ssize_t r = read(fd, buf + n, sizeof buf - n);
        if (r <= 0) break;
        n += (size_t)r;
    }
    close(fd);
    return sniff_bytes(buf, n, (uint64_t)st.st_size);
}

const char *sniff_kind_text(file_kind k)
{
    switch (k) {
    case KIND_MISSING: return "missing";
    case KIND_FOLDER: return "a folder";
    case KIND_SPECIAL: return "not a regular file (a FIFO, socket or device)";
    case KIND_EMPTY: return "an empty file";
    case KIND_PNG: return "a PNG image";
    case KIND_JPEG: return "a JPEG image";
    case KIND_NPY: return "a .npy array";
    case KIND_NPZ: return "a .npz archive of arrays";
    case KIND_TORCH_ZIP: return "a PyTorch checkpoint (torch.save ZIP)";
    case KIND_ZIP: return "a ZIP archive";
    case KIND_PICKLE: return "a pickle (a legacy PyTorch checkpoint)";
    case KIND_SAFETENSORS: return "a safetensors file";
    case KIND_GZIP: return "a gzip-compressed file";
    case KIND_WAV: return "a WAV audio file";
    case KIND_JSON: return "a JSON file";
    case KIND_TEXT: return "a text file";
    case KIND_UNKNOWN: break;
    }
    return "binary data of an unknown kind";
}

/* An array whose items are all arrays (curves per lag) / all 0 or 1 (a schedule row). */
static int array_of_arrays(const json_t *v)
{
    if (!json_is_array(v) || !json_array_size(v)) return 0;
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x) if (!json_is_array(x)) return 0;
    return 1;
}

static int zero_one_row(const json_t *v)
{
    if (!json_is_array(v) || !json_array_size(v)) return 0;
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x) if (!json_is_integer(x) || (json_integer_value(x) != 0 && json_integer_value(x) != 1)) return 0;
    return 1;
}

/* The role of a JSON object, from its keys. */
static void json_role(const json_t *j, char *buf, size_t cap)
{
    const json_t *meta = json_object_get(j, "_meta");
    const char *cls = json_string_value(json_object_get(j, "_class_name"));
    const char *k;
    json_t *v;
    int curves = 0, rows = 0, other = 0;
    json_object_foreach((json_t *)j, k, v) {
        if (k[0] == '_') continue;
        if (array_of_arrays(v)) curves++;
        else if (zero_one_row(v)) rows++;
        else other++;
    }
    if (cls && json_object_get(j, "_diffusers_version") && json_is_array(json_object_get(j, "transformer")))
        snprintf(buf, cap, "a diffusers pipeline index (model_index.json of %s)", cls);
    else if (cls && json_object_get(j, "_diffusers_version"))
        snprintf(buf, cap, "a diffusers %s config (%s)", strstr(cls, "Scheduler") ? "scheduler" : "model", cls);
    else if (json_is_object(json_object_get(j, "model")) && json_object_get(j, "normalizer"))
        snprintf(buf, cap, "a tokenizer.json (Hugging Face tokenizers)");
    else if (json_is_array(json_object_get(j, "architectures")) || json_object_get(j, "d_model"))
        snprintf(buf, cap, "a transformers model config");
    else if (json_is_object(json_object_get(j, "weight_map")))
        snprintf(buf, cap, "a sharded checkpoint's index");
    else if (json_is_array(json_object_get(j, "coef")) && meta)
        snprintf(buf, cap, "a TeaCache calibration file (coef)");
    else if (json_is_array(json_object_get(j, "ratios")) && meta)
        snprintf(buf, cap, "a MagCache calibration file (ratios)");
    else if (json_is_array(json_object_get(j, "runs")) && json_object_get(j, "model"))
        snprintf(buf, cap, "a smoothcache report");
    else if (curves && !rows)
        snprintf(buf, cap, "a SmoothCache calibration file (error curves)");
    else if (rows && !curves && !other)
        snprintf(buf, cap, "a SmoothCache schedule");
    else
        snprintf(buf, cap, "a JSON file");
}

const char *sniff_describe(const char *path, char *buf, size_t cap)
{
    const file_kind k = sniff_path(path);
    snprintf(buf, cap, "%s", sniff_kind_text(k));
    if (k != KIND_JSON) return buf;
    struct stat st;
    if (stat(path, &st) || (uint64_t)st.st_size > SNIFF_JSON_CAP) return buf;
    json_t *j;
    /* The description must not replace the caller's error: keep its message. */
    char saved[1024];
    snprintf(saved, sizeof saved, "%s", err_last_message());
    const sc_status before = err_last_code();
    if (json_load_object_file(path, SNIFF_JSON_CAP, &j) == SC_OK) {
        json_role(j, buf, cap);
        json_decref(j);
    }
    if (before != SC_OK) err_fail(before, "%s", saved);
    return buf;
}
