/* The helpers of include/smoothcache_tools.h: outputs, arrays, pictures, quality metrics. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "io/file.h"
#include "io/image.h"
#include "io/npy.h"
#include "io/npz.h"
#include "io/zip.h"
#include "text/utf8.h"
#include "io/png.h"
#include "io/sniff.h"
#include "io/tempfiles.h"
#include "metrics/demo_classify.h"
#include "metrics/textdemo_check.h"
#include "metrics/quality.h"
#include "smoothcache_tools.h"

sc_status sc_output_check(const char *path, int force) { return file_out_check(path, force); }

int sc_is_folder(const char *path) { return file_is_dir(path); }

sc_status sc_write_file(const char *path, const void *data, size_t n, int force)
{
    file_out o;
    sc_status s = file_out_open(&o, path, force);
    if (s) return s;
    if ((s = file_out_write(&o, data, n))) {
        file_out_abort(&o);
        return s;
    }
    return file_out_commit(&o);
}

sc_status sc_npy_read(const char *path, sc_array *out)
{
    npy_array a;
    memset(out, 0, sizeof *out);
    sc_status s = npy_read(path, &a);
    if (s) return s;
    out->rank = a.rank;
    memcpy(out->shape, a.shape, sizeof out->shape);
    out->numel = a.numel;
    out->data = a.data;
    return SC_OK;
}

void sc_array_free(sc_array *a)
{
    mem_free(a->data);
    memset(a, 0, sizeof *a);
}

sc_status sc_npy_write(const char *path, const float *data, int rank, const uint64_t *shape, int force)
{
    return npy_write_f32(path, data, rank, shape, force);
}

static int has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n > k && !strcmp(s + n - k, suffix);
}

int sc_images_path_ok(const char *path) { return has_suffix(path, ".png") || has_suffix(path, ".npz"); }

sc_status sc_images_write(const char *path, const uint8_t *rgb, int n, int side, const char *comment, int force)
{
    if (has_suffix(path, ".npz")) {
        const uint64_t shape[4] = {(uint64_t)n, (uint64_t)side, (uint64_t)side, 3};
        return npz_write_u8(path, "arr_0", rgb, 4, shape, force);
    }
    if (!has_suffix(path, ".png")) return err_fail(SC_ERR_ARG, "%s: pictures are written as .png or .npz", path);
    /* The comment holds user text (paths, cache specs, prompts): made a valid PNG text value
     * here, so that no byte of it can fail the write after all the sampling. */
    static _Thread_local char clean[PNG_MAX_TEXT_VALUE + 1];
    const png_text_kv text = {"smoothcache", png_text_clean(comment, clean, sizeof clean)};
    if (n == 1) return png_write_rgb8(path, side, side, rgb, &text, 1, force);
    uint8_t *grid;
    int w, h;
    sc_status s = image_grid(&grid, &w, &h, rgb, n, side, side, 0, side >= 64 ? 4 : 2);
    if (s) return s;
    s = png_write_rgb8(path, w, h, grid, &text, 1, force);
    mem_free(grid);
    return s;
}

sc_status sc_npz_read(const char *path, const char *name, sc_array *out)
{
    memset(out, 0, sizeof *out);
    file_mapping map;
    sc_status s = file_map(path, &map);
    if (s) return s;
    zip_archive *z = NULL;
    char entry[256], what[4400];
    snprintf(entry, sizeof entry, "%s.npy", name);
    snprintf(what, sizeof what, "%s (array %s)", path, name);
    s = zip_parse(map.data, map.size, path, &z);
    const zip_entry *e = s ? NULL : zip_find(z, entry);
    if (!s && !e) s = err_fail(SC_ERR_FORMAT, "%s: no array \"%s\" in this .npz", path, name);
    npy_array a;
    if (!s) s = npy_parse(map.data + e->offset, e->size, what, &a);
    if (!s) {
        out->rank = a.rank;
        memcpy(out->shape, a.shape, sizeof out->shape);
        out->numel = a.numel;
        out->data = a.data;
    }
    zip_free(z);
    file_unmap(&map);
    return s;
}

struct sc_npz_writer {
    npz_stream z;
};

sc_status sc_npz_writer_open(const char *path, const char *array_name, int rank, const uint64_t *shape, int force,
                             sc_npz_writer **out)
{
    *out = NULL;
    sc_npz_writer *w = calloc(1, sizeof *w);
    if (!w) return err_fail(SC_ERR_NOMEM, "out of memory");
    sc_status s = npz_stream_open(&w->z, path, array_name, rank, shape, force, NPZ_ZIP64_AT);
    if (s) {
        free(w);
        return s;
    }
    *out = w;
    return SC_OK;
}

sc_status sc_npz_writer_write(sc_npz_writer *w, const uint8_t *data, size_t n) { return npz_stream_write(&w->z, data, n); }

sc_status sc_npz_writer_close(sc_npz_writer *w)
{
    sc_status s = npz_stream_close(&w->z);
    free(w);
    return s;
}

void sc_npz_writer_abort(sc_npz_writer *w)
{
    if (!w) return;
    npz_stream_abort(&w->z);
    free(w);
}

double sc_psnr(const uint8_t *a, const uint8_t *b, size_t n) { return metric_psnr(a, b, n); }

double sc_ssim(const uint8_t *a, const uint8_t *b, int w, int h, int ch) { return metric_ssim(a, b, w, h, ch); }

double sc_rel_l2(const float *a, const float *b, size_t n) { return metric_rel_l2(a, b, n); }

int sc_demo_classify(const uint8_t *img) { return demo_classify(img); }

int sc_textdemo_shows(const uint8_t *img, const char *prompt) { return textdemo_shows(img, prompt, strlen(prompt)); }

sc_status sc_npz_write(const char *path, int n, const sc_npz_array *arrays, int force)
{
    if (!path || !arrays || n < 1 || n > 16) return err_fail(SC_ERR_ARG, "sc_npz_write: 1..16 arrays and a path");
    npz_array a[16];
    for (int i = 0; i < n; i++)
        a[i] = (npz_array){arrays[i].name, arrays[i].dtype, arrays[i].rank, arrays[i].shape, arrays[i].data};
    return npz_write_arrays(path, n, a, force);
}

size_t sc_utf8_check(const char *s, size_t n) { return s ? utf8_check((const uint8_t *)s, n) : 0; }

void sc_remove_temporary_files(void) { tempfiles_unlink_all(); }

const char *sc_describe_file(const char *path, char *buf, size_t cap)
{
    if (!buf || !cap) return buf;
    if (!path) {
        snprintf(buf, cap, "missing");
        return buf;
    }
    return sniff_describe(path, buf, cap);
}
