# What `snakemake --report report.zip` shows beyond the figures: every summary table as an HTML
# page (the report shows HTML inline, a CSV only as a download), the training curves, the
# training jobs' benchmarks, and an animated alpha sweep per implementation. The report's
# categories are the experiments; each has its Figures and its Tables.

# Summary table -> (report category, caption): every measured experiment's, as its module
# declares them (the caption under workflow/report/, or an absolute path), then the verdict's
# and the training's.
REPORT_TABLES = {
    e.summary_table: (e.category, e.summary_caption)
    for e in EXPERIMENTS.values()
    if measured(e)
}
REPORT_TABLES["claims"] = ("Verdict", "claims.rst")
REPORT_TABLES["benchmarks"] = ("Training", "benchmarks.rst")

# Every trained model's folder and label (implementations, the ablation, fixed-alpha models).
TRAINED_RUNS = [
    (f"results/models/{m}/{s}/seed{x}", f"{m}_{s}_seed{x}")
    for m, s, x in [(m, s, x) for m in TRAINED for s in STYLES for x in SEEDS]
    + floor_runs(config)
]

for _table, (_category, _caption) in REPORT_TABLES.items():

    rule:
        name:
            f"{_table}_page"
        input:
            f"results/tables/{_table}.csv",
        output:
            report(
                f"results/report/{_table}.html",
                caption=caption(_caption),
                category=_category,
                subcategory="Tables",
            ),
        log:
            f"results/logs/report/{_table}.log",
        localrule: True
        conda:
            ARST_ENV
        params:
            title=_table.replace("_", " "),
        shell:
            logged("arst report-table {input} --title '{params.title}' --out {output}")


rule benchmarks:
    input:
        [f"results/benchmarks/train/{label}.tsv" for _, label in TRAINED_RUNS],
    output:
        csv="results/tables/benchmarks.csv",
        md="results/tables/benchmarks.md",
    log:
        "results/logs/benchmarks.log",
    localrule: True
    conda:
        ARST_ENV
    params:
        runs=lambda w, input: " ".join(
            f"--run {label} {tsv}" for (_, label), tsv in zip(TRAINED_RUNS, input)
        ),
    shell:
        logged("arst benchmarks {params.runs} --csv {output.csv} --md {output.md}")


rule plot_training:
    input:
        losses=[f"{folder}/losses.csv" for folder, _ in TRAINED_RUNS],
        models=[f"{folder}/model.pt" for folder, _ in TRAINED_RUNS],
    output:
        png=report(
            "results/figures/training_curves.png",
            caption="../report/training_curves.rst",
            category="Training",
            subcategory="Figures",
        ),
        pdf="results/figures/training_curves.pdf",
    log:
        "results/logs/plot/training_curves.log",
    conda:
        ARST_ENV
    params:
        runs=" ".join(
            f"--run {label} {folder}/losses.csv" for folder, label in TRAINED_RUNS
        ),
    shell:
        logged("arst plot-training {params.runs} --png {output.png} --pdf {output.pdf}")


rule alpha_sweep_gif:
    input:
        model="results/models/{impl}/{style}/seed{seed}/model.pt",
        image=eval_images()[0],
    output:
        f"results/figures/alpha_sweep/{RUN}.gif",
    log:
        f"results/logs/alpha_sweep/{RUN}.log",
    conda:
        ARST_ENV
    threads: EVAL["threads"]
    params:
        args=gif_args,
    shell:
        logged(
            "arst alpha-gif --checkpoint {input.model} --image {input.image}"
            " {params.args} --threads {threads} --out {output}"
        )


rule alpha_sweep_page:
    input:
        per_model(f"results/figures/alpha_sweep/{RUN}.gif"),
    output:
        report(
            "results/report/alpha_sweep.html",
            caption="../report/alpha_sweep.rst",
            category="Alpha sweep",
            subcategory="Animations",
        ),
    log:
        "results/logs/report/alpha_sweep.log",
    localrule: True
    conda:
        ARST_ENV
    params:
        gifs=lambda w, input: " ".join(f"--gif {Path(g).stem} {g}" for g in input),
    shell:
        logged("arst report-gifs {params.gifs} --out {output}")


rule alpha_sweep:
    input:
        per_model(f"results/figures/alpha_sweep/{RUN}.gif"),


rule training:
    input:
        rules.plot_training.output,
        "results/report/benchmarks.html",


TARGETS["report"] = [
    *per_model(f"results/figures/alpha_sweep/{RUN}.gif"),
    "results/report/alpha_sweep.html",
    "results/figures/training_curves.png",
    *[f"results/report/{table}.html" for table in REPORT_TABLES],
]
