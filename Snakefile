# arst: Adjustable Real-Time Style Transfer, reproduced.
# `snakemake --cores N` builds every figure and table of the configured comparison.
import os

from snakemake.utils import min_version, validate

from arst.plan import read_config_file

min_version("9.0")


# Set here for every job, which inherits the environment (a SLURM job too, and it reads this
# file again). Set, not read: the `envvars:` directive asserts variables the user must provide.
# - ARST_SOURCE: under --sdm conda, envs/arst.post-deploy.sh installs this checkout into the
#   rules' environment; it runs from a copy in .snakemake/conda/ and learns where it is here.
# - TORCH_HOME: torch's cache, in the working directory (whatever the caller's is): fetch_vgg
#   downloads the loss network's ImageNet weights into it, and the jobs that build that network
#   read them from it offline.
TORCH_HOME = "resources/torch"
os.environ.update(ARST_SOURCE=workflow.basedir, TORCH_HOME=TORCH_HOME)


# The offline default, unless the command line names config files: those then replace it
# whole (Snakemake would otherwise merge them key by key into the default's lists of styles
# and images). It is read once first: for a broken YAML file Snakemake names neither the
# file nor the line.
if not workflow.overwrite_configfiles:
    read_config_file("config/config.yaml")

    configfile: "config/config.yaml"


validate(config, "workflow/schemas/config.schema.yaml")


report: "workflow/report/workflow.rst"


# The helpers first (functions only: `snakemake --lint` wants them apart from the rules), then
# the rules, by topic.
include: "workflow/rules/common.smk"
include: "workflow/rules/experiments.smk"


wildcard_constraints:
    impl=_alternatives(IMPLS),
    model=_alternatives(TRAINED),
    style=_alternatives(STYLES),
    seed=r"\d+",
    size=r"\d+",
    kind="styles|eval_content",


include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/compare.smk"
include: "workflow/rules/saddle.smk"
include: "workflow/rules/sweep.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        all_targets(),
