# The experiments (spec section 5) and the claims verdict. Each module of arst.experiments
# declares one experiment (arst.experiments.registry), and the rules below are made from those
# declarations: per trained model a job that writes its table (and images), one summary that
# merges them, and a job per figure that only reads the tables (the saddle point reads the
# training logs instead: saddle.smk), then the claims, which read every summary.


for _exp in [e for e in EXPERIMENTS.values() if e.per_model_verb]:

    rule:
        name:
            _exp.per_model_verb.replace("-", "_")
        input:
            unpack(model_inputs(_exp)),
        output:
            **model_outputs(_exp),
        log:
            f"results/logs/{_exp.name}/{RUN}.log",
        conda:
            ARST_ENV
        threads: EVAL["threads"]
        resources:
            gpu=EVAL["gpu"],
        params:
            verb=_exp.per_model_verb,
            args=evaluation_args(_exp),
        shell:
            logged("arst {params.verb} {params.args}")

    rule:
        name:
            f"{_exp.name}_summary"
        input:
            reads(_exp, "table"),
        output:
            csv=f"results/tables/{_exp.summary_table}.csv",
            md=f"results/tables/{_exp.summary_table}.md",
        log:
            f"results/logs/{_exp.name}_summary.log",
        conda:
            ARST_ENV
        params:
            verb=_exp.summary_verb,
        shell:
            logged("arst {params.verb} {input} --csv {output.csv} --md {output.md}")

    for _fig in _exp.figures:

        rule:
            name:
                f"plot_{_fig.name}"
            input:
                **{name: reads(_exp, name) for name in _fig.reads[1:]},
                # the first read's tables go on the command line; the others (images) only wait
                tables=reads(_exp, _fig.reads[0]),
            output:
                png=report(
                    f"results/figures/{_fig.name}.png",
                    caption=caption(_fig.caption),
                    category=_exp.category,
                    subcategory="Figures",
                ),
                pdf=f"results/figures/{_fig.name}.pdf",
            log:
                f"results/logs/plot/{_fig.name}.log",
            conda:
                ARST_ENV
            params:
                verb=f"plot-{_fig.name.replace('_', '-')}",
            shell:
                logged(
                    "arst {params.verb} {input.tables} --png {output.png} --pdf {output.pdf}"
                )


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
        ARST_ENV
    params:
        args=lambda w, input: " ".join(f"--{k} {v}" for k, v in input.items()),
    shell:
        logged("arst claims {params.args} --csv {output.csv} --md {output.md}")


# --- named targets: each experiment's summary and figures, under the name its module gives ----


for _target in dict.fromkeys(e.target for e in EXPERIMENTS.values() if e.target):

    rule:
        name:
            _target
        input:
            [
                path
                for e in EXPERIMENTS.values()
                if e.target == _target
                for path in experiment_files(e)
            ],


rule verdict:
    input:
        rules.claims.output,


TARGETS["compare"] = [
    path for e in EXPERIMENTS.values() if measured(e) for path in experiment_files(e)
] + ["results/tables/claims.md"]
