/* batch --summary FILE.json: each job's outcome, seeds, time and outputs, rewritten atomically
 * after every job so an interrupted batch still leaves a complete file. Under --deal every
 * rank's outcomes are gathered to rank 0, which alone writes it. */
#ifndef DG_CLI_BATCH_SUMMARY_H
#define DG_CLI_BATCH_SUMMARY_H

#include <cjson/cJSON.h>

#include "cli/gen_job.h"
#include "parallel/comm.h"

typedef struct batch_summary {
    const char *path; /* NULL: no summary */
    cJSON *root, *jobs;
    double t0;
} batch_summary;

/* Every job starts "pending". */
int batch_summary_init(batch_summary *s, const char *path, const char *jobs_file, const char *model, int n_jobs);
/* Job i's outcome: status "done", "skipped" (all its outputs were done: --resume), "failed" or "interrupted"
 * (error set); done marks generations skipped by --resume (may be NULL). */
int batch_summary_job(batch_summary *s, int i, const gen_job *j, const unsigned char *done, const char *status,
                      double seconds, const char *error);
/* Writes the file atomically, on rank 0 only. */
int batch_summary_write(batch_summary *s, int rank);
/* --deal: merges every rank's finished jobs into rank 0's (collective: every rank calls it). */
int batch_summary_gather(batch_summary *s, dg_comm *world);
void batch_summary_free(batch_summary *s);

#endif
