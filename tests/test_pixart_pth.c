/* PixArt from the authors' own .pth layout (tools/reference_pixart_pth.py,
 * tests/fixtures/pixart_pth/): the tiny models of tests/fixtures/pixart/ renamed and fused as the
 * PixArt repositories save them (attn.qkv, cross_attn.kv_linear, t_block, y_embedder...), bare,
 * under "state_dict" and under "ema", float32 and float16; each must give diffusers' forward. And
 * the files that must be refused, made here from alpha.pth's tensors with one thing changed: the
 * message names the file and the tensor. */
#include "core/mem.h"
#include "harness.h"
#include "io/npy.h"
#include "io/safetensors.h"
#include "io/torchzip.h"
#include "torch_craft.h"

/* The relative error of the existing PixArt forward test (tests/test_pixart.c). */
#define TOL 1e-4

/* Loads pixart_pth/<name> into a model whose latent is 4 x side x side; its description into *info. */
static sc_model *load_pth(const char *name, const sc_load_opts *o, int side, sc_model_info *info)
{
    sc_model *m;
    CHECK_OK(sc_model_load(test_fixture_sub("pixart_pth", name), o, &m));
    sc_model_get_info(m, info);
    CHECK(!strcmp(info->family, "pixart") && !strcmp(info->layout, "original") && info->takes_text);
    CHECK(info->depth == 2 && info->hidden == 24 && info->heads == 3 && info->head_dim == 8 && info->patch == 2);
    CHECK(info->in_channels == 4 && info->out_channels == 8 && info->learned_sigma && info->text_dim == 32);
    CHECK(info->latent.rank == 3 && info->latent.dims[0] == 4 && info->latent.dims[1] == side &&
          info->latent.dims[2] == side);
    return m;
}

/* One case of tests/fixtures/pixart/<variant>/ through m against `ref` (a path). */
static void check_case(sc_model *m, const char *variant, const char *cid, const char *ref)
{
    char rel[256];
    npy_array a[5];
    static const char *const what[4] = {"x", "t", "text", "mask"};
    for (int k = 0; k < 4; k++) {
        snprintf(rel, sizeof rel, "%s/case_%s_%s.npy", variant, cid, what[k]);
        CHECK_OK(npy_read(test_fixture_sub("pixart", rel), &a[k]));
    }
    CHECK_OK(npy_read(ref, &a[4]));
    const npy_array *x = &a[0], *text = &a[2], *want = &a[4];
    const int n = (int)x->shape[0];
    int *mask = malloc(a[3].numel * sizeof *mask);
    CHECK(mask != NULL);
    for (uint64_t i = 0; i < a[3].numel; i++) mask[i] = (int)a[3].data[i];
    sc_cond c = {.n = n, .text = text->data, .text_mask = mask, .text_len = (int)text->shape[1],
                 .text_dim = (int)text->shape[2]};
    const sc_shape shape = {3, {(int)x->shape[1], (int)x->shape[2], (int)x->shape[3]}};
    float *out = malloc(want->numel * sizeof *out);
    CHECK(out != NULL);
    /* Micro-conditions: without height / width scalars the engine takes 8x the latent's, the
     * numbers the fixture gave diffusers. */
    CHECK_OK(sc_model_forward_shape(m, &c, &shape, x->data, a[1].data, out, 0));
    double max_abs = 0;
    for (uint64_t i = 0; i < want->numel; i++)
        if (fabs((double)out[i] - want->data[i]) > max_abs) max_abs = fabs((double)out[i] - want->data[i]);
    const double err = test_rel_err(out, want->data, want->numel);
    fprintf(stderr, "  %s/%s: relative %.3g, max abs %.3g\n", variant, cid, err, max_abs);
    CHECK_MSG(err <= TOL, "%s/%s: relative error %.3g (tolerance %.1g)", variant, cid, err, TOL);
    free(out);
    free(mask);
    for (int k = 0; k < 5; k++) npy_free(&a[k]);
}

/* Both cases of tests/fixtures/pixart/<variant>/ against that folder's diffusers forwards. */
static void check_variant_cases(sc_model *m, const char *variant)
{
    static const char *const cases[2] = {"base", "grid"};
    for (int i = 0; i < 2; i++) {
        char ref[64];
        snprintf(ref, sizeof ref, "%s/case_%s_out.npy", variant, cases[i]);
        check_case(m, variant, cases[i], test_fixture_sub("pixart", ref));
    }
}

TEST(pixart_pth_alpha_bare_state_dict_matches_diffusers)
{
    /* The latent side 8 comes from the file's pos_embed buffer [1, 16, 24]. */
    const sc_load_opts o = {.num_heads = 3};
    sc_model_info info;
    sc_model *m = load_pth("alpha.pth", &o, 8, &info);
    CHECK(!strcmp(info.dtype, "F32"));
    check_variant_cases(m, "alpha");
    sc_model_free(m);
}

TEST(pixart_pth_alpha_micro_conditions_under_state_dict_matches_diffusers)
{
    const sc_load_opts o = {.num_heads = 3, .input_size = 16};
    sc_model_info info;
    sc_model *m = load_pth("alpha_mc.pth", &o, 16, &info);
    CHECK(strstr(info.numerics, "micro-conditions") != NULL);
    check_variant_cases(m, "alpha_mc");
    sc_model_free(m);
}

TEST(pixart_pth_sigma_float16_under_ema_takes_the_1024_defaults)
{
    /* No pos_embed, no option: latent side 128, so interpolation scale 2 and base grid 64, the
     * numbers diffusers' sample_size 128 gives; float16 weights read as float32. */
    const sc_load_opts o = {.num_heads = 3};
    sc_model_info info;
    sc_model *m = load_pth("sigma.pth", &o, 128, &info);
    CHECK(!strcmp(info.dtype, "F16"));
    CHECK(strstr(info.numerics, "micro-conditions") == NULL);
    check_case(m, "sigma", "base", test_fixture_sub("pixart_pth", "sigma_case_base_out.npy"));
    check_case(m, "sigma", "grid", test_fixture_sub("pixart_pth", "sigma_case_grid_out.npy"));
    sc_model_free(m);
}

TEST(pixart_pth_options_are_checked_against_the_file)
{
    sc_model *m = NULL;
    const char *alpha = test_fixture_sub("pixart_pth", "alpha.pth");
    /* Width 24 is not PixArt-XL's: no shape tells the heads. */
    CHECK_ERR(sc_model_load(alpha, NULL, &m), SC_ERR_FORMAT, "give sc_load_opts.num_heads");
    CHECK(strstr(sc_last_error(), "alpha.pth") != NULL);
    sc_load_opts o = {.num_heads = 5};
    CHECK_ERR(sc_model_load(alpha, &o, &m), SC_ERR_ARG, "width 24 is not divisible by 5 heads");
    /* The file's pos_embed is the table of a latent side of 8. */
    o = (sc_load_opts){.num_heads = 3, .input_size = 16};
    CHECK_ERR(sc_model_load(alpha, &o, &m), SC_ERR_ARG, "pos_embed is the table of a latent side of 8");
    o = (sc_load_opts){.num_heads = 3, .input_size = 7};
    CHECK_ERR(sc_model_load(alpha, &o, &m), SC_ERR_ARG, "input_size 7 is not a latent side of whole patches");
    o = (sc_load_opts){.num_heads = 3, .origin = SC_ORIGIN_ORIGINAL};
    CHECK_ERR(sc_model_load(alpha, &o, &m), SC_ERR_ARG, "PixArt has one");
    CHECK(m == NULL);
}

/* ------------------------------------------------------------ refused files */

typedef struct {
    const char *drop;     /* a tensor left out */
    const char *reshape;  /* a tensor whose first dimension becomes `rows` */
    uint64_t rows;
    const char *add;      /* a tensor [4] added */
} pth_edit;

/* alpha.pth's tensors, float32, as a bare torch.save state dict with one edit; the path. */
static const char *edited_alpha(const pth_edit *e)
{
    st_file *f;
    CHECK_OK(torch_open(test_fixture_sub("pixart_pth", "alpha.pth"), &f));
    const size_t n = st_count(f) + 1;
    tz_entry *ent = calloc(n + 2, sizeof *ent);
    char (*names)[64] = calloc(n + 2, sizeof *names), (*keys)[16] = calloc(n, sizeof *keys);
    float **data = calloc(n, sizeof *data);
    CHECK(ent && names && keys && data);
    tbuf pkl = {0};
    tp_dict_begin(&pkl);
    int ne = 2, k = 0;
    for (size_t i = 0; i < n; i++) {
        const st_tensor *t = i < n - 1 ? st_at(f, i) : NULL;
        if (!t && !e->add) break;
        if (t && e->drop && !strcmp(t->name, e->drop)) continue;
        uint64_t shape[ST_MAX_RANK] = {4}, numel = 4;
        int rank = 1;
        if (t) {
            rank = t->rank;
            memcpy(shape, t->shape, sizeof shape);
            if (e->reshape && !strcmp(t->name, e->reshape)) shape[0] = e->rows;
            numel = 1;
            for (int d = 0; d < rank; d++) numel *= shape[d];
        }
        data[k] = calloc(numel ? numel : 1, sizeof(float));
        CHECK(data[k] != NULL);
        if (t) {
            const float *v;
            float *owned;
            CHECK_OK(st_to_f32(f, t, &v, &owned));
            memcpy(data[k], v, (numel < t->numel ? numel : t->numel) * sizeof(float));
            mem_free(owned);
        }
        snprintf(keys[k], sizeof keys[k], "%d", k);
        tp_str(&pkl, t ? t->name : e->add);
        tp_tensor(&pkl, "FloatStorage", keys[k], numel, 0, rank, shape, NULL);
        snprintf(names[ne], sizeof names[ne], "archive/data/%d", k);
        ent[ne] = (tz_entry){.name = names[ne], .data = data[k], .size = numel * sizeof(float), .align64 = 1};
        ne++;
        k++;
    }
    tp_dict_end(&pkl);
    ent[0] = (tz_entry){.name = "archive/data.pkl", .data = pkl.p, .size = pkl.n, .align64 = 1};
    ent[1] = (tz_entry){.name = "archive/byteorder", .data = "little", .size = 6, .align64 = 1};
    tbuf zip = {0};
    tz_build(&zip, ent, ne);
    const char *path = test_path("edited.pth");
    test_write(path, zip.p, zip.n);
    tb_free(&zip);
    tb_free(&pkl);
    for (int i = 0; i < k; i++) free(data[i]);
    free(data);
    free(keys);
    free(names);
    free(ent);
    st_close(f);
    return path;
}

/* The edited file is refused with `code`, naming itself and `needle`. */
static void refused(const pth_edit *e, sc_status code, const char *needle)
{
    const sc_load_opts o = {.num_heads = 3};
    sc_model *m = NULL;
    const char *path = edited_alpha(e);
    CHECK_ERR(sc_model_load(path, &o, &m), code, needle);
    CHECK_MSG(strstr(sc_last_error(), path) != NULL, "the message does not name the file: %s", sc_last_error());
    CHECK(m == NULL);
}

TEST(pixart_pth_unedited_copy_loads)
{
    /* The refusals below differ from this file by one change only. */
    const pth_edit none = {0};
    const sc_load_opts o = {.num_heads = 3};
    sc_model *m;
    CHECK_OK(sc_model_load(edited_alpha(&none), &o, &m));
    sc_model_free(m);
}

TEST(pixart_pth_refuses_a_missing_tensor)
{
    refused(&(pth_edit){.drop = "blocks.1.cross_attn.kv_linear.bias"}, SC_ERR_FORMAT,
            "missing tensor \"blocks.1.cross_attn.kv_linear.bias\"");
    refused(&(pth_edit){.drop = "t_block.1.weight"}, SC_ERR_FORMAT, "missing tensor \"t_block.1.weight\"");
    refused(&(pth_edit){.drop = "y_embedder.y_proj.fc1.weight"}, SC_ERR_FORMAT,
            "missing tensor \"y_embedder.y_proj.fc1.weight\"");
    /* Half of the micro-conditions: the other half is looked for. */
    refused(&(pth_edit){.add = "ar_embedder.mlp.0.weight"}, SC_ERR_FORMAT, "missing tensor \"csize_embedder.mlp.0.weight\"");
}

TEST(pixart_pth_refuses_a_wrong_shape)
{
    /* kv_linear is [2D, D]: 40 rows are not two halves of 24. */
    refused(&(pth_edit){.reshape = "blocks.0.cross_attn.kv_linear.weight", .rows = 40}, SC_ERR_FORMAT,
            "tensor \"blocks.0.cross_attn.kv_linear.weight\" has shape [40,24] but the model configuration needs [48,24]");
    refused(&(pth_edit){.reshape = "blocks.1.attn.qkv.weight", .rows = 24}, SC_ERR_FORMAT,
            "\"blocks.1.attn.qkv.weight\" has shape [24,24]");
    /* The sizes read off the shapes are checked too. */
    refused(&(pth_edit){.reshape = "final_layer.linear.weight", .rows = 12}, SC_ERR_FORMAT,
            "tensor \"final_layer.linear.weight\" has shape [12,24]");
    refused(&(pth_edit){.reshape = "pos_embed", .rows = 2}, SC_ERR_FORMAT, "tensor \"pos_embed\" has shape [2,16,24]");
    refused(&(pth_edit){.reshape = "y_embedder.y_proj.fc1.weight", .rows = 8}, SC_ERR_FORMAT,
            "tensor \"y_embedder.y_proj.fc1.weight\" has shape [8,32]");
}

TEST(pixart_pth_refuses_a_stray_or_unknown_block_tensor)
{
    refused(&(pth_edit){.add = "blocks.5.mlp.fc1.bias"}, SC_ERR_FORMAT,
            "tensor \"blocks.5.mlp.fc1.bias\" is stray: the file's blocks are 0..1");
    /* Block 1 without its attention: the blocks end at 0, block 1's other tensors are stray. */
    refused(&(pth_edit){.drop = "blocks.1.attn.qkv.weight"}, SC_ERR_FORMAT, "is stray: the file's blocks are 0..0");
    refused(&(pth_edit){.add = "blocks.0.attn.q_norm.weight"}, SC_ERR_UNSUPPORTED,
            "tensor \"blocks.0.attn.q_norm.weight\" is not part of the block this engine runs (a PixArt block");
}
