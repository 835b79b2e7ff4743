/* A .safetensors file: header length, JSON header, layout rules. */
#include "core/error.h"
#include "fuzz/fuzz_file.h"
#include "io/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    dg_safetensors st;
    if (dg_safetensors_open(&st, fuzz_write_file("x.safetensors", data, size)) == DG_OK) {
        for (int i = 0; i < st.n_tensors; i++) /* every tensor's bytes lie in the mapping */
            if (st.tensors[i].nbytes) (void)((volatile const char *)st.tensors[i].data)[st.tensors[i].nbytes - 1];
        dg_safetensors_close(&st);
    }
    return 0;
}
