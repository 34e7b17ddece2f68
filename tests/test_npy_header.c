/* The .npy header read as the Python dict literal numpy writes: exactly descr, fortran_order and
 * shape at the top level, each once; no NUL; a 'fortran_order' inside another value is not
 * obeyed; the dtypes of docs/FORMATS.md only. One generated header per must-reject case. */
#include "harness.h"
#include "io/npy.h"

/* A v1.0 .npy of `header` (padded as numpy pads) and n float32 zeros. */
static sc_status parse_header(const char *header, size_t n_floats, npy_array *a)
{
    static uint8_t buf[4096];
    size_t hl = strlen(header);
    size_t total = 10 + hl + 1;
    size_t pad = (64 - total % 64) % 64;
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    const size_t hlen = hl + pad + 1;
    buf[8] = (uint8_t)(hlen & 0xff);
    buf[9] = (uint8_t)(hlen >> 8);
    memcpy(buf + 10, header, hl);
    memset(buf + 10 + hl, ' ', pad);
    buf[10 + hl + pad] = '\n';
    memset(buf + 10 + hlen, 0, n_floats * 4);
    return npy_parse(buf, 10 + hlen + n_floats * 4, "x.npy", a);
}

TEST(npy_header_accepts_what_numpy_writes)
{
    npy_array a;
    CHECK_OK(parse_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 6, &a));
    CHECK(a.rank == 2 && a.shape[0] == 2 && a.shape[1] == 3);
    npy_free(&a);
    CHECK_OK(parse_header("{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }", 5, &a));
    CHECK(a.rank == 1 && a.shape[0] == 5);
    npy_free(&a);
    CHECK_OK(parse_header("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", 1, &a)); /* a scalar */
    CHECK(a.rank == 0);
    npy_free(&a);
    CHECK_OK(parse_header("{\"shape\":(1,1),\"fortran_order\":False,\"descr\":\"<f4\"}", 1, &a)); /* any order */
    npy_free(&a);
}

TEST(npy_header_rejects_every_lie)
{
    static const struct {
        const char *header, *message;
        sc_status status;
    } cases[] = {
        /* A fortran_order hidden in a string: read as the (too long) dtype it spells, never obeyed. */
        {"{'descr': \"<f4', 'fortran_order': True, 'x\", 'fortran_order': False, 'shape': (2, 3), }",
         "a dtype of 31 characters", SC_ERR_FORMAT},
        {"{'descr': '<f4', 'x': {'fortran_order': True}, 'fortran_order': False, 'shape': (2, 3), }",
         "has the key 'x'", SC_ERR_FORMAT},
        {"{'descr': '<f4', 'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", "gives 'descr' twice",
         SC_ERR_FORMAT},
        {"{'descr': '<f4', 'fortran_order': False, 'fortran_order': True, 'shape': (2, 3), }",
         "gives 'fortran_order' twice", SC_ERR_FORMAT},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'shape': (3, 2), }", "gives 'shape' twice",
         SC_ERR_FORMAT},
        {"{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", "Fortran-order", SC_ERR_UNSUPPORTED},
        {"{'descr': '<f4', 'fortran_order': 0, 'shape': (2, 3), }", "'fortran_order' is not True or False",
         SC_ERR_FORMAT},
        {"{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }", "dtype '>f4' is not supported",
         SC_ERR_UNSUPPORTED},
        {"{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2, 3), }", "structured", SC_ERR_UNSUPPORTED},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': [2, 3], }", "shape is not a tuple", SC_ERR_FORMAT},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3), }", "malformed .npy shape", SC_ERR_FORMAT},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } x", "bytes after its dict", SC_ERR_FORMAT},
        {"{'descr': '<f4', 'fortran_order': False}", "lacks 'shape'", SC_ERR_FORMAT},
        {"{'descr': '<f4' 'fortran_order': False, 'shape': (2, 3)}", "expected ',' or '}' after 'descr'",
         SC_ERR_FORMAT},
        {"{'descr': '<f\\x34', 'fortran_order': False, 'shape': (2, 3)}", "escape", SC_ERR_FORMAT},
        {"('descr', '<f4')", "not a dict", SC_ERR_FORMAT},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), ", "expected a quoted key", SC_ERR_FORMAT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        npy_array a;
        const sc_status s = parse_header(cases[i].header, 6, &a);
        CHECK_MSG(s == cases[i].status && strstr(sc_last_error(), cases[i].message),
                  "case %zu: status %d, \"%s\"; want %d with \"%s\"", i, s, sc_last_error(), cases[i].status,
                  cases[i].message);
        if (!s) npy_free(&a);
    }
    /* A NUL inside the header. */
    static uint8_t nul[80] = "\x93NUMPY\x01\x00\x46\x00{'descr': '<f4', 'fortran_order': False, 'shape': (1,)}";
    nul[30] = 0;
    memset(nul + 10 + 55, ' ', 80 - 10 - 55 - 1 - 4);
    nul[79 - 4] = '\n';
    npy_array a;
    CHECK_ERR(npy_parse(nul, 80, "x.npy", &a), SC_ERR_FORMAT, "holds a NUL byte");
}
