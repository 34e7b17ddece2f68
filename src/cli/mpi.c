/* cli/mpi.h over MPI (OpenMPI from Debian) when built with SC_WITH_MPI; inactive otherwise. */
#include "cli/mpi.h"

#include <limits.h>
#include <stdlib.h>

#ifdef SC_WITH_MPI
#include <mpi.h>

int cli_mpi_built(void) { return 1; }

/* Launched by mpirun / srun with several ranks: the launchers' size variables. */
static int launched_size(void)
{
    static const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) {
        const char *v = getenv(vars[i]);
        if (v && atoi(v) > 1) return atoi(v);
    }
    return 1;
}

void cli_mpi_start(cli_mpi *m)
{
    *m = (cli_mpi){0, 0, 1};
    if (launched_size() < 2) return;
    if (MPI_Init(NULL, NULL) != MPI_SUCCESS) return;
    MPI_Comm_rank(MPI_COMM_WORLD, &m->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &m->size);
    m->active = m->size > 1;
}

void cli_mpi_stop(cli_mpi *m)
{
    if (m->active) MPI_Finalize();
    m->active = 0;
}

int cli_mpi_send(const cli_mpi *m, const void *data, size_t n, int to, int tag)
{
    const char *p = data;
    (void)m;
    do {
        const int k = n > (size_t)INT_MAX ? INT_MAX : (int)n;
        if (MPI_Send(p, k, MPI_BYTE, to, tag, MPI_COMM_WORLD) != MPI_SUCCESS) return -1;
        p += k;
        n -= (size_t)k;
    } while (n);
    return 0;
}

int cli_mpi_recv(const cli_mpi *m, void *data, size_t n, int from, int tag)
{
    char *p = data;
    (void)m;
    do {
        const int k = n > (size_t)INT_MAX ? INT_MAX : (int)n;
        if (MPI_Recv(p, k, MPI_BYTE, from, tag, MPI_COMM_WORLD, MPI_STATUS_IGNORE) != MPI_SUCCESS) return -1;
        p += k;
        n -= (size_t)k;
    } while (n);
    return 0;
}

void cli_mpi_abort(const cli_mpi *m, int code)
{
    if (m->active) MPI_Abort(MPI_COMM_WORLD, code);
    exit(code);
}

#else

int cli_mpi_built(void) { return 0; }

void cli_mpi_start(cli_mpi *m) { *m = (cli_mpi){0, 0, 1}; }

void cli_mpi_stop(cli_mpi *m) { m->active = 0; }

int cli_mpi_send(const cli_mpi *m, const void *data, size_t n, int to, int tag)
{
    (void)m, (void)data, (void)n, (void)to, (void)tag;
    return -1; /* never active: never called */
}

int cli_mpi_recv(const cli_mpi *m, void *data, size_t n, int from, int tag)
{
    (void)m, (void)data, (void)n, (void)from, (void)tag;
    return -1;
}

void cli_mpi_abort(const cli_mpi *m, int code)
{
    (void)m;
    exit(code);
}

#endif
