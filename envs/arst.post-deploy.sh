#!/usr/bin/env bash
# Snakemake runs this once in the environment it has just built from arst.yaml (a copy of this
# script, in .snakemake/conda/, from the working directory: no path here can be relative).
# It installs the checkout the workflow was read from, editable, so that jobs run that code
# as it is now: the Snakefile exports ARST_SOURCE, its own folder.
set -euo pipefail
: "${ARST_SOURCE:?is not set: run this through the workflow (snakemake --sdm conda), whose Snakefile sets it}"
python -m pip install --no-deps --editable "$ARST_SOURCE"
