# Layer loss vs alpha (spec section 5, first and third claims): the sweep is an experiment
# (arst.experiments.sweep; its rules are made in compare.smk, included before this file), and
# these are its named targets and the static explorer over its images.


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
        ARST_ENV
    shell:
        logged("arst explorer-page {input.tables} --out {output}")


rule explorer:
    input:
        rules.explorer_page.output,


TARGETS["sweep"] = ["results/explorer/index.html"]
