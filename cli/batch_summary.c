#include "cli/batch_summary.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/timing.h"
#include "core/error.h"
#include "io/atomic_file.h"

int batch_summary_init(batch_summary *s, const char *path, const char *jobs_file, const char *model, int n_jobs) {
    *s = (batch_summary){.path = path, .t0 = cli_now_s()};
    if (!path) return DG_OK;
    s->root = cJSON_CreateObject();
    int ok = s->root && cJSON_AddStringToObject(s->root, "batch", jobs_file) &&
             cJSON_AddStringToObject(s->root, "model", model) && (s->jobs = cJSON_AddArrayToObject(s->root, "jobs"));
    for (int i = 0; i < n_jobs && ok; i++) {
        cJSON *e = cJSON_CreateObject();
        ok = e && cJSON_AddNumberToObject(e, "job", i + 1) && cJSON_AddStringToObject(e, "status", "pending");
        if (ok) cJSON_AddItemToArray(s->jobs, e);
        else cJSON_Delete(e);
    }
    DG_CHECK(ok, "out of memory for the batch summary");
    return DG_OK;
}

/* One generation: its output, its seed (exact: written as an integer literal) and whether it ran. */
static cJSON *generation(const gen_job *j, int i, int skipped) {
    char out[4096], seed[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)(j->base_seed + (uint64_t)i));
    cJSON *g = cJSON_CreateObject(), *raw = cJSON_CreateRaw(seed);
    int ok = g && raw && gen_job_output_path(j, i, out, sizeof out) == DG_OK &&
             cJSON_AddStringToObject(g, "output", out) && cJSON_AddItemToObject(g, "seed", raw);
    if (!ok) cJSON_Delete(raw);
    if (ok) ok = cJSON_AddStringToObject(g, "status", skipped ? "skipped" : "done") != NULL;
    if (!ok) {
        cJSON_Delete(g);
        return NULL;
    }
    return g;
}

int batch_summary_job(batch_summary *s, int i, const gen_job *j, const unsigned char *done, const char *status,
                      double seconds, const char *error) {
    if (!s->path) return DG_OK;
    cJSON *e = cJSON_CreateObject(), *gens = NULL;
    int ok = e && cJSON_AddNumberToObject(e, "job", i + 1) && cJSON_AddStringToObject(e, "status", status) &&
             cJSON_AddStringToObject(e, j->prompt ? "prompt" : "context", j->prompt ? j->prompt : j->context) &&
             cJSON_AddNumberToObject(e, "seconds", seconds) && (gens = cJSON_AddArrayToObject(e, "generations"));
    if (ok && error) ok = cJSON_AddStringToObject(e, "error", error) != NULL;
    /* a failed or interrupted job lists no generations: which of its files were written is not known */
    const int finished = strcmp(status, "failed") && strcmp(status, "interrupted");
    for (int k = 0; k < j->count && ok && finished; k++) {
        cJSON *g = generation(j, k, done && done[k]);
        ok = g && cJSON_AddItemToArray(gens, g);
    }
    if (!ok || !cJSON_ReplaceItemInArray(s->jobs, i, e)) {
        cJSON_Delete(e);
        return dg_error("out of memory for the batch summary");
    }
    return DG_OK;
}

/* Every rank's finished jobs (status not "pending") as JSON text, gathered byte by byte as
 * floats (exact below 2^24) over the communicator, merged into rank 0's list. */
int batch_summary_gather(batch_summary *s, dg_comm *w) {
    if (!s->path) return DG_OK;
    cJSON *mine = cJSON_CreateArray();
    DG_CHECK(mine, "out of memory for the batch summary");
    int ok = 1;
    for (cJSON *e = s->jobs->child; e && ok; e = e->next)
        if (strcmp(cJSON_GetObjectItem(e, "status")->valuestring, "pending")) {
            cJSON *d = cJSON_Duplicate(e, 1);
            ok = d && cJSON_AddItemToArray(mine, d);
        }
    char *text = ok ? cJSON_PrintUnformatted(mine) : NULL;
    cJSON_Delete(mine);
    DG_CHECK(text, "out of memory for the batch summary");
    int64_t *counts = calloc((size_t)w->size, sizeof *counts), total = 0, at = 0;
    float *lens = calloc((size_t)w->size, sizeof *lens), *bytes = NULL;
    int rc = counts && lens ? DG_OK : dg_error("out of memory for the batch summary");
    for (int r = 0; r < w->size && rc == DG_OK; r++) counts[r] = 1;
    if (rc == DG_OK) {
        lens[w->rank] = (float)strlen(text);
        rc = w->ops->allgather_f32(w, lens, counts, NULL);
    }
    for (int r = 0; r < w->size && rc == DG_OK; r++) {
        counts[r] = (int64_t)lens[r];
        if (r < w->rank) at += counts[r];
        total += counts[r];
    }
    if (rc == DG_OK && !(bytes = malloc((size_t)total * sizeof *bytes))) rc = dg_error("out of memory for the batch summary");
    for (int64_t k = 0; rc == DG_OK && k < counts[w->rank]; k++) bytes[at + k] = (unsigned char)text[k];
    if (rc == DG_OK) rc = w->ops->allgather_f32(w, bytes, counts, NULL);
    for (int r = 1, off = (int)counts[0]; r < w->size && rc == DG_OK && w->rank == 0; off += (int)counts[r++]) {
        char *t = malloc((size_t)counts[r] + 1);
        if (!t) {
            rc = dg_error("out of memory for the batch summary");
            break;
        }
        for (int64_t k = 0; k < counts[r]; k++) t[k] = (char)(unsigned char)bytes[off + k];
        t[counts[r]] = 0;
        cJSON *theirs = cJSON_Parse(t);
        free(t);
        cJSON *e;
        while (theirs && (e = cJSON_DetachItemFromArray(theirs, 0))) {
            int job = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(e, "job"));
            if (job < 1 || !cJSON_ReplaceItemInArray(s->jobs, job - 1, e)) cJSON_Delete(e);
        }
        cJSON_Delete(theirs);
    }
    free(text), free(counts), free(lens), free(bytes);
    return rc;
}

int batch_summary_write(batch_summary *s, int rank) {
    if (!s->path || rank != 0) return DG_OK;
    int done = 0, failed = 0, skipped = 0, pending = 0, interrupted = 0;
    for (cJSON *e = s->jobs->child; e; e = e->next) {
        const char *st = cJSON_GetObjectItem(e, "status")->valuestring;
        done += !strcmp(st, "done"), failed += !strcmp(st, "failed"), skipped += !strcmp(st, "skipped");
        pending += !strcmp(st, "pending"), interrupted += !strcmp(st, "interrupted");
    }
    const char *keys[] = {"done", "failed", "skipped", "pending", "interrupted", "seconds"};
    double vals[] = {done, failed, skipped, pending, interrupted, cli_now_s() - s->t0};
    for (int k = 0; k < 6; k++) {
        cJSON_DeleteItemFromObject(s->root, keys[k]);
        DG_CHECK(cJSON_AddNumberToObject(s->root, keys[k], vals[k]), "out of memory for the batch summary");
    }
    char *text = cJSON_Print(s->root);
    DG_CHECK(text, "out of memory for the batch summary");
    size_t n = strlen(text);
    text[n] = '\n'; /* the terminator becomes the file's last newline */
    int rc = dg_atomic_write_all(s->path, text, n + 1);
    free(text);
    return rc;
}

void batch_summary_free(batch_summary *s) {
    cJSON_Delete(s->root);
    *s = (batch_summary){0};
}
