/* batch --resume: which generations of a job are already done, judged by their outputs'
 * recorded parameters rather than by the files' mere presence. */
#ifndef DG_CLI_BATCH_RESUME_H
#define DG_CLI_BATCH_RESUME_H

#include "cli/gen_job.h"

/* For a resolved job: *done (malloc'ed, j->count flags) marks the generations whose every output
 * exists and records the parameters this job would record (the version aside; the seed too
 * when the job's seed is random). Returns how many are done, or -1 (out of memory). */
int batch_resume_scan(const gen_job *j, unsigned char **done);

#endif
