/* ditgen batch: many generations from a JSON file with one model load.
 * Every job is checked (flags, output paths, sizes against the model, prompts
 * through the text encoder) before the first denoising step; the text encoder
 * is then freed and the jobs run in order. A job that fails while running is
 * reported and the others still run. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/batch_resume.h"
#include "cli/batch_summary.h"
#include "cli/commands.h"
#include "cli/cores.h"
#include "cli/gen_job.h"
#include "cli/param_flags.h"
#include "cli/signals.h"
#include "cli/timing.h"
#include "core/error.h"
#include "ditgen.h"
#include "io/json.h"
#include "parallel/comm.h"

/* The generate flags a job (or "defaults") may set, by their long names. The model, device,
 * threads and dtype belong to the whole batch. */
static const char *const JOB_KEYS[] = {"prompt",     "negative-prompt", "context", "width",  "height",
                                       "frames",     "steps",           "cfg-scale", "flow-shift", "sampler",
                                       "seed",       "output",          "fps",     "vae-tile", "attention",
                                       "batch-count", "pag-scale", "pag-heads", "pag-u", "cache"};
#define N_JOB_KEYS (sizeof JOB_KEYS / sizeof JOB_KEYS[0])

static void usage(FILE *f) {
    fprintf(f,
            "usage: ditgen batch JOBS.json [-m MODEL] [--device D] [-t N] [--dtype T] [--deal] [--resume]\n"
            "                              [--summary S.json]\n"
            "\n"
            "Runs many generations with one model load. JOBS.json:\n"
            "  {\n"
            "    \"model\": \"assets/shapes-tiny\",              (optional; -m overrides)\n"
            "    \"defaults\": {\"steps\": 20, \"cfg-scale\": 4},   (optional; a job's own keys win)\n"
            "    \"jobs\": [\n"
            "      {\"prompt\": \"a red circle on a blue background\", \"output\": \"red.png\", \"seed\": 1},\n"
            "      {\"prompt\": \"a green square moving left\", \"frames\": 5, \"output\": \"sq.mp4\"}\n"
            "    ]\n"
            "  }\n"
            "The keys of a job are the long flags of 'ditgen generate' without the dashes, with the\n"
            "same meaning and checks: prompt, negative-prompt, context, width, height, frames, steps,\n"
            "cfg-scale, flow-shift, sampler, seed, output, fps, vae-tile, attention, batch-count,\n"
            "pag-scale, pag-heads, pag-u, cache.\n"
            "Values are strings or numbers; paths are relative to the current directory. A job's\n"
            "own keys win over \"defaults\"; its \"context\" replaces a default prompt (and the\n"
            "reverse), and \"pag-scale\": 0 turns default PAG off.\n"
            "Every job is checked before the first one runs (flags, output files, which must all\n"
            "differ, sizes against the model and memory, attention plans, prompts). The embeddings of\n"
            "every distinct prompt are then kept (8 MiB each for Wan2.1's umT5) and the text encoder\n"
            "freed. A job that fails while running is reported and the rest still run; the exit\n"
            "status is then 1.\n"
            "\n"
            "  -m, --model DIR        diffusers model folder (default: the file's \"model\", else the\n"
            "                         small shipped model, " DG_DEFAULT_MODEL ")\n"
            "      --device D         cpu (default) or cuda[:N]: text encoder, transformer and VAE\n"
            "  -t, --threads N        CPU threads (default, or 0: one per physical core)\n"
            "      --dtype T          f32 or bf16, for every job: as generate's --dtype\n"
            "      --deal             under mpirun -np N: every rank checks every job, then runs jobs\n"
            "                         r, r+N, r+2N, ... (rank r) and writes their outputs; with\n"
            "                         --device cuda each rank takes the GPU of its local rank\n"
            "      --resume           skip the generations whose outputs exist and record the same\n"
            "                         parameters (read from their metadata: prompt, settings, seed, model\n"
            "                         hash; the seed is not compared for a random-seed job)\n"
            "      --summary FILE     write each job's status (done, skipped, failed, pending), error,\n"
            "                         seconds, outputs and seeds to FILE.json, rewritten atomically after\n"
            "                         every job; with --deal rank 0 writes it, with every rank's jobs at the end\n"
            "  -h, --help             this help\n");
}

typedef struct batch_job {
    gen_job job;
    char ctx[300];     /* "batch: FILE job N", the prefix of this job's error lines */
    char **argv;       /* flags built from the JSON; the strings of numbers are owned */
    int argc;
    int text, negative; /* indices into the text table; negative -1 without CFG */
    unsigned char *done; /* --resume: per generation, 1 when its outputs are already there */
    int n_done;
} batch_job;

/* Distinct prompts' embeddings, kept while the jobs run (the text encoder is freed by then). */
typedef struct text_table {
    const char **key; /* the prompt; NULL for a --context file's embeddings (not shared) */
    float **emb;
    int *len;
    int n, cap;
} text_table;

typedef struct batch {
    const char *path, *model, *device, *dtype;
    int threads;
    int deal;      /* --deal: the jobs are dealt over the ranks of an MPI job */
    dg_comm world; /* then: every rank */
    char gpu[32];  /* then, with --device cuda: this rank's device */
    cJSON *root;
    batch_job *jobs;
    int n_jobs;
    text_table text;
    int resume;              /* --resume */
    batch_summary summary;   /* --summary (path NULL: none) */
} batch;

static int is_job_key(const char *k) {
    for (size_t i = 0; i < N_JOB_KEYS; i++)
        if (!strcmp(JOB_KEYS[i], k)) return 1;
    return 0;
}

/* Checks an object's keys; where is "job 3" or "defaults". */
static int check_keys(const batch *b, const cJSON *obj, const char *where) {
    DG_CHECK(cJSON_IsObject(obj), "%s %s must be an object of generate flags", b->path, where);
    for (const cJSON *it = obj->child; it; it = it->next) {
        if (!strcmp(it->string, "model") || !strcmp(it->string, "device") || !strcmp(it->string, "threads") ||
            !strcmp(it->string, "dtype"))
            return dg_error("%s %s: '%s' is set once for the whole batch (top-level \"model\", or -m, --device, "
                            "-t, --dtype)", b->path, where, it->string);
        DG_CHECK(is_job_key(it->string), "%s %s: unknown key '%s' (see ditgen batch --help)", b->path, where,
                 it->string);
        DG_CHECK(cJSON_IsString(it) || cJSON_IsNumber(it), "%s %s: '%s' must be a string or a number", b->path,
                 where, it->string);
    }
    return DG_OK;
}

/* Appends "--key" "value"; numbers are written back as text for the flag parser. */
static int push_flag(batch_job *bj, const cJSON *it) {
    char flag[40], num[64];
    snprintf(flag, sizeof flag, "--%s", it->string);
    const char *val = it->valuestring;
    if (cJSON_IsNumber(it)) {
        /* JSON numbers are doubles: integers are exact only up to 2^53 */
        double v = it->valuedouble;
        if (v == floor(v) && fabs(v) > 9007199254740992.0)
            return dg_error("'%s': integers above 2^53 lose digits as JSON numbers; give it as a string", it->string);
        if (v == floor(v)) snprintf(num, sizeof num, "%lld", (long long)v);
        else snprintf(num, sizeof num, "%.17g", v);
        val = num;
    }
    char *f = strdup(flag), *v = strdup(val);
    if (!f || !v) {
        free(f), free(v);
        return dg_error("out of memory reading the batch file");
    }
    bj->argv[bj->argc++] = f;
    bj->argv[bj->argc++] = v;
    return DG_OK;
}

/* A default key gives way to the job's own value and to job keys that exclude it: a job's
 * "context" replaces a default prompt (and the reverse), "pag-scale": 0 turns default PAG off. */
static int default_applies(const char *key, const cJSON *job) {
    if (cJSON_GetObjectItemCaseSensitive(job, key)) return 0;
    int job_context = cJSON_GetObjectItemCaseSensitive(job, "context") != NULL;
    int job_prompt = cJSON_GetObjectItemCaseSensitive(job, "prompt") != NULL;
    if (job_context && (!strcmp(key, "prompt") || !strcmp(key, "negative-prompt"))) return 0;
    if (job_prompt && !strcmp(key, "context")) return 0;
    const cJSON *pag = cJSON_GetObjectItemCaseSensitive(job, "pag-scale");
    if (pag && cJSON_IsNumber(pag) && pag->valuedouble == 0 && (!strcmp(key, "pag-heads") || !strcmp(key, "pag-u")))
        return 0;
    return 1;
}

/* The defaults that apply, then the job's own keys. */
static int build_argv(batch_job *bj, const cJSON *defaults, const cJSON *job) {
    int n = 1 + 2 * (cJSON_GetArraySize(job) + (defaults ? cJSON_GetArraySize(defaults) : 0));
    bj->argv = calloc((size_t)n + 1, sizeof(char *));
    DG_CHECK(bj->argv, "out of memory reading the batch file");
    bj->argv[bj->argc++] = "batch";
    for (const cJSON *it = defaults ? defaults->child : NULL; it; it = it->next)
        if (default_applies(it->string, job)) DG_TRY(push_flag(bj, it));
    for (const cJSON *it = job->child; it; it = it->next) DG_TRY(push_flag(bj, it));
    return DG_OK;
}

/* Reads the file and parses every job into gen_job; one line on stderr on error. */
static int load_jobs(batch *b) {
    if (dg_json_load(b->path, &b->root)) {
        cli_library_error();
        return -1;
    }
    const cJSON *defaults = NULL, *jobs = NULL, *model = NULL;
    for (const cJSON *it = b->root->child; it; it = it->next) {
        const cJSON **slot = !strcmp(it->string, "defaults") ? &defaults
                             : !strcmp(it->string, "jobs")   ? &jobs
                             : !strcmp(it->string, "model") && cJSON_IsString(it) ? &model
                                                                                  : NULL;
        if (slot && *slot) {
            cli_error("%s: top-level key '%s' given twice", b->path, it->string);
            return -1;
        }
        if (slot) {
            *slot = it;
        } else {
            cli_error("%s: unknown top-level key '%s' or wrong type (\"model\": string, \"defaults\": object, "
                      "\"jobs\": array)", b->path, it->string);
            return -1;
        }
    }
    if (model && !b->model) b->model = model->valuestring; /* -m wins */
    if (!cJSON_IsArray(jobs) || cJSON_GetArraySize(jobs) < 1) {
        cli_error("%s: needs \"jobs\": a non-empty array of objects", b->path);
        return -1;
    }
    if (defaults && check_keys(b, defaults, "defaults")) {
        cli_library_error();
        return -1;
    }
    b->n_jobs = cJSON_GetArraySize(jobs);
    b->jobs = calloc((size_t)b->n_jobs, sizeof *b->jobs);
    if (!b->jobs) {
        cli_error("out of memory for %d jobs", b->n_jobs);
        return -1;
    }
    int k = 0;
    for (const cJSON *job = jobs->child; job; job = job->next, k++) {
        batch_job *bj = &b->jobs[k];
        char where[32];
        snprintf(where, sizeof where, "job %d", k + 1);
        snprintf(bj->ctx, sizeof bj->ctx, "batch: %s job %d", b->path, k + 1);
        if (check_keys(b, job, where)) {
            cli_library_error();
            return -1;
        }
        cli_error_context(bj->ctx);
        int rc = build_argv(bj, defaults, job);
        if (rc) cli_library_error();
        else rc = gen_job_parse(bj->argc, bj->argv, &bj->job, NULL);
        cli_error_context("batch");
        if (rc) return -1;
    }
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Before the model loads: each job's first file can be created. */
static int check_writable(batch *b) {
    for (int i = 0; i < b->n_jobs; i++)
        if (gen_job_check_writable(&b->jobs[i].job)) return dg_error_wrap("%s job %d: ", b->path, i + 1);
    return DG_OK;
}

/* path with its folder resolved (the folder exists: check_writable made a file there), so that
 * "f.png" and "./f.png" are seen to be one file. */
static int canonical_path(const char *path, char *out, size_t size) {
    const char *slash = strrchr(path, '/');
    char dir[4096], real[PATH_MAX];
    int n = slash ? snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path) : snprintf(dir, sizeof dir, ".");
    DG_CHECK(n >= 0 && (size_t)n < sizeof dir, "'%s': path too long", path);
    DG_CHECK(realpath(dir[0] ? dir : "/", real), "cannot resolve the folder of '%s': %s", path, strerror(errno));
    n = snprintf(out, size, "%s/%s", real, slash ? slash + 1 : path);
    DG_CHECK(n >= 0 && (size_t)n < size, "'%s': path too long", path);
    return DG_OK;
}

/* After the jobs are resolved (frame counts known): two generations writing one file, a frame
 * of a pattern included, would lose the first silently. */
static int check_distinct(batch *b) {
    size_t n = 0, k = 0;
    for (int i = 0; i < b->n_jobs; i++) n += (size_t)b->jobs[i].job.count * gen_job_files(&b->jobs[i].job);
    char **paths = calloc(n, sizeof *paths);
    DG_CHECK(paths, "out of memory for %zu output paths", n);
    int rc = DG_OK;
    for (int i = 0; i < b->n_jobs && rc == DG_OK; i++) {
        const gen_job *j = &b->jobs[i].job;
        for (int c = 0; c < j->count && rc == DG_OK; c++)
            for (int f = 0; f < gen_job_files(j) && rc == DG_OK; f++) {
                char file[4096], canon[4096 + PATH_MAX];
                rc = gen_job_file(j, c, f, file, sizeof file);
                if (rc == DG_OK) rc = canonical_path(file, canon, sizeof canon);
                if (rc == DG_OK && !(paths[k++] = strdup(canon))) rc = dg_error("out of memory for the output paths");
            }
    }
    if (rc == DG_OK) {
        qsort(paths, k, sizeof *paths, cmp_str);
        for (size_t i = 1; i < k && rc == DG_OK; i++)
            if (!strcmp(paths[i - 1], paths[i]))
                rc = dg_error("%s: two generations write '%s' (give each job its own \"output\")", b->path, paths[i]);
    }
    for (size_t i = 0; i < k; i++) free(paths[i]);
    free(paths);
    return rc;
}

/* Takes ownership of emb; *index is its slot. */
static int text_add(text_table *t, const char *key, float *emb, int len, int *index) {
    if (t->n == t->cap) {
        int cap = t->cap ? 2 * t->cap : 16;
        const char **k = realloc(t->key, (size_t)cap * sizeof *k);
        if (k) t->key = k;
        float **e = realloc(t->emb, (size_t)cap * sizeof *e);
        if (e) t->emb = e;
        int *l = realloc(t->len, (size_t)cap * sizeof *l);
        if (l) t->len = l;
        if (!k || !e || !l) {
            free(emb);
            return dg_error("out of memory for the prompts' embeddings");
        }
        t->cap = cap;
    }
    t->key[t->n] = key, t->emb[t->n] = emb, t->len[t->n] = len;
    *index = t->n++;
    return DG_OK;
}

/* *index: the slot of prompt's embeddings, encoded on first sight. */
static int text_prompt(text_table *t, dg_pipeline *p, const char *prompt, int *index) {
    for (int i = 0; i < t->n; i++)
        if (t->key[i] && !strcmp(t->key[i], prompt)) {
            *index = i;
            return DG_OK;
        }
    float *emb;
    int len;
    DG_TRY(dg_pipeline_encode_prompt(p, prompt, &emb, &len));
    return text_add(t, prompt, emb, len, index);
}

static int job_text(batch *b, dg_pipeline *p, batch_job *bj) {
    const gen_job *j = &bj->job;
    bj->negative = -1;
    if (j->prompt) {
        DG_TRY(text_prompt(&b->text, p, j->prompt, &bj->text));
        if (j->cfg > 1.0) DG_TRY(text_prompt(&b->text, p, j->negative ? j->negative : "", &bj->negative));
        return DG_OK;
    }
    float *ctx, *neg;
    int ctx_len, neg_len;
    DG_TRY(gen_job_text(j, p, &ctx, &ctx_len, &neg, &neg_len));
    if (text_add(&b->text, NULL, ctx, ctx_len, &bj->text)) {
        free(neg);
        return DG_ERR;
    }
    return neg ? text_add(&b->text, NULL, neg, neg_len, &bj->negative) : DG_OK;
}

/* After the model loads: every job's final values and embeddings, before any denoising. */
/* The last error, on one line prefixed with the job. */
static void job_error(const batch_job *bj) {
    cli_error_context(bj->ctx);
    cli_library_error();
    cli_error_context("batch");
}

static int prepare(batch *b, dg_pipeline *p, const char *configs) {
    for (int i = 0; i < b->n_jobs; i++)
        if (gen_job_resolve(&b->jobs[i].job, p, configs)) {
            job_error(&b->jobs[i]);
            return -1;
        }
    if (check_distinct(b)) {
        cli_library_error();
        return -1;
    }
    for (int i = 0; i < b->n_jobs; i++)
        if (job_text(b, p, &b->jobs[i])) {
            job_error(&b->jobs[i]);
            return -1;
        }
    dg_pipeline_release_text_encoder(p);
    return 0;
}

/* --resume: each job's generations whose outputs are done already. */
static int resume_scan(batch *b) {
    int gens = 0, done = 0;
    for (int i = 0; i < b->n_jobs; i++) {
        batch_job *bj = &b->jobs[i];
        if ((bj->n_done = batch_resume_scan(&bj->job, &bj->done)) < 0) {
            job_error(bj);
            return -1;
        }
        bj->job.skip = bj->done;
        gens += bj->job.count, done += bj->n_done;
    }
    fprintf(stderr, "resume: %d of %d generations are done already\n", done, gens);
    return 0;
}

/* One job (what --resume left of it), its outcome recorded in the summary; 1 when it failed. */
static int run_one(batch *b, batch_job *bj, int i, dg_pipeline *p, const char *configs, const float *ctx,
                   int ctx_len, const float *neg, int neg_len) {
    const gen_job *j = &bj->job;
    const int rank = b->deal ? b->world.rank : 0;
    double t0 = cli_now_s();
    int rc = 0;
    const char *status = "skipped";
    if (bj->n_done < j->count) {
        rc = gen_job_run(j, p, configs, ctx, ctx_len, neg, neg_len) != DG_OK;
        status = !rc ? "done" : cli_interrupted ? "interrupted" : "failed";
    } else {
        fprintf(stderr, "  done already (--resume)\n");
    }
    char error[1024] = "";
    if (rc) {
        snprintf(error, sizeof error, "%s", dg_last_error());
        job_error(bj);
    }
    if (batch_summary_job(&b->summary, i, j, bj->done, status, cli_now_s() - t0, rc ? error : NULL) ||
        batch_summary_write(&b->summary, rank))
        job_error(bj); /* the job itself is done: report the summary's trouble and go on */
    return rc;
}

/* The summary's last word: under --deal every rank's jobs, gathered to rank 0. */
static int summary_finish(batch *b) {
    const int rank = b->deal ? b->world.rank : 0;
    if ((b->deal && batch_summary_gather(&b->summary, &b->world)) || batch_summary_write(&b->summary, rank)) {
        cli_library_error();
        return 1;
    }
    return 0;
}

static int run_jobs(batch *b, dg_pipeline *p, const char *configs) {
    int failed = 0, generations = 0, mine = 0, dropped = 0;
    const int rank = b->deal ? b->world.rank : 0, ranks = b->deal ? b->world.size : 1;
    double t0 = cli_now_s();
    for (int i = 0; i < b->n_jobs; i++) {
        if (i % ranks != rank) continue; /* another rank's job */
        mine++;
        batch_job *bj = &b->jobs[i];
        const gen_job *j = &bj->job;
        const text_table *t = &b->text;
        fprintf(stderr, "[%d/%d] %s\n", i + 1, b->n_jobs, j->prompt ? j->prompt : j->context);
        int neg = bj->negative;
        if (run_one(b, bj, i, p, configs, t->emb[bj->text], t->len[bj->text], neg >= 0 ? t->emb[neg] : NULL,
                    neg >= 0 ? t->len[neg] : 0)) {
            if (cli_interrupted) { /* SIGINT: this job dropped, the finished ones kept, the rest not run */
                mine--;
                for (int k = i; k < b->n_jobs; k++) dropped += k % ranks == rank;
                break;
            }
            failed++;
        } else {
            generations += j->count - bj->n_done;
        }
    }
    char who[48] = "";
    if (ranks > 1) snprintf(who, sizeof who, " (rank %d of %d)", rank, ranks);
    fprintf(stderr, "batch%s: %d of %d jobs done, %d generations in %.1f s", who, mine - failed, mine + dropped,
            generations, cli_now_s() - t0);
    if (failed) fprintf(stderr, "; %d failed", failed);
    if (dropped) fprintf(stderr, "; interrupted by %s, %d not run", cli_interrupted_name(), dropped);
    fputc('\n', stderr);
    return dropped ? cli_interrupted_status() : failed ? 1 : 0;
}

/* --summary: every job pending, written once before the first runs. */
static int summary_start(batch *b) {
    const char *path = b->summary.path;
    if (!path) return 0;
    if (batch_summary_init(&b->summary, path, b->path, b->model, b->n_jobs) ||
        batch_summary_write(&b->summary, b->deal ? b->world.rank : 0)) {
        cli_library_error();
        return -1;
    }
    return 0;
}

/* --deal: this process's rank among the MPI job's, and its GPU. */
static int deal_init(batch *b) {
    DG_TRY(dg_comm_mpi_init(&b->world));
    b->device = cli_rank_device(b->device, b->gpu, sizeof b->gpu);
    return DG_OK;
}

static void batch_free(batch *b) {
    for (int i = 0; i < b->n_jobs; i++) {
        batch_job *bj = &b->jobs[i];
        for (int a = 1; a < bj->argc; a++) free(bj->argv[a]);
        free(bj->argv);
        free(bj->done);
        gen_job_free(&bj->job);
    }
    free(b->jobs);
    for (int i = 0; i < b->text.n; i++) free(b->text.emb[i]);
    free(b->text.key), free(b->text.emb), free(b->text.len);
    cJSON_Delete(b->root);
    batch_summary_free(&b->summary);
    dg_comm_free(&b->world);
}

static int parse_args(int argc, char **argv, batch *b) {
    static const struct option longs[] = {{"model", required_argument, 0, 'm'},
                                          {"device", required_argument, 0, 1},
                                          {"threads", required_argument, 0, 't'},
                                          {"deal", no_argument, 0, 2},
                                          {"resume", no_argument, 0, 3},
                                          {"summary", required_argument, 0, 4},
                                          {"dtype", required_argument, 0, 5},
                                          {"help", no_argument, 0, 'h'},
                                          {0, 0, 0, 0}};
    opterr = 0;
    optind = 1;
    int c;
    int64_t iv;
    while ((c = getopt_long(argc, argv, ":m:t:h", longs, NULL)) != -1) {
        switch (c) {
        case 'm': b->model = optarg; break;
        case 1: b->device = optarg; break;
        case 2: b->deal = 1; break;
        case 3: b->resume = 1; break;
        case 4: b->summary.path = optarg; break;
        case 5: b->dtype = optarg; break; /* checked by dg_pipeline_set_dtype */
        case 't': if (cli_parse_int("--threads", optarg, 0, 1024, &iv)) return -1; b->threads = (int)iv; break;
        case 'h': usage(stdout); return 1;
        case ':': cli_error("%s needs a value", argv[optind - 1]); return -1;
        default: cli_error("unknown option '%s' (see ditgen batch --help)", cli_refused_option(argv)); return -1;
        }
    }
    if (optind >= argc) {
        cli_error("give a JOBS.json file (see ditgen batch --help)");
        return -1;
    }
    if (optind + 1 < argc) {
        cli_error("unexpected argument '%s'", argv[optind + 1]);
        return -1;
    }
    b->path = argv[optind];
    return 0;
}

int cmd_batch(int argc, char **argv) {
    cli_error_context("batch");
    batch b = {0};
    int rc = parse_args(argc, argv, &b);
    if (rc) return rc > 0 ? 0 : 2;
    if (load_jobs(&b)) {
        batch_free(&b);
        return 2;
    }
    if (b.deal && deal_init(&b)) {
        cli_library_error();
        batch_free(&b);
        return 1;
    }
    if (!b.model) b.model = DG_DEFAULT_MODEL;
    for (int i = 0; i < b.n_jobs; i++) b.jobs[i].job.model = b.model, b.jobs[i].job.dtype = b.dtype;
    if (check_writable(&b)) {
        cli_library_error();
        batch_free(&b);
        return 1;
    }
    double t0 = cli_now_s();
    if (b.threads <= 0) b.threads = cli_physical_cores(); /* -t 0 or none: auto, as generate */
    dg_pipeline *p;
    if (dg_pipeline_open(&p, b.model, b.device, b.threads)) {
        cli_library_error();
        batch_free(&b);
        return 1;
    }
    if (b.dtype && dg_pipeline_set_dtype(p, b.dtype)) {
        cli_library_error();
        dg_pipeline_close(p);
        batch_free(&b);
        return 1;
    }
    const char *configs = getenv("DITGEN_CONFIG_DIR") ? getenv("DITGEN_CONFIG_DIR") : DG_CONFIG_DIR;
    rc = 1;
    if (prepare(&b, p, configs) == 0 && (!b.resume || resume_scan(&b) == 0) && summary_start(&b) == 0) {
        const dg_model_info *info = dg_pipeline_info(p);
        fprintf(stderr, "model: %s (%d layers, dim %d, %s) loaded and %d prompt(s) encoded in %.2f s, %d thread%s\n",
                b.model, info->num_layers, info->dim, dg_pipeline_compute(p), b.text.n, cli_now_s() - t0, b.threads,
                b.threads == 1 ? "" : "s");
        rc = run_jobs(&b, p, configs);
        rc |= summary_finish(&b);
    }
    dg_pipeline_close(p);
    batch_free(&b);
    return rc;
}
