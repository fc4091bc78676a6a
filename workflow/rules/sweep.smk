# Layer loss vs alpha (spec section 5, first and third claims): the sweep writes tables
# and images; the figure rules only read them.


rule sweep:
    input:
        model="results/models/{impl}/{style}/seed{seed}/model.pt",
        style=style_image,
        images=eval_images(),
    output:
        table="results/tables/sweep/{impl}_{style}_seed{seed}.csv",
        images=directory("results/images/sweep/{impl}_{style}_seed{seed}"),
    log:
        "results/logs/sweep/{impl}_{style}_seed{seed}.log",
    conda:
        "../../envs/arst.yaml"
    threads: config["evaluation"]["threads"]
    resources:
        gpu=config["evaluation"]["gpu"],
    params:
        points=config["evaluation"]["sweep_points"],
        others=",".join(str(v) for v in config["evaluation"]["sweep_others"]),
        size=config["evaluation"]["size"],
    shell:
        "TORCH_HOME=resources/torch arst sweep --checkpoint {input.model} --style {input.style}"
        " --style-name {wildcards.style} --images {input.images} --size {params.size}"
        " --points {params.points} --others {params.others} --table {output.table}"
        " --image-dir {output.images} --threads {threads} > {log} 2>&1"


rule plot_loss_vs_alpha:
    input:
        sweep_tables(),
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
        sweep_tables(),
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
        tables=sweep_tables(),
        images=sweep_image_dirs(),
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
        tables=sweep_tables(),
        images=sweep_image_dirs(),
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
