/* The restricted pickle reader (docs/RELIABILITY.md): it builds values and never calls anything;
 * every global outside the allow-list, every opcode outside protocol 2's state-dict set, and
 * every malformed tensor record is refused with the offset and the reason. Pickles are written
 * here byte by byte (tests/torch_craft.c). */
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "io/pickle.h"
#include "torch_craft.h"

static sc_status load(const tbuf *b, pk_state_dict **d) { return pk_load_state_dict(b->p, b->n, "t.pkl", d); }

/* The pickle must be refused with a format error whose message holds `needle`. */
static void reject(tbuf *b, const char *needle)
{
    pk_state_dict *d = NULL;
    sc_status s = load(b, &d);
    CHECK_MSG(s != SC_OK && strstr(sc_last_error(), needle), "status %d, message \"%s\"; expected \"%s\"", (int)s,
              s ? sc_last_error() : "(accepted)", needle);
    CHECK(d == NULL);
    tb_free(b);
}

static pk_state_dict *accept(tbuf *b)
{
    pk_state_dict *d = NULL;
    CHECK_OK(load(b, &d));
    tb_free(b);
    return d;
}

static const uint64_t k_2x3[2] = {2, 3};

/* {"w": F32 [2,3] tensor over storage "0" of `numel` elements at `offset`}, strides given or contiguous. */
static void one_tensor(tbuf *b, const char *type, uint64_t numel, uint64_t offset, int rank, const uint64_t *shape,
                       const uint64_t *stride)
{
    tp_dict_begin(b);
    tp_str(b, "w");
    tp_tensor(b, type, "0", numel, offset, rank, shape, stride);
    tp_dict_end(b);
}

TEST(pickle_reads_a_state_dict_of_f32_f16_bf16_tensors_with_shared_storage)
{
    tbuf b = {0};
    tp_dict_begin(&b);
    tp_str(&b, "b.weight");
    tp_tensor(&b, "FloatStorage", "0", 6, 0, 2, k_2x3, NULL);
    tp_str(&b, "a.row");
    uint64_t three = 3;
    tp_tensor(&b, "FloatStorage", "0", 6, 3, 1, &three, NULL);
    tp_str(&b, "c.half");
    tp_tensor(&b, "HalfStorage", "1", 4, 0, 1, &three, NULL);
    tp_str(&b, "d.bf16");
    tp_tensor(&b, "BFloat16Storage", "2", 3, 0, 0, NULL, NULL);
    tp_dict_end(&b);
    pk_state_dict *d = accept(&b);
    CHECK(pk_count(d) == 4 && !strcmp(pk_selected(d), ""));
    const pk_tensor *t = pk_at(d, 0); /* name order */
    CHECK(!strcmp(t->name, "a.row") && t->dtype == ST_F32 && t->storage_offset == 3 && t->rank == 1 && t->numel == 3);
    CHECK(!strcmp(t->storage_key, "0") && t->storage_numel == 6);
    t = pk_at(d, 1);
    CHECK(!strcmp(t->name, "b.weight") && t->rank == 2 && t->shape[0] == 2 && t->shape[1] == 3 && t->numel == 6);
    t = pk_at(d, 2);
    CHECK(!strcmp(t->name, "c.half") && t->dtype == ST_F16 && !strcmp(t->storage_key, "1"));
    t = pk_at(d, 3);
    CHECK(!strcmp(t->name, "d.bf16") && t->dtype == ST_BF16 && t->rank == 0 && t->numel == 1);
    pk_free(d);
}

TEST(pickle_refuses_os_system_via_global_and_reduce_and_never_runs_it)
{
    char cmd[1200];
    const char *marker = test_path("pwned");
    snprintf(cmd, sizeof cmd, "touch %s", marker);
    tbuf b = {0};
    tp_call(&b, "os", "system", cmd);
    reject(&b, "hostile or unsupported pickle: global 'os.system' at offset 2 is not allowed");
    struct stat st;
    CHECK(stat(marker, &st) != 0);
}

TEST(pickle_refuses_every_global_outside_the_allow_list_by_name)
{
    static const char *const globals[][2] = {
        {"builtins", "eval"},       {"builtins", "exec"},        {"posix", "system"},
        {"subprocess", "Popen"},    {"argparse", "Namespace"},   {"numpy.core.multiarray", "_reconstruct"},
        {"torch", "load"},          {"torch._utils", "_rebuild_tensor"}, {"torch", "LongStorage"},
        {"collections", "OrderedDictX"}, {"torch._utils", "_rebuild_tensor_v2 "},
    };
    for (size_t i = 0; i < sizeof globals / sizeof *globals; i++) {
        tbuf b = {0};
        tp_proto(&b);
        tp_global(&b, globals[i][0], globals[i][1]);
        tp_op(&b, ')');
        tp_op(&b, 'R');
        tp_op(&b, '.');
        char needle[256];
        snprintf(needle, sizeof needle, "global '%s.%s' at offset 2 is not allowed", globals[i][0], globals[i][1]);
        reject(&b, needle);
    }
}

TEST(pickle_refusal_of_a_training_checkpoint_hints_to_export_ema)
{
    tbuf b = {0};
    tp_proto(&b);
    tp_op(&b, '}');
    tp_op(&b, '(');
    tp_str(&b, "ema");
    tp_op(&b, '}');
    tp_str(&b, "args");
    tp_global(&b, "argparse", "Namespace");
    reject(&b, "global 'argparse.Namespace' at offset 22 is not allowed (only torch tensors and "
               "collections.OrderedDict are); this looks like a training checkpoint (model/ema/opt/args): "
               "export the `ema` state dict");
}

TEST(pickle_refuses_unknown_opcodes_with_their_offset)
{
    /* NEWOBJ, BINBYTES, SHORT_BINUNICODE, FRAME, INST, OBJ, DUP, POP, STRING, BINSTRING, EXT1,
     * PERSID (text), LONG4, MEMOIZE, STACK_GLOBAL. */
    static const unsigned ops[] = {0x81, 'B', 0x8c, 0x95, 'i', 'o', '2', '0', 'S', 'T', 0x82, 'P', 0x8b, 0x94, 0x93};
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++) {
        tbuf b = {0};
        tp_proto(&b);
        tp_op(&b, 'N');
        tp_op(&b, ops[i]);
        tp_op(&b, '.');
        char needle[64];
        snprintf(needle, sizeof needle, "opcode 0x%02x at offset 3", ops[i]);
        reject(&b, needle);
    }
}

TEST(pickle_refuses_protocols_other_than_2)
{
    tbuf b = {0};
    tb_put(&b, "\x80\x04N.", 4);
    reject(&b, "pickle protocol 4");
    tb_put(&b, "N.", 2);
    reject(&b, "not a protocol-2 pickle");
    tb_put(&b, "\x80\x02\x80\x02N.", 6);
    reject(&b, "PROTO after the start of the pickle at offset 2");
    reject(&b, "not a protocol-2 pickle"); /* empty */
}

TEST(pickle_refuses_binget_of_a_memo_index_never_stored)
{
    tbuf b = {0};
    tp_proto(&b);
    tp_op(&b, 'N');
    tb_put(&b, "q\x01h\x02.", 5);
    reject(&b, "BINGET of memo index 2 at offset 5, which was never stored");
    tp_proto(&b);
    tb_put(&b, "j\x00\x00\x01\x00.", 6);
    reject(&b, "BINGET of memo index 65536 at offset 2");
    tp_proto(&b);
    tb_put(&b, "q\x00N.", 4); /* BINPUT on an empty stack */
    reject(&b, "pickle stack underflow at offset 2");
}

TEST(pickle_refuses_bad_strings_invalid_utf8_surrogates_nul_truncated_and_over_the_cap)
{
    static const char *const bad[] = {"a\xff", "\xed\xa0\x80", "\xc0\xaf", "\xf4\x90\x80\x80"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        tbuf b = {0};
        tp_proto(&b);
        tp_str(&b, bad[i]);
        tp_op(&b, '.');
        reject(&b, "is not valid UTF-8");
    }
    tbuf b = {0};
    tp_proto(&b);
    tb_put(&b, "X\x03\x00\x00\x00" "a\0b.", 9);
    reject(&b, "contains a NUL character");
    tp_proto(&b);
    tb_put(&b, "X\xff\x00\x00\x00" "abc.", 9);
    reject(&b, "truncated pickle: operand runs past the end at offset 2");
    tp_proto(&b);
    tb_put(&b, "X\x01\x00\x10\x00", 5); /* 1 MiB + 1 */
    reject(&b, "string of 1048577 bytes at offset 2 (at most 1048576)");
}

TEST(pickle_refuses_long1_wider_than_8_bytes)
{
    tbuf b = {0};
    tp_proto(&b);
    tb_put(&b, "\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\x01.", 12);
    reject(&b, "LONG1 wider than 8 bytes at offset 2");
}

TEST(pickle_append_only_on_lists_setitem_only_on_dicts_build_only_on_ordered_dicts)
{
    tbuf b = {0};
    tp_proto(&b);
    tb_put(&b, "}Na.", 4);
    reject(&b, "APPEND(S) on something that is not a list at offset 4");
    tp_proto(&b);
    tb_put(&b, "](NNe.", 6); /* a list: fine, but the result is not a dict */
    reject(&b, "the pickle's result (list) is not a dict of tensors");
    tp_proto(&b);
    tb_put(&b, "]NNs.", 5);
    reject(&b, "SETITEM(S) on something that is not a dict at offset 5");
    tp_proto(&b);
    tb_put(&b, "}}b.", 4);
    reject(&b, "BUILD on something that is not an OrderedDict at offset 4");
    tp_proto(&b);
    tb_put(&b, "}(Nu.", 5);
    reject(&b, "SETITEMS with an odd number of items at offset 5");
}

TEST(pickle_accepts_build_on_an_ordered_dict_and_ignores_its_state)
{
    tbuf b = {0};
    tp_proto(&b);
    tp_global(&b, "collections", "OrderedDict");
    tp_op(&b, ')');
    tp_op(&b, 'R');
    tp_str(&b, "w");
    tp_tensor(&b, "DoubleStorage", "0", 6, 0, 2, k_2x3, NULL);
    tp_op(&b, 's');
    tp_op(&b, '}');
    tp_str(&b, "_metadata");
    tp_op(&b, '}');
    tp_op(&b, 's');
    tp_op(&b, 'b');
    tp_op(&b, '.');
    pk_state_dict *d = accept(&b);
    CHECK(pk_count(d) == 1 && pk_at(d, 0)->dtype == ST_F64);
    pk_free(d);
}

TEST(pickle_refuses_unbalanced_stacks_trailing_bytes_and_a_missing_stop)
{
    tbuf b = {0};
    tp_proto(&b);
    tb_put(&b, "NN.", 3);
    reject(&b, "STOP with an unbalanced stack at offset 4");
    tp_proto(&b);
    tb_put(&b, "(}.", 3);
    reject(&b, "STOP with an unbalanced stack");
    tp_proto(&b);
    tb_put(&b, "}.PK", 4);
    reject(&b, "2 bytes after STOP at offset 3");
    tp_proto(&b);
    tp_op(&b, '}');
    reject(&b, "no STOP opcode");
    tp_proto(&b);
    tb_put(&b, "t.", 2);
    reject(&b, "no MARK on the pickle stack at offset 2");
    tp_proto(&b);
    tb_put(&b, "N(R.", 4); /* REDUCE cannot reach below the MARK */
    reject(&b, "pickle stack underflow at offset 4");
}

TEST(pickle_caps_stack_depth_mark_nesting_and_memo_index)
{
    tbuf b = {0};
    tp_proto(&b);
    for (unsigned i = 0; i <= PK_MAX_STACK; i++) tp_op(&b, 'N');
    reject(&b, "pickle stack deeper than 1048576");
    tp_proto(&b);
    for (int i = 0; i <= PK_MAX_NESTING; i++) tp_op(&b, '(');
    reject(&b, "MARKs nested deeper than 64 at offset 66");
    tp_proto(&b);
    tb_put(&b, "Nr\x00\x00\x10\x00.", 7);
    reject(&b, "memo index 1048576 at offset 3");
    tp_proto(&b);
    tp_op(&b, ')');
    for (int i = 0; i < PK_MAX_NESTING; i++) tp_op(&b, 0x85); /* ((((),),),)... */
    tp_op(&b, '.');
    reject(&b, "values nested deeper than 64");
}

TEST(pickle_caps_the_number_of_objects)
{
    tbuf b = {0};
    tp_proto(&b);
    tp_op(&b, ']');
    for (unsigned i = 0; i <= PK_MAX_OBJECTS; i++) tb_put(&b, "Na", 2);
    reject(&b, "the pickle needs more than");
}

TEST(pickle_takes_ema_then_model_then_state_dict_from_a_checkpoint)
{
    static const char *const keys[] = {"ema", "model", "state_dict"};
    for (int pick = 0; pick < 3; pick++) {
        tbuf b = {0};
        tp_proto(&b);
        tp_op(&b, '}');
        tp_op(&b, '(');
        tp_str(&b, "epoch");
        tp_int(&b, 7);
        for (int k = 2; k >= pick; k--) { /* the preferred key is written last */
            tp_str(&b, keys[k]);
            tp_op(&b, '}');
            tp_op(&b, '(');
            tp_str(&b, keys[k]);
            tp_tensor(&b, "FloatStorage", keys[k], 6, 0, 2, k_2x3, NULL);
            tp_op(&b, 'u');
        }
        tp_op(&b, 'u');
        tp_op(&b, '.');
        pk_state_dict *d = accept(&b);
        CHECK_MSG(!strcmp(pk_selected(d), keys[pick]) && pk_count(d) == 1 && !strcmp(pk_at(d, 0)->name, keys[pick]),
                  "picked \"%s\", expected \"%s\"", pk_selected(d), keys[pick]);
        pk_free(d);
    }
}

TEST(pickle_refuses_non_tensor_entries_and_duplicate_names)
{
    tbuf b = {0};
    tp_dict_begin(&b);
    tp_str(&b, "w");
    tp_tensor(&b, "FloatStorage", "0", 6, 0, 2, k_2x3, NULL);
    tp_str(&b, "step");
    tp_int(&b, 3);
    tp_dict_end(&b);
    reject(&b, "entry \"step\" (int) is not a tensor");
    tp_dict_begin(&b);
    tp_int(&b, 0);
    tp_tensor(&b, "FloatStorage", "0", 6, 0, 2, k_2x3, NULL);
    tp_dict_end(&b);
    reject(&b, "a key of kind int");
    tp_dict_begin(&b);
    tp_str(&b, "ema");
    tp_op(&b, ']');
    tp_dict_end(&b);
    reject(&b, "entry \"ema\" (list) is not a dict of tensors");
    tp_dict_begin(&b);
    for (int i = 0; i < 2; i++) {
        tp_str(&b, "w");
        tp_tensor(&b, "FloatStorage", "0", 6, 0, 2, k_2x3, NULL);
    }
    tp_dict_end(&b);
    reject(&b, "tensor name \"w\" appears twice");
}

TEST(pickle_refuses_tensors_past_their_storage_or_with_a_huge_declared_size)
{
    tbuf b = {0};
    one_tensor(&b, "FloatStorage", 6, 1, 2, k_2x3, NULL);
    reject(&b, "reaches element 6 of a storage of 6 elements");
    uint64_t huge[2] = {(1ull << 48) - 1, (1ull << 48) - 1};
    one_tensor(&b, "FloatStorage", 6, 0, 2, huge, NULL);
    reject(&b, "element count overflows");
    uint64_t big[1] = {1ull << 48};
    one_tensor(&b, "FloatStorage", 6, 0, 1, big, NULL);
    reject(&b, "a size is not an integer in [0, 2^48-1]");
    one_tensor(&b, "FloatStorage", 1ull << 48, 0, 2, k_2x3, NULL);
    reject(&b, "element count is not an integer in [0, 2^48-1]");
    one_tensor(&b, "FloatStorage", 6, 1ull << 48, 2, k_2x3, NULL);
    reject(&b, "storage offset is not an integer in [0, 2^48-1]");
    uint64_t zero[2] = {0, 3};
    one_tensor(&b, "FloatStorage", 6, 7, 2, zero, NULL);
    reject(&b, "storage offset 7 is past its storage of 6 elements");
    uint64_t wide_stride[2] = {(1ull << 48) - 1, (1ull << 48) - 1};
    uint64_t sh[2] = {65536, 65536};
    one_tensor(&b, "FloatStorage", 6, 0, 2, sh, wide_stride);
    reject(&b, "strides overflow");
}

TEST(pickle_refuses_non_contiguous_strides_but_ignores_strides_of_size_1_dims)
{
    tbuf b = {0};
    uint64_t transposed[2] = {1, 2};
    one_tensor(&b, "FloatStorage", 6, 0, 2, k_2x3, transposed);
    reject(&b, "is not contiguous (dimension 1 has stride 2, expected 1)");
    uint64_t shape[3] = {2, 1, 3}, stride[3] = {3, 99, 1};
    one_tensor(&b, "FloatStorage", 6, 0, 3, shape, stride);
    pk_state_dict *d = accept(&b);
    CHECK(pk_count(d) == 1 && pk_at(d, 0)->numel == 6);
    pk_free(d);
}

TEST(pickle_refuses_malformed_rebuild_arguments)
{
    /* rank 9 */
    uint64_t nine[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    tbuf b = {0};
    one_tensor(&b, "FloatStorage", 1, 0, 9, nine, NULL);
    reject(&b, "_rebuild_tensor_v2: rank above 8");
    /* a storage global called directly */
    tp_proto(&b);
    tp_global(&b, "torch", "FloatStorage");
    tp_op(&b, ')');
    tp_op(&b, 'R');
    tp_op(&b, '.');
    reject(&b, "global 'torch.FloatStorage' called at offset 23");
    /* a persistent id that is not a storage tuple */
    tp_proto(&b);
    tp_str(&b, "storage");
    tp_op(&b, 0x85);
    tp_op(&b, 'Q');
    tp_op(&b, '.');
    reject(&b, "persistent id is not a ('storage', type, key, location, numel) tuple");
    /* a storage type outside the allow-list inside the persistent id: refused at its GLOBAL */
    tp_dict_begin(&b);
    tp_str(&b, "w");
    tp_tensor(&b, "LongStorage", "0", 6, 0, 2, k_2x3, NULL);
    tp_dict_end(&b);
    reject(&b, "global 'torch.LongStorage'");
    /* backward hooks that are a plain dict instead of an empty OrderedDict */
    tp_dict_begin(&b);
    tp_str(&b, "w");
    tp_global(&b, "torch._utils", "_rebuild_tensor_v2");
    tp_op(&b, '(');
    tp_op(&b, '(');
    tp_str(&b, "storage");
    tp_global(&b, "torch", "FloatStorage");
    tp_str(&b, "0");
    tp_str(&b, "cpu");
    tp_int(&b, 6);
    tp_op(&b, 't');
    tp_op(&b, 'Q');
    tp_int(&b, 0);
    tp_int(&b, 6);
    tp_op(&b, 0x85);
    tp_int(&b, 1);
    tp_op(&b, 0x85);
    tp_op(&b, 0x89);
    tp_op(&b, '}');
    tp_op(&b, 't');
    tp_op(&b, 'R');
    tp_dict_end(&b);
    reject(&b, "backward hooks must be an empty OrderedDict");
}

TEST(pickle_rebuild_parameter_yields_the_tensor_it_wraps)
{
    tbuf b = {0};
    tp_dict_begin(&b);
    tp_str(&b, "w");
    tp_global(&b, "torch._utils", "_rebuild_parameter");
    tp_op(&b, '(');
    tp_tensor(&b, "FloatStorage", "0", 6, 0, 2, k_2x3, NULL);
    tp_op(&b, 0x88);
    tp_global(&b, "collections", "OrderedDict");
    tp_op(&b, ')');
    tp_op(&b, 'R');
    tp_op(&b, 't');
    tp_op(&b, 'R');
    tp_dict_end(&b);
    pk_state_dict *d = accept(&b);
    CHECK(pk_count(d) == 1 && pk_at(d, 0)->numel == 6);
    pk_free(d);
}
