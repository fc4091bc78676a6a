# The comparison (spec section 5): content at alpha 0, combinations, noise, diversity,
# saddle point, adjusted vs retrained, and the claims verdict. Experiments write tables
# (one per trained model, then one merged table); figure rules only read them.
# --- adjustability: does the model respond to alpha, differently per layer? ------------------


rule adjustability:
    input:
        model=MODEL,
        training_log="results/models/{impl}/{style}/seed{seed}/adjustability.csv",
        style=style_image,
        images=eval_images(),
    output:
        table=f"results/tables/adjustability/{RUN}.csv",
        curve=f"results/tables/adjustability_curves/{RUN}.csv",
    log:
        f"results/logs/adjustability/{RUN}.log",
    conda:
        "../../envs/arst.yaml"
    threads: EVAL["threads"]
    resources:
        gpu=EVAL["gpu"],
    params:
        args=evaluation_args("adjustability"),
    shell:
        "TORCH_HOME=resources/torch arst adjustability {params.args}"
        " --training-log {input.training_log} --table {output.table} --curve {output.curve} > {log} 2>&1"


rule adjustability_summary:
    input:
        per_model(f"results/tables/adjustability/{RUN}.csv"),
    output:
        csv="results/tables/adjustability.csv",
        md="results/tables/adjustability.md",
    log:
        "results/logs/adjustability_summary.log",
    conda:
        "../../envs/arst.yaml"
    shell:
        "arst adjustability-summary {input} --csv {output.csv} --md {output.md} > {log} 2>&1"


rule plot_adjustability:
    input:
        per_model(f"results/tables/adjustability_curves/{RUN}.csv"),
    output:
        png=report(
            "results/figures/adjustability.png",
            caption="../report/adjustability_figure.rst",
            category="Adjustability",
            subcategory="Figures",
        ),
        pdf="results/figures/adjustability.pdf",
    log:
        "results/logs/plot/adjustability.log",
    conda:
        "../../envs/arst.yaml"
    shell:
        "arst plot-adjustability {input} --png {output.png} --pdf {output.pdf} > {log} 2>&1"


# --- content at alpha = 0 -----------------------------------------------------------------


rule content_identity:
    input:
        model=MODEL,
        style=style_image,
        images=eval_images(),
    output:
        table=f"results/tables/content_identity/{RUN}.csv",
        images=directory(f"results/images/content_identity/{RUN}"),
    log:
        f"results/logs/content_identity/{RUN}.log",
    conda:
        "../../envs/arst.yaml"
    threads: EVAL["threads"]
    resources:
        gpu=EVAL["gpu"],
    params:
        args=evaluation_args("content-identity"),
    shell:
        "TORCH_HOME=resources/torch arst content-identity {params.args}"
        " --table {output.table} --image-dir {output.images} > {log} 2>&1"


rule content_identity_summary:
    input:
        per_model(f"results/tables/content_identity/{RUN}.csv"),
    output:
        csv="results/tables/content_identity.csv",
        md="results/tables/content_identity.md",
    log:
        "results/logs/content_identity_summary.log",
    conda:
        "../../envs/arst.yaml"
    shell:
        "arst content-identity-summary {input} --csv {output.csv} --md {output.md} > {log} 2>&1"


rule plot_content_identity:
    input:
        tables=per_model(f"results/tables/content_identity/{RUN}.csv"),
        images=per_model(f"results/images/content_identity/{RUN}"),
    output:
        png=report(
            "results/figures/content_identity.png",
            caption="../report/content_identity_figure.rst",
            category="Content at alpha 0",
            subcategory="Figures",
        ),
        pdf="results/figures/content_identity.pdf",
    log:
        "results/logs/plot/content_identity.log",
    conda:
        "../../envs/arst.yaml"
    shell:
        "arst plot-content-identity {input.tables} --png {output.png} --pdf {output.pdf} > {log} 2>&1"


# --- combinations ---------------------------------------------------------------------------


rule combinations:
    input:
        model=MODEL,
        style=style_image,
        images=eval_images(),
    output:
        table=f"results/tables/combinations/{RUN}.csv",
        images=directory(f"results/images/combinations/{RUN}"),
    log:
        f"results/logs/combinations/{RUN}.log",
    conda:
        "../../envs/arst.yaml"
    threads: EVAL["threads"]
    resources:
        gpu=EVAL["gpu"],
    params:
        args=evaluation_args("combinations"),
    shell:
        "TORCH_HOME=resources/torch arst combinations {params.args}"
        " --table {output.table} --image-dir {output.images} > {log} 2>&1"


rule combinations_summary:
    input:
        per_model(f"results/tables/combinations/{RUN}.csv"),
    output:
        csv="results/tables/combinations.csv",
        md="results/tables/combinations.md",
    log:
        "results/logs/combinations_summary.log",
    conda:
        "../../envs/arst.yaml"
    shell:
        "arst combinations-summary {input} --csv {output.csv} --md {output.md} > {log} 2>&1"


rule plot_combinations:
    input:
        tables=per_model(f"results/tables/combinations/{RUN}.csv"),
        images=per_model(f"results/images/combinations/{RUN}"),
    output:
        png=report(
            "results/figures/combinations.png",
            caption="../report/combinations_figure.rst",
            category="Combinations",
            subcategory="Figures",
        ),
        pdf="results/figures/combinations.pdf",
    log:
        "results/logs/plot/combinations.log",
    conda:
        "../../envs/arst.yaml"
    shell:
        "arst plot-combinations {input.tables} --png {output.png} --pdf {output.pdf} > {log} 2>&1"


# --- noise ------------------------------------------------------------------------------------


rule noise:
    input:
        model=MODEL,
        style=style_image,
        images=eval_images(),
    output:
        table=f"results/tables/noise/{RUN}.csv",
        images=directory(f"results/images/noise/{RUN}"),
    log:
        f"results/logs/noise/{RUN}.log",
    conda:
        "../../envs/arst.yaml"
    threads: EVAL["threads"]
    resources:
        gpu=EVAL["gpu"],
    params:
        args=evaluation_args("noise"),
    shell:
        "TORCH_HOME=resources/torch arst noise {params.args}"
        " --table {output.table} --image-dir {output.images} > {log} 2>&1"


rule noise_summary:
    input:
        per_model(f"results/tables/noise/{RUN}.csv"),
    output:
        csv="results/tables/noise.csv",
        md="results/tables/noise.md",
    log:
        "results/logs/noise_summary.log",
    conda:
        "../../envs/arst.yaml"
    shell:
        "arst noise-summary {input} --csv {output.csv} --md {output.md} > {log} 2>&1"


rule plot_noise:
    input:
        tables=per_model(f"results/tables/noise/{RUN}.csv"),
        images=per_model(f"results/images/noise/{RUN}"),
    output:
        png=report(
            "results/figures/noise.png",
            caption="../report/noise_figure.rst",
            category="Noise",
            subcategory="Figures",
        ),
        pdf="results/figures/noise.pdf",
    log:
        "results/logs/plot/noise.log",
    conda:
        "../../envs/arst.yaml"
    shell:
        "arst plot-noise {input.tables} --png {output.png} --pdf {output.pdf} > {log} 2>&1"


# --- diversity -------------------------------------------------------------------------------


rule diversity:
    input:
        model=MODEL,
        style=style_image,
        images=eval_images(),
    output:
        table=f"results/tables/diversity/{RUN}.csv",
        images=directory(f"results/images/diversity/{RUN}"),
    log:
        f"results/logs/diversity/{RUN}.log",
    conda:
        "../../envs/arst.yaml"
    threads: EVAL["threads"]
    resources:
        gpu=EVAL["gpu"],
    params:
        args=evaluation_args("diversity"),
    shell:
        "TORCH_HOME=resources/torch arst diversity {params.args}"
        " --table {output.table} --image-dir {output.images} > {log} 2>&1"


rule diversity_summary:
    input:
        per_model(f"results/tables/diversity/{RUN}.csv"),
    output:
        csv="results/tables/diversity.csv",
        md="results/tables/diversity.md",
    log:
        "results/logs/diversity_summary.log",
    conda:
        "../../envs/arst.yaml"
    shell:
        "arst diversity-summary {input} --csv {output.csv} --md {output.md} > {log} 2>&1"


rule plot_diversity:
    input:
        tables=per_model(f"results/tables/diversity/{RUN}.csv"),
        images=per_model(f"results/images/diversity/{RUN}"),
    output:
        png=report(
            "results/figures/diversity.png",
            caption="../report/diversity_figure.rst",
            category="Diversity",
            subcategory="Figures",
        ),
        pdf="results/figures/diversity.pdf",
    log:
        "results/logs/plot/diversity.log",
    conda:
        "../../envs/arst.yaml"
    shell:
        "arst plot-diversity {input.tables} --png {output.png} --pdf {output.pdf} > {log} 2>&1"


# --- saddle point and its disjoint-layer ablation ---------------------------------------------


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
        "../../envs/arst.yaml"
    params:
        runs=" ".join(f"--run {shlex.join(run)}" for run in saddle_runs()),
        settings=shlex.join(experiment_argv(config, "saddle")),
    shell:
        "arst saddle {params.runs} {params.settings}"
        " --csv {output.csv} --md {output.md} --curves {output.curves} > {log} 2>&1"


rule plot_saddle:
    input:
        curves="results/tables/saddle_curves.csv",
        summary="results/tables/saddle.csv",
    output:
        png=report(
            "results/figures/saddle.png",
            caption="../report/saddle_figure.rst",
            category="Saddle point",
            subcategory="Figures",
        ),
        pdf="results/figures/saddle.pdf",
    log:
        "results/logs/plot/saddle.log",
    conda:
        "../../envs/arst.yaml"
    shell:
        "arst plot-saddle --curves {input.curves} --summary {input.summary}"
        " --png {output.png} --pdf {output.pdf} > {log} 2>&1"


# --- adjusted vs retrained ----------------------------------------------------------------------


rule controls:
    input:
        model=MODEL,
        retrained=control_models,
        floor=floor_model,
        style=style_image,
        images=eval_images(),
    output:
        table=f"results/tables/controls/{RUN}.csv",
    log:
        f"results/logs/controls/{RUN}.log",
    conda:
        "../../envs/arst.yaml"
    threads: EVAL["threads"]
    resources:
        gpu=EVAL["gpu"],
    params:
        args=evaluation_args("controls", with_model=False),
    shell:
        "TORCH_HOME=resources/torch arst controls {params.args} --adjustable {input.model}"
        " --retrained {input.retrained} --floor {input.floor} --table {output.table} > {log} 2>&1"


rule controls_summary:
    input:
        per_model(f"results/tables/controls/{RUN}.csv", RETRAIN_IMPLS),
    output:
        csv="results/tables/controls.csv",
        md="results/tables/controls.md",
    log:
        "results/logs/controls_summary.log",
    conda:
        "../../envs/arst.yaml"
    shell:
        "arst controls-summary {input} --csv {output.csv} --md {output.md} > {log} 2>&1"


rule plot_controls:
    input:
        per_model(f"results/tables/controls/{RUN}.csv", RETRAIN_IMPLS),
    output:
        png=report(
            "results/figures/controls.png",
            caption="../report/controls_figure.rst",
            category="Adjusted vs retrained",
            subcategory="Figures",
        ),
        pdf="results/figures/controls.pdf",
    log:
        "results/logs/plot/controls.log",
    conda:
        "../../envs/arst.yaml"
    shell:
        "arst plot-controls {input} --png {output.png} --pdf {output.pdf} > {log} 2>&1"


rule retrain_compare:
    input:
        model=MODEL,
        retrained=control_models,
        style=style_image,
        images=eval_images(),
    output:
        table=f"results/tables/retrain/{RUN}.csv",
    log:
        f"results/logs/retrain/{RUN}.log",
    conda:
        "../../envs/arst.yaml"
    threads: EVAL["threads"]
    resources:
        gpu=EVAL["gpu"],
    params:
        args=evaluation_args("retrain-compare", with_model=False),
    shell:
        "TORCH_HOME=resources/torch arst retrain-compare {params.args} --adjustable {input.model}"
        " --retrained {input.retrained} --table {output.table} > {log} 2>&1"


rule retrain_summary:
    input:
        per_model(f"results/tables/retrain/{RUN}.csv", RETRAIN_IMPLS),
    output:
        csv="results/tables/retrain.csv",
        md="results/tables/retrain.md",
    log:
        "results/logs/retrain_summary.log",
    conda:
        "../../envs/arst.yaml"
    shell:
        "arst retrain-summary {input} --csv {output.csv} --md {output.md} > {log} 2>&1"


rule plot_retrain:
    input:
        per_model(f"results/tables/retrain/{RUN}.csv", RETRAIN_IMPLS),
    output:
        png=report(
            "results/figures/retrain.png",
            caption="../report/retrain_figure.rst",
            category="Adjusted vs retrained",
            subcategory="Figures",
        ),
        pdf="results/figures/retrain.pdf",
    log:
        "results/logs/plot/retrain.log",
    conda:
        "../../envs/arst.yaml"
    shell:
        "arst plot-retrain {input} --png {output.png} --pdf {output.pdf} > {log} 2>&1"


# --- the verdict ------------------------------------------------------------------------------


rule claims:
    input:
        **claims_inputs(),
    output:
        csv="results/tables/claims.csv",
        md="results/tables/claims.md",
    log:
        "results/logs/claims.log",
    conda:
        "../../envs/arst.yaml"
    params:
        args=lambda w, input: " ".join(f"--{k} {v}" for k, v in input.items()),
    shell:
        "arst claims {params.args} --csv {output.csv} --md {output.md} > {log} 2>&1"


# --- named targets ----------------------------------------------------------------------------


rule adjustability_figure:
    input:
        rules.adjustability_summary.output,
        rules.plot_adjustability.output,


rule alpha_zero:
    input:
        rules.content_identity_summary.output,
        rules.plot_content_identity.output,


rule combination_grid:
    input:
        rules.combinations_summary.output,
        rules.plot_combinations.output,


rule noise_grid:
    input:
        rules.noise_summary.output,
        rules.plot_noise.output,


rule diversity_grid:
    input:
        rules.diversity_summary.output,
        rules.plot_diversity.output,


rule saddle_point:
    input:
        rules.saddle.output,
        rules.plot_saddle.output,


rule adjusted_vs_retrained:
    input:
        rules.controls_summary.output,
        rules.plot_controls.output,
        rules.retrain_summary.output,
        rules.plot_retrain.output,


rule verdict:
    input:
        rules.claims.output,


TARGETS["compare"] = [
    "results/tables/adjustability.md",
    "results/figures/adjustability.png",
    "results/figures/adjustability.pdf",
    "results/tables/content_identity.md",
    "results/figures/content_identity.png",
    "results/figures/content_identity.pdf",
    "results/tables/combinations.md",
    "results/figures/combinations.png",
    "results/figures/combinations.pdf",
    "results/tables/noise.md",
    "results/figures/noise.png",
    "results/figures/noise.pdf",
    "results/tables/diversity.md",
    "results/figures/diversity.png",
    "results/figures/diversity.pdf",
    "results/tables/saddle.md",
    "results/figures/saddle.png",
    "results/figures/saddle.pdf",
    "results/tables/claims.md",
]
if RETRAIN_IMPLS:
    TARGETS["compare"] += [
        "results/tables/controls.md",
        "results/figures/controls.png",
        "results/figures/controls.pdf",
        "results/tables/retrain.md",
        "results/figures/retrain.png",
        "results/figures/retrain.pdf",
    ]
