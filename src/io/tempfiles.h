/* The temporary files this process is writing (every atomic output goes through one beside its
 * final path, file.h), kept in a table that a signal handler may read: on SIGINT or SIGTERM the
 * command line removes them all before it exits, so an interrupted run leaves nothing behind.
 * The temporary names carry the process id (".NAME.tmp.PID.XXXXXX"), so that a later run can
 * remove what a killed one (SIGKILL, a power cut) left: tempfiles_sweep. */
#ifndef SC_IO_TEMPFILES_H
#define SC_IO_TEMPFILES_H

#define TEMPFILES_MAX 64

/* Registers / unregisters a temporary path (copied). When the table is full the path is simply
 * not registered: it is still removed by its writer, only not by an interrupt. */
void tempfiles_add(const char *path);
void tempfiles_remove(const char *path);
/* Unlinks every registered path. Async-signal-safe (unlink only, no locks, no allocation). */
void tempfiles_unlink_all(void);
/* Removes, in `dir`, the temporary files ".<prefix>.tmp.<pid>.*" of processes that no longer run
 * (prefix: the start of an output's name, as file_out names its temporary files). */
void tempfiles_sweep(const char *dir, const char *prefix);

#endif
