/* What a model path holds, resolved once: a diffusers folder (transformer/ with config.json,
 * and optionally transformer_2/, vae/, text_encoder/, tokenizer/, scheduler/, model_index.json), a bare
 * transformer folder, or a transformer .safetensors file. Paths of absent parts are "". */
#ifndef DG_IO_MODEL_FOLDER_H
#define DG_IO_MODEL_FOLDER_H

#define DG_MODEL_PATH_MAX 4096

typedef enum {
    DG_MODEL_DIFFUSERS,        /* path/transformer/config.json exists */
    DG_MODEL_TRANSFORMER_DIR,  /* any other folder: the transformer's own */
    DG_MODEL_TRANSFORMER_FILE, /* a .safetensors file (or index) */
} dg_model_layout;

typedef struct dg_model_folder {
    dg_model_layout layout;
    char root[DG_MODEL_PATH_MAX];        /* the diffusers folder; "" for a bare transformer */
    char transformer[DG_MODEL_PATH_MAX]; /* the transformer folder, or the file */
    char transformer_config[DG_MODEL_PATH_MAX];  /* its config.json; "" when there is none */
    char transformer_weights[DG_MODEL_PATH_MAX]; /* a folder's only .safetensors file, else the
                                                    folder (standard names, sharded sets), or the file */
    char transformer_2[DG_MODEL_PATH_MAX];    /* root/transformer_2 when it has a config.json */
    char vae[DG_MODEL_PATH_MAX];              /* root/vae when it has a config.json */
    char text_encoder[DG_MODEL_PATH_MAX];     /* root/text_encoder when it is a folder */
    char tokenizer[DG_MODEL_PATH_MAX];        /* root/tokenizer when it is a folder */
    char scheduler_config[DG_MODEL_PATH_MAX]; /* root/scheduler/scheduler_config.json */
    char model_index[DG_MODEL_PATH_MAX];      /* root/model_index.json */
} dg_model_folder;

/* Fails only when path is neither a folder nor a file (or too long); what each user needs
 * from the parts (a config, a VAE...) is theirs to check. */
int dg_model_folder_resolve(dg_model_folder *f, const char *path);

#endif
