# The saddle point and its disjoint-layer ablation (spec section 5): an experiment
# (arst.experiments.saddle) with no per-model job. One job reads every training log (each
# implementation's, and its ablation's where the config asks) into the summary and the
# curves, and the figure reads those; compare.smk makes its named target, saddle_point.


SADDLE = EXPERIMENTS["saddle"]


rule saddle:
    input:
        [path for run in saddle_runs() for path in run[2:]],
    output:
        csv="results/tables/saddle.csv",
        md="results/tables/saddle.md",
        curves="results/tables/saddle_curves.csv",
    log:
        "results/logs/saddle.log",
    conda:
        ARST_ENV
    params:
        runs=" ".join(f"--run {shlex.join(run)}" for run in saddle_runs()),
        settings=shlex.join(experiment_argv(config, "saddle")),
    shell:
        logged(
            "arst saddle {params.runs} {params.settings}"
            " --csv {output.csv} --md {output.md} --curves {output.curves}"
        )


rule plot_saddle:
    input:
        curves="results/tables/saddle_curves.csv",
        summary="results/tables/saddle.csv",
    output:
        png=report(
            "results/figures/saddle.png",
            caption=caption(SADDLE.figures[0].caption),
            category=SADDLE.category,
            subcategory="Figures",
        ),
        pdf="results/figures/saddle.pdf",
    log:
        "results/logs/plot/saddle.log",
    conda:
        ARST_ENV
    shell:
        logged(
            "arst plot-saddle --curves {input.curves} --summary {input.summary}"
            " --png {output.png} --pdf {output.pdf}"
        )
