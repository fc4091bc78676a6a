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


# The alpha explorer that runs the exported models in the reader's browser (onnxruntime-web):
# a folder whose index.html opens offline, every slider free over [0, 1], any photo. Not part
# of `all`: it needs the ONNX exports (the onnx extra) and onnxruntime-web's npm tarball, which
# fetch_ort_web downloads (the network, once).
rule explorer_in_browser_page:
    input:
        models=per_model("results/models/{impl}/{style}/seed{seed}/model.onnx"),
        ort_web=ORT_WEB_TARBALL,
        photos=eval_images(),
    output:
        directory("results/explorer/in-browser"),
    log:
        "results/logs/explorer_in_browser_page.log",
    conda:
        ARST_ENV
    params:
        models=browser_models,
    shell:
        logged(
            "arst explorer-in-browser {params.models} --ort-web {input.ort_web}"
            " --photos {input.photos} --out {output}"
        )


rule explorer_in_browser:
    input:
        rules.explorer_in_browser_page.output,


TARGETS["sweep"] = ["results/explorer/index.html"]
