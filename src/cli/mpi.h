/* The command line's MPI layer (docs/SCALE.md): under `mpirun -n N` an MPI build's `sample`
 * computes whole batches on every rank and gathers the pictures, in image order, into the one
 * output that rank 0 writes. The library never sees MPI; a build without it (SC_MPI=OFF, or no
 * MPI found) still shards by rank through the environment, each rank writing its own shard.
 * Everything here is a no-op (inactive) when the process was not started by an MPI launcher. */
#ifndef SC_CLI_MPI_H
#define SC_CLI_MPI_H

#include <stddef.h>

typedef struct {
    int active;      /* 1: MPI is initialised and there are several ranks */
    int rank, size;  /* 0 and 1 when inactive */
} cli_mpi;

/* 1 when this build can gather over MPI. */
int cli_mpi_built(void);
/* Starts MPI when built with it and launched by an MPI launcher with more than one rank. */
void cli_mpi_start(cli_mpi *m);
void cli_mpi_stop(cli_mpi *m);
/* Blocking transfers of n bytes (n < 2^31 per message; larger ones are sent in pieces). */
int cli_mpi_send(const cli_mpi *m, const void *data, size_t n, int to, int tag);
int cli_mpi_recv(const cli_mpi *m, void *data, size_t n, int from, int tag);
/* Ends every rank of the run (after this rank printed why). */
void cli_mpi_abort(const cli_mpi *m, int code);

#endif
