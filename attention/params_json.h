/* JSON -> dg_attn_params, for the plan parser inside attention/ (the only
 * place that reads plan JSON). */
#ifndef DG_ATTENTION_PARAMS_JSON_H
#define DG_ATTENTION_PARAMS_JSON_H

#include <cjson/cJSON.h>

#include "attention/params.h"

/* obj: a JSON object or NULL/null (no parameters). Nested objects and arrays of arrays are refused. */
int dg_attn_params_from_json(dg_attn_params *ps, const cJSON *obj, const char *ctx);

#endif
