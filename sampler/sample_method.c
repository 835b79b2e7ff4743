/* The one table of sampling methods: the name users and files write, and the
 * diffusers scheduler class (with its shift key) a scheduler_config.json names. */
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "sampler/scheduler.h"

static const struct {
    dg_sample_method method;
    const char *name, *diffusers_class, *shift_key;
} methods[] = {
    {DG_SAMPLE_UNIPC, "unipc", "UniPCMultistepScheduler", "flow_shift"},
    {DG_SAMPLE_EULER, "euler", "FlowMatchEulerDiscreteScheduler", "shift"},
};
#define N_METHODS (sizeof methods / sizeof methods[0])

const char *dg_sample_method_name(dg_sample_method m) {
    for (size_t i = 0; i < N_METHODS; i++)
        if (methods[i].method == m) return methods[i].name;
    return "unknown";
}

/* "unipc, euler" (or the classes) for the messages of a refused name. */
static void list(char *buf, size_t size, int classes) {
    buf[0] = 0;
    for (size_t i = 0; i < N_METHODS; i++) {
        size_t n = strlen(buf);
        snprintf(buf + n, size - n, "%s%s", i ? ", " : "", classes ? methods[i].diffusers_class : methods[i].name);
    }
}

int dg_sample_method_parse(const char *name, dg_sample_method *m) {
    for (size_t i = 0; name && i < N_METHODS; i++)
        if (!strcmp(methods[i].name, name)) {
            *m = methods[i].method;
            return DG_OK;
        }
    char names[128];
    list(names, sizeof names, 0);
    return dg_error("sampler: unknown '%s' (%s)", name ? name : "(null)", names);
}

int dg_sample_method_from_class(const char *cls, dg_sample_method *m, const char **shift_key) {
    for (size_t i = 0; i < N_METHODS; i++)
        if (!strcmp(methods[i].diffusers_class, cls)) {
            *m = methods[i].method;
            *shift_key = methods[i].shift_key;
            return DG_OK;
        }
    char classes[256];
    list(classes, sizeof classes, 1);
    return dg_error("scheduler '%s' is not supported (%s)", cls, classes);
}
