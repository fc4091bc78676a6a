# Each model's whole recipe (common.smk's TRAINED: each implementation, the ablation, the
# fixed-alpha models), once, beside its runs: the one file its training reads. Every field is a
# param, so changing one in the config reruns exactly the models it changes. Written in
# Snakemake's own process (run:, calling arst.plan), not by a command, so the fields reach the
# file as values, never flattened into arguments; local: a short file is no cluster job.
rule recipe:
    output:
        recipe="results/models/{model}/recipe.yaml",
    log:
        "results/logs/recipe/{model}.log",
    localrule: True
    params:
        fields=recipe_fields,
    run:
        write_recipe_file(params.fields, output.recipe, log[0])


# Train every model x style x seed. A killed job resumes from the checkpoint.pt beside its
# outputs (not an output, so Snakemake leaves it in place), and so do the snapshots it has
# written: Snakemake deletes model-stepN.pt before the rerun, and training links it again from
# snapshots/, its own copy.
rule train:
    input:
        recipe="results/models/{model}/recipe.yaml",
        content=content_cache,
        style=style_image,
        weights=loss_weights_input,
    output:
        model=protected("results/models/{model}/{style}/seed{seed}/model.pt"),
        losses="results/models/{model}/{style}/seed{seed}/losses.csv",
        adjustability="results/models/{model}/{style}/seed{seed}/adjustability.csv",
        snapshots=protected(
            snapshot_outputs("results/models/{model}/{style}/seed{seed}/model.pt")
        ),
    log:
        "results/logs/train/{model}_{style}_seed{seed}.log",
    benchmark:
        "results/benchmarks/train/{model}_{style}_seed{seed}.tsv"
    conda:
        ARST_ENV
    threads: config["train"]["threads"]
    resources:
        gpu=config["train"]["gpu"],
        mem_mb=config["train"]["mem_mb"],
        runtime=config["train"]["runtime"],
    params:
        out=model_dir,
        args=train_args,
    shell:
        logged(
            "arst train --recipe {input.recipe} --content {input.content}"
            " --style {input.style} --out {params.out} --seed {wildcards.seed} --threads {threads}"
            " {params.args}"
        )


rule models:
    input:
        per_model(MODEL),


# Every model as an ONNX file (`arst export`; `snakemake onnx` exports the implementations'
# models, as `models` trains them; any other trained model by naming its model.onnx). Not
# part of `all`: it needs the onnx extra (pip install -e '.[onnx]'), which the default does not.
rule export_onnx:
    input:
        model="results/models/{model}/{style}/seed{seed}/model.pt",
    output:
        "results/models/{model}/{style}/seed{seed}/model.onnx",
    log:
        "results/logs/export/{model}_{style}_seed{seed}.log",
    conda:
        ARST_ENV
    threads: EVAL["threads"]
    shell:
        logged(
            "arst export --checkpoint {input.model} --out {output} --threads {threads}"
        )


rule onnx:
    input:
        per_model("results/models/{impl}/{style}/seed{seed}/model.onnx"),
