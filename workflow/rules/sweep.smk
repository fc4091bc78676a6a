# Layer loss vs alpha (spec section 5, first and third claims): the sweep writes tables
# and images; the figure rules only read them.


rule sweep:
    input:
        model=MODEL,
        style=style_image,
        images=eval_images(),
    output:
        table=f"results/tables/sweep/{RUN}.csv",
        images=directory(f"results/images/sweep/{RUN}"),
    log:
        f"results/logs/sweep/{RUN}.log",
    conda:
        "../../envs/arst.yaml"
    threads: EVAL["threads"]
    resources:
        gpu=EVAL["gpu"],
    params:
        args=evaluation_args("sweep"),
    shell:
        "TORCH_HOME=resources/torch arst sweep {params.args}"
        " --table {output.table} --image-dir {output.images} > {log} 2>&1"


rule plot_loss_vs_alpha:
    input:
        per_model(f"results/tables/sweep/{RUN}.csv"),
    output:
        png=report(
            "results/figures/loss_vs_alpha.png",
            caption="../report/loss_vs_alpha.rst",
            category="Layer loss vs alpha",
            subcategory="Figures",
        ),
        pdf="results/figures/loss_vs_alpha.pdf",
    log:
        "results/logs/plot/loss_vs_alpha.log",
    conda:
        "../../envs/arst.yaml"
    shell:
        "arst plot-loss-vs-alpha {input} --png {output.png} --pdf {output.pdf} > {log} 2>&1"


rule sweep_summary:
    input:
        per_model(f"results/tables/sweep/{RUN}.csv"),
    output:
        csv="results/tables/sweep_summary.csv",
        md="results/tables/sweep_summary.md",
    log:
        "results/logs/sweep_summary.log",
    conda:
        "../../envs/arst.yaml"
    shell:
        "arst sweep-summary {input} --csv {output.csv} --md {output.md} > {log} 2>&1"


rule plot_stylization_grid:
    input:
        tables=per_model(f"results/tables/sweep/{RUN}.csv"),
        images=per_model(f"results/images/sweep/{RUN}"),
    output:
        png=report(
            "results/figures/stylization_grid.png",
            caption="../report/stylization_grid.rst",
            category="Layer loss vs alpha",
            subcategory="Figures",
        ),
        pdf="results/figures/stylization_grid.pdf",
    log:
        "results/logs/plot/stylization_grid.log",
    conda:
        "../../envs/arst.yaml"
    shell:
        "arst plot-stylization-grid {input.tables} --png {output.png} --pdf {output.pdf} > {log} 2>&1"


rule loss_vs_alpha:
    input:
        rules.plot_loss_vs_alpha.output,
        rules.sweep_summary.output,


rule stylization_grid:
    input:
        rules.plot_stylization_grid.output,


# The static alpha explorer: per-layer sliders over the sweep's images (the others at 0 and
# at 1), every implementation side by side, in one HTML file that holds its images.
rule explorer_page:
    input:
        tables=per_model(f"results/tables/sweep/{RUN}.csv"),
        images=per_model(f"results/images/sweep/{RUN}"),
    output:
        report(
            "results/explorer/index.html",
            caption="../report/explorer.rst",
            category="Explorer",
            subcategory="Interactive page",
        ),
    log:
        "results/logs/explorer_page.log",
    conda:
        "../../envs/arst.yaml"
    shell:
        "arst explorer-page {input.tables} --out {output} > {log} 2>&1"


rule explorer:
    input:
        rules.explorer_page.output,


TARGETS["sweep"] = [
    "results/figures/loss_vs_alpha.png",
    "results/figures/loss_vs_alpha.pdf",
    "results/tables/sweep_summary.md",
    "results/figures/stylization_grid.png",
    "results/explorer/index.html",
]
